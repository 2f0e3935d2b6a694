// Byte sizes as people read them, in binary units (KiB, MiB, GiB …) with at most one
// decimal: the one formatter of the CLI, the host report, messages and the renderer (memory
// sizes given in MiB too). Pure.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

export interface FormatBytesOptions {
  /**
   * Always one decimal above bytes ("40.0 KiB"), for messages that set two sizes side by
   * side. Default: a decimal only where it says something ("1.5 KiB", "64 GiB", "120 MiB").
   */
  readonly oneDecimal?: boolean;
}

/** `bytes` in the largest unit that keeps the number ≥ 1; '—' for a negative or non-finite count. */
export function formatBytes(bytes: number, options: FormatBytesOptions = {}): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '—';
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  if (u === 0) return `${Math.round(v)} B`;
  const whole = !options.oneDecimal && (v >= 100 || Number.isInteger(v));
  return `${whole ? String(Math.round(v)) : v.toFixed(1)} ${UNITS[u]}`;
}

/** A memory size given in MiB, as {@link formatBytes} writes it: "512 MiB", "4 GiB", "11.8 GiB". */
export function formatMiB(mib: number, options: FormatBytesOptions = {}): string {
  return formatBytes(mib * 1024 * 1024, options);
}
