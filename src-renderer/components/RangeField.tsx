// A number with a slider: the slider shows the host's range and its warning zone (e.g. more
// than half the host's RAM), the number field takes exact values — also out-of-range ones, so
// the refusal can be explained inline instead of silently clamped.
import { useId, useState, type ReactNode } from 'react';
import type { RangeLimits } from '../wizard/vm-rules';

export interface RangeFieldProps {
  readonly label: ReactNode;
  readonly value: number;
  readonly limits: RangeLimits;
  readonly unit: string;
  readonly onChange: (value: number) => void;
  readonly error?: ReactNode;
  readonly warning?: ReactNode;
  readonly hint?: ReactNode;
  readonly name: string;
  /** Labels under the slider: min, warning threshold and max (formatted by the caller). */
  readonly scale?: { readonly min: string; readonly warn?: string; readonly max: string };
}

export function RangeField(p: RangeFieldProps) {
  const id = useId();
  const [text, setText] = useState<string | null>(null);
  const r = p.limits;
  const span = Math.max(1, r.max - r.min);
  const warnPct = r.warnAbove === null ? 100 : Math.max(0, Math.min(100, ((r.warnAbove - r.min) / span) * 100));
  // The track: accent up to the warning threshold, amber beyond it.
  const track =
    r.warnAbove === null
      ? undefined
      : {
          background: `linear-gradient(to right, var(--track-ok) 0%, var(--track-ok) ${warnPct}%, var(--track-warn) ${warnPct}%, var(--track-warn) 100%)`,
        };
  const describedBy = [p.error ? `${id}-error` : null, p.warning ? `${id}-warning` : null, p.hint ? `${id}-hint` : null]
    .filter(Boolean)
    .join(' ');
  return (
    <div className={`range-field${p.error ? ' invalid' : p.warning ? ' warn' : ''}`}>
      <label htmlFor={`${id}-number`}>{p.label}</label>
      <div className="range-row">
        <input
          type="range"
          // The number field beside it is the accessible control (same value, exact input).
          aria-hidden="true"
          tabIndex={-1}
          min={r.min}
          max={r.max}
          step={r.step}
          value={Math.min(r.max, Math.max(r.min, p.value))}
          style={track}
          onChange={(e) => {
            setText(null);
            p.onChange(Number(e.target.value));
          }}
        />
        <input
          id={`${id}-number`}
          name={p.name}
          type="number"
          inputMode="numeric"
          min={r.min}
          step={r.step === 4 ? 1 : r.step}
          value={text ?? String(p.value)}
          aria-invalid={p.error ? true : undefined}
          aria-describedby={describedBy || undefined}
          onChange={(e) => {
            setText(e.target.value);
            const n = e.target.value.trim() === '' ? NaN : Number(e.target.value);
            p.onChange(n);
          }}
          onBlur={() => setText(null)}
        />
        <span className="unit">{p.unit}</span>
      </div>
      {p.scale && (
        <div className="range-scale" aria-hidden="true">
          <span>{p.scale.min}</span>
          {p.scale.warn && (
            <span className="range-warn-mark" style={{ left: `${warnPct}%` }}>
              {p.scale.warn}
            </span>
          )}
          <span>{p.scale.max}</span>
        </div>
      )}
      {p.hint && (
        <p id={`${id}-hint`} className="hint">
          {p.hint}
        </p>
      )}
      {p.error && (
        <p id={`${id}-error`} className="field-error" role="alert">
          {p.error}
        </p>
      )}
      {!p.error && p.warning && (
        <p id={`${id}-warning`} className="field-warning">
          {p.warning}
        </p>
      )}
    </div>
  );
}
