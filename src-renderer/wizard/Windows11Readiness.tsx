// The Windows 11 readiness check: every requirement with met / not met, and for each unmet
// one what to do (in the VM's settings, or on the host). "Fix settings" applies what the VM controls.
import { useTranslation } from 'react-i18next';
import type { VmHostLimits } from '../../src-shared/contracts/host';
import type { HostInfo } from '../../src-shared/host-info';
import { formatMiB } from '../format/format-size';
import { meetWindows11, unmetRequirements, windows11Readiness, type VmDraft } from './vm-rules';

export interface Windows11ReadinessProps {
  readonly draft: VmDraft;
  readonly host: HostInfo | null;
  readonly limits: VmHostLimits | null;
  readonly checkDisk: boolean;
  readonly onFix?: (next: VmDraft) => void;
}

export function Windows11Readiness(p: Windows11ReadinessProps) {
  const { t } = useTranslation();
  const items = windows11Readiness(p.draft, p.host, p.limits, { checkDisk: p.checkDisk });
  const unmet = unmetRequirements(items);
  const ready = unmet.length === 0 && items.every((i) => i.status === 'met');
  return (
    <section className={`readiness ${unmet.length ? 'not-ready' : 'ready'}`} aria-labelledby="win11-ready-title">
      <h3 id="win11-ready-title">
        {unmet.length > 0
          ? t('readiness.titleUnmet', { count: unmet.length })
          : ready
            ? t('readiness.titleReady')
            : t('readiness.titleChecking')}
      </h3>
      <ul>
        {items.map((i) => {
          const values = {
            ...i.values,
            min: i.id === 'memory' ? formatMiB(Number(i.values?.min ?? 0)) : (i.values?.min ?? ''),
            max: i.id === 'memory' ? formatMiB(Number(i.values?.max ?? 0)) : (i.values?.max ?? ''),
          };
          return (
            <li key={i.id} className={`req req-${i.status}`} data-requirement={i.id}>
              <span className="req-mark" aria-hidden="true">
                {i.status === 'met' ? '✓' : i.status === 'unmet' ? '✗' : '…'}
              </span>
              <span className="req-text">
                <span className="visually-hidden">{t(`readiness.status.${i.status}`)}: </span>
                {t(`readiness.req.${i.id}`, values)}
                {i.status === 'unmet' && (
                  <span className="req-fix">
                    {t(`readiness.fix.${i.id}${i.note === 'host' ? 'Host' : ''}`, values)}
                  </span>
                )}
                {i.status === 'met' && i.note === 'slow' && <span className="req-fix">{t('readiness.slowSmm')}</span>}
              </span>
            </li>
          );
        })}
      </ul>
      {unmet.length > 0 && p.onFix && (
        <button type="button" onClick={() => p.onFix?.(meetWindows11(p.draft, p.limits))}>
          {t('readiness.fixSettings')}
        </button>
      )}
    </section>
  );
}
