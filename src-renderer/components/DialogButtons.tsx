// A dialog's button row: Cancel on the left, then any extra buttons (the wizard's Back) and the
// submit button on the right. Both disabled while the dialog's job runs.
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';

export interface DialogButtonsProps {
  readonly onCancel: () => void;
  readonly submitLabel: string;
  /** `primary` (default) or `danger` (deleting). */
  readonly submitTone?: 'primary' | 'danger';
  /** A job runs: Cancel and submit are disabled. */
  readonly busy?: boolean;
  /** Cancel stays usable while busy (saving settings can be walked away from). */
  readonly cancelWhileBusy?: boolean;
  /** Focus starts on Cancel (a destructive dialog). */
  readonly focusCancel?: boolean;
  readonly children?: ReactNode;
}

export function DialogButtons(p: DialogButtonsProps) {
  const { t } = useTranslation();
  const busy = p.busy ?? false;
  return (
    <div className="dialog-buttons">
      <button
        type="button"
        onClick={p.onCancel}
        disabled={busy && !p.cancelWhileBusy}
        {...(p.focusCancel ? { 'data-autofocus': true } : {})}
      >
        {t('common.cancel')}
      </button>
      <span className="spacer" />
      {p.children}
      <button type="submit" className={p.submitTone ?? 'primary'} disabled={busy}>
        {p.submitLabel}
      </button>
    </div>
  );
}
