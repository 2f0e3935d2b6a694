// Deleting a VM asks first: its name, what goes, and whether its disks go too (kept in
// $MARU_HOME/orphaned-disks otherwise). Focus starts on Cancel.
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Dialog } from '../components/Dialog';
import { DialogButtons } from '../components/DialogButtons';
import { ErrorText } from '../components/ErrorText';
import { formatBytes } from '../../src-shared/format-bytes';
import { useAppActions, useAppStore } from '../store/app-store';
import { messageOf } from '../store/store-errors';

export function DeleteVmDialog({ vmId }: { readonly vmId: string }) {
  const { t } = useTranslation();
  const vm = useAppStore((s) => s.vms.find((v) => v.id === vmId));
  const details = useAppStore((s) => (s.details?.config.id === vmId ? s.details : null));
  const { deleteVm, closeDialog: close, notify } = useAppActions();
  const [deleteDisks, setDeleteDisks] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const name = vm?.kind === 'ok' ? vm.name : vmId;
  const diskBytes = details?.disks.reduce((n, d) => n + (d.allocatedBytes ?? 0), 0) ?? null;

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    try {
      await deleteVm(vmId, deleteDisks);
      close();
      notify({ tone: 'info', key: 'delete.done', values: { name } });
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Dialog title={t('delete.title', { name })} onClose={close} className="confirm" busy={busy}>
      <form onSubmit={(e) => void submit(e)}>
        <p>{t('delete.question', { name })}</p>
        <label className="check">
          <input type="checkbox" checked={deleteDisks} onChange={(e) => setDeleteDisks(e.target.checked)} />
          {t('delete.disksToo')}
          {diskBytes !== null && diskBytes > 0 && <span className="muted"> ({formatBytes(diskBytes)})</span>}
        </label>
        <p className="hint">{deleteDisks ? t('delete.disksGone') : t('delete.disksKept')}</p>
        <ErrorText message={error} fromServer />
        <DialogButtons onCancel={close} submitLabel={t('delete.confirm')} submitTone="danger" busy={busy} focusCancel />
      </form>
    </Dialog>
  );
}
