// Cloning a VM: a new name (checked like the wizard's), then a full copy with progress and
// a cancel button (the partial clone is removed by the library).
import { useMemo, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Dialog } from '../components/Dialog';
import { otherVmNames, useAppStore } from '../store/app-store';
import { isCancelled, messageOf } from '../store/store-errors';
import { problemText } from '../wizard/field-text';
import { nameProblem } from '../wizard/vm-rules';

export function CloneVmDialog({ vmId }: { readonly vmId: string }) {
  const { t } = useTranslation();
  const vms = useAppStore((s) => s.vms);
  const cloneVm = useAppStore((s) => s.cloneVm);
  const close = useAppStore((s) => s.closeDialog);
  const notify = useAppStore((s) => s.notify);
  const vm = vms.find((v) => v.id === vmId);
  const source = vm?.kind === 'ok' ? vm.name : vmId;
  const taken = useMemo(() => otherVmNames(vms), [vms]);
  const [name, setName] = useState(() => t('clone.defaultName', { name: source }));
  const [touched, setTouched] = useState(false);
  const [job, setJob] = useState<{ fraction: number; controller: AbortController } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const problem = nameProblem(name, taken);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setTouched(true);
    if (problem || job) return;
    const controller = new AbortController();
    setJob({ fraction: 0, controller });
    setError(null);
    try {
      await cloneVm(vmId, name, {
        signal: controller.signal,
        onProgress: (p) => setJob((j) => (j ? { ...j, fraction: p.fraction } : j)),
      });
      close();
      notify({ tone: 'info', key: 'clone.done', values: { name } });
    } catch (err) {
      setError(isCancelled(err) ? t('clone.cancelled') : t('errors.server', { message: messageOf(err) }));
    } finally {
      setJob(null);
    }
  }

  return (
    <Dialog title={t('clone.title', { name: source })} onClose={close} busy={job !== null}>
      <form onSubmit={(e) => void submit(e)} noValidate>
        <div className={`field${touched && problem ? ' invalid' : ''}`}>
          <label htmlFor="clone-name">{t('clone.name')}</label>
          <input
            id="clone-name"
            value={name}
            data-autofocus
            aria-invalid={touched && problem ? true : undefined}
            onChange={(e) => {
              setName(e.target.value);
              setTouched(true);
            }}
          />
          {touched && problem && (
            <p className="field-error" role="alert">
              {problemText(t, 'name', problem)}
            </p>
          )}
        </div>
        {job && (
          <div className="job" role="status">
            <span>{t('clone.copying')}</span>
            <progress max={1} value={job.fraction} aria-label={t('clone.copying')} />
            <button type="button" onClick={() => job.controller.abort()}>
              {t('common.cancel')}
            </button>
          </div>
        )}
        {error && (
          <p className="field-error" role="alert">
            {error}
          </p>
        )}
        <div className="dialog-buttons">
          <button type="button" onClick={close} disabled={job !== null}>
            {t('common.cancel')}
          </button>
          <span className="spacer" />
          <button type="submit" className="primary" disabled={job !== null}>
            {t('clone.confirm')}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
