// Notices (toasts): errors and confirmations that are not tied to one field. Announced to
// screen readers (role=alert for errors, status otherwise); each can be dismissed.
import { useTranslation } from 'react-i18next';
import { useAppStore } from '../store/app-store';

export function Notices() {
  const { t } = useTranslation();
  const notices = useAppStore((s) => s.notices);
  const dismiss = useAppStore((s) => s.dismissNotice);
  if (notices.length === 0) return null;
  return (
    <div className="notices">
      {notices.map((n) => (
        <div key={n.id} className={`notice notice-${n.tone}`} role={n.tone === 'error' ? 'alert' : 'status'}>
          <span>{t(n.key, { ...n.values })}</span>
          <button type="button" className="icon-button" aria-label={t('common.dismiss')} onClick={() => dismiss(n.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
