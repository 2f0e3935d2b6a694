// What the ISO detector found, in the user's language: the OS, how sure, the label, boot
// entries and each reason.
import { useTranslation } from 'react-i18next';
import type { IsoDetection } from '../../src-shared/contracts/media';
import { OsIcon } from '../components/OsIcon';

export function IsoDetectionSummary({ detection }: { readonly detection: IsoDetection }) {
  const { t } = useTranslation();
  const d = detection;
  const boot = [d.boot.bios ? 'BIOS' : null, d.boot.uefi ? 'UEFI' : null].filter(Boolean).join(' + ');
  return (
    <section className="detection" aria-label={t('detect.title')} data-detected-preset={d.preset}>
      <div className="detection-head">
        <OsIcon os={d.preset} size={32} />
        <div>
          <strong>{t('detect.detected', { os: t(`os.${d.preset}`) })}</strong>
          <div className="muted">
            {t(`detect.confidence.${d.confidence}`)}
            {d.label ? ` · ${t('detect.label', { label: d.label })}` : ''}
            {` · ${boot ? t('detect.boots', { how: boot }) : t('detect.noBoot')}`}
          </div>
          {d.osName && <div className="muted detection-name">{d.osName}</div>}
        </div>
      </div>
      <ul className="reasons">
        {d.reasons
          .filter((r) => !r.code.startsWith('boot-') && r.code !== 'no-boot')
          .map((r, i) => (
            <li key={i}>{t(`detect.reason.${r.code}`, r.params)}</li>
          ))}
      </ul>
    </section>
  );
}
