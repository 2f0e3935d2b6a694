// CPU, memory and (new VMs) disk size with the host's limits, and the engine choice with the
// reason it resolves the way it does. Shared by the wizard and the settings dialog.
import { useTranslation } from 'react-i18next';
import { useId, type ReactNode } from 'react';
import type { VmHostLimits } from '../../src-shared/contracts/host';
import { V86_MAX_MEMORY_MIB } from '../../src-shared/engine-choice';
import type { HostInfo } from '../../src-shared/host-info';
import { ErrorText } from '../components/ErrorText';
import { RangeField } from '../components/RangeField';
import { formatMiB } from '../format/format-size';
import { problemText } from './field-text';
import {
  cpuLimits,
  diskLimits,
  explainEngine,
  memoryLimits,
  memoryWarning,
  type DraftProblems,
  type EngineChoice,
  type VmDraft,
} from './vm-rules';

export interface HardwareFieldsProps {
  readonly draft: VmDraft;
  readonly limits: VmHostLimits | null;
  readonly host: HostInfo | null;
  readonly problems: DraftProblems;
  readonly onChange: (patch: Partial<VmDraft>) => void;
  readonly showDisk: boolean;
  /** The new VM's disk choice (new or existing), given the disk size field (false without showDisk) to place. */
  readonly diskChoice?: (newDiskField: ReactNode) => ReactNode;
  readonly disabled?: boolean;
}

const FALLBACK: VmHostLimits = {
  cores: 1,
  totalMemoryMiB: 1024,
  maxVmMemoryMiB: 256,
  reserveMiB: 1024,
  minVmMemoryMiB: 4,
  v86MaxMemoryMiB: V86_MAX_MEMORY_MIB,
};

export function EngineField(p: Pick<HardwareFieldsProps, 'draft' | 'host' | 'limits' | 'onChange' | 'disabled'>) {
  const { t } = useTranslation();
  const id = useId();
  const why = explainEngine(p.draft, p.host);
  return (
    <div className="field">
      <label htmlFor={id}>{t('wizard.engine')}</label>
      <select
        id={id}
        name="engine"
        value={p.draft.engine}
        disabled={p.disabled}
        aria-describedby={`${id}-why`}
        onChange={(e) => p.onChange({ engine: e.target.value as EngineChoice })}
      >
        <option value="auto">{t('wizard.engineAuto')}</option>
        <option value="qemu">QEMU</option>
        <option value="v86">v86</option>
      </select>
      <p id={`${id}-why`} className={why.blocking ? 'field-error' : 'hint'} role={why.blocking ? 'alert' : undefined}>
        {t(`wizard.engineWhy.${why.reason}`, why.values)}
      </p>
      {why.warn64 && <p className="field-warning">{t('wizard.engine64bit')}</p>}
    </div>
  );
}

export function HardwareFields(p: HardwareFieldsProps) {
  const { t } = useTranslation();
  const limits = p.limits ?? FALLBACK;
  const mem = memoryLimits(limits, p.draft.engine);
  const cpu = cpuLimits(limits, p.draft.engine);
  const diskField = p.showDisk && (
    <RangeField
      name="diskGiB"
      label={t('wizard.disk')}
      value={p.draft.diskGiB}
      limits={diskLimits()}
      unit="GiB"
      onChange={(diskGiB) => p.onChange({ diskGiB })}
      error={problemText(t, 'diskGiB', p.problems.diskGiB)}
      hint={p.draft.diskGiB === 0 ? t('wizard.noDisk') : t('wizard.diskHint')}
      scale={{ min: '0', max: `${diskLimits().max} GiB` }}
    />
  );
  return (
    <fieldset className="fields" disabled={p.disabled}>
      <RangeField
        name="cpus"
        label={t('wizard.cpus')}
        value={p.draft.cpus}
        limits={cpu}
        unit={t('wizard.cpuUnit')}
        onChange={(cpus) => p.onChange({ cpus })}
        error={problemText(t, 'cpus', p.problems.cpus)}
        scale={{ min: '1', max: String(cpu.max) }}
        hint={p.limits ? t('wizard.cpusHint', { cores: limits.cores }) : undefined}
      />
      <RangeField
        name="memoryMiB"
        label={t('wizard.memory')}
        value={p.draft.memoryMiB}
        limits={mem}
        unit="MiB"
        onChange={(memoryMiB) => p.onChange({ memoryMiB })}
        error={problemText(t, 'memoryMiB', p.problems.memoryMiB)}
        warning={
          memoryWarning(p.draft, p.limits)
            ? t('wizard.memoryWarning', { total: formatMiB(limits.totalMemoryMiB) })
            : undefined
        }
        scale={{
          min: formatMiB(mem.min),
          ...(mem.warnAbove !== null ? { warn: formatMiB(mem.warnAbove) } : {}),
          max: formatMiB(mem.max),
        }}
        hint={
          p.limits
            ? t('wizard.memoryHint', {
                total: formatMiB(limits.totalMemoryMiB),
                max: formatMiB(mem.max),
                reserve: formatMiB(limits.reserveMiB),
              })
            : undefined
        }
      />
      {p.diskChoice ? p.diskChoice(diskField) : diskField}
      <EngineField draft={p.draft} host={p.host} limits={p.limits} onChange={p.onChange} disabled={p.disabled} />
    </fieldset>
  );
}

export interface FirmwareFieldsProps {
  readonly draft: VmDraft;
  readonly problems: DraftProblems;
  readonly onChange: (patch: Partial<VmDraft>) => void;
  readonly disabled?: boolean;
}

export function FirmwareFields(p: FirmwareFieldsProps) {
  const { t } = useTranslation();
  const d = p.draft;
  return (
    <fieldset className="fields" disabled={p.disabled}>
      <legend>{t('wizard.firmware')}</legend>
      <div className="radio-row" role="radiogroup" aria-label={t('wizard.firmware')}>
        {(['bios', 'uefi'] as const).map((fw) => (
          <label key={fw} className="radio">
            <input
              type="radio"
              name="firmware"
              value={fw}
              checked={d.firmware === fw}
              onChange={() => p.onChange(fw === 'bios' ? { firmware: fw, secureBoot: false } : { firmware: fw })}
            />
            {fw === 'bios' ? 'BIOS' : 'UEFI'}
          </label>
        ))}
      </div>
      <ErrorText message={problemText(t, 'firmware', p.problems.firmware)} />
      <label className="check">
        <input
          type="checkbox"
          name="secureBoot"
          checked={d.secureBoot}
          disabled={d.firmware !== 'uefi'}
          onChange={(e) => p.onChange({ secureBoot: e.target.checked })}
        />
        {t('wizard.secureBoot')}
        {d.firmware !== 'uefi' && <span className="hint"> — {t('wizard.secureBootNeedsUefi')}</span>}
      </label>
      <ErrorText message={problemText(t, 'secureBoot', p.problems.secureBoot)} />
      <label className="check">
        <input type="checkbox" name="tpm" checked={d.tpm} onChange={(e) => p.onChange({ tpm: e.target.checked })} />
        {t('wizard.tpm')}
      </label>
      <ErrorText message={problemText(t, 'tpm', p.problems.tpm)} />
    </fieldset>
  );
}
