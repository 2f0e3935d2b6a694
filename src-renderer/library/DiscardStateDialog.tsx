// Discarding a VM's saved state asks first: the next start boots afresh and what ran in the
// guest is lost. Focus starts on Cancel; the discard itself runs in the store (a notice says how it went).
import type { FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { DialogButtons } from '../components/DialogButtons';
import { PortalDialog } from '../components/PortalDialog';

export interface DiscardStateDialogProps {
  readonly vmName: string;
  readonly onDiscard: () => void;
  readonly onClose: () => void;
}

export function DiscardStateDialog({ vmName, onDiscard, onClose }: DiscardStateDialogProps) {
  const { t } = useTranslation();
  function submit(e: FormEvent) {
    e.preventDefault();
    onDiscard();
  }
  return (
    <PortalDialog title={t('discardState.title', { name: vmName })} onClose={onClose} className="confirm">
      <form onSubmit={submit}>
        <p>{t('discardState.text', { name: vmName })}</p>
        <DialogButtons onCancel={onClose} submitLabel={t('discardState.confirm')} submitTone="danger" focusCancel />
      </form>
    </PortalDialog>
  );
}
