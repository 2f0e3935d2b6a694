// Cloning a VM: a new name (checked like the wizard's), then a full copy with progress and
// a cancel button (the partial clone is removed by the library) — or, for a powered-off VM, a
// linked clone that shares its disks and is made in a second.
import { useMemo, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Dialog } from '../components/Dialog';
import { DialogButtons } from '../components/DialogButtons';
import { ErrorText } from '../components/ErrorText';
import { JobProgress, useJob } from '../components/JobProgress';
import { otherVmNames, useAppActions, useAppStore } from '../store/app-store';
import { isCancelled, messageOf } from '../store/store-errors';
import { problemText } from '../wizard/field-text';
import { nameProblem } from '../wizard/vm-rules';

export function CloneVmDialog({ vmId }: { readonly vmId: string }) {
  const { t } = useTranslation();
  const vms = useAppStore((s) => s.vms);
  const { cloneVm, linkedCloneVm, closeDialog: close, notify } = useAppActions();
  const vm = vms.find((v) => v.id === vmId);
  const source = vm?.kind === 'ok' ? vm.name : vmId;
  // A linked clone freezes the source's disks as they are: only a powered-off VM's.
  const canLink = vm?.kind === 'ok' && vm.state === 'off';
  const [linkedChoice, setLinked] = useState(false);
  const linked = linkedChoice && canLink;
  const taken = useMemo(() => otherVmNames(vms), [vms]);
  const [name, setName] = useState(() => t('clone.defaultName', { name: source }));
  const [touched, setTouched] = useState(false);
  const { job, run } = useJob();
  const [error, setError] = useState<string | null>(null);
  const problem = nameProblem(name, taken);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setTouched(true);
    if (problem || job) return;
    setError(null);
    try {
      await run((options) => (linked ? linkedCloneVm(vmId, name, options) : cloneVm(vmId, name, options)));
      close();
      notify({ tone: 'info', key: linked ? 'clone.linkedDone' : 'clone.done', values: { name } });
    } catch (err) {
      setError(isCancelled(err) ? t('clone.cancelled') : t('errors.server', { message: messageOf(err) }));
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
        <label className="check clone-linked">
          <input
            type="checkbox"
            checked={linked}
            disabled={!canLink || job !== null}
            aria-describedby="clone-linked-hint"
            onChange={(e) => setLinked(e.target.checked)}
          />
          {t('clone.linked')}
        </label>
        <p id="clone-linked-hint" className="hint">
          {canLink ? t('clone.linkedHint', { name: source }) : t('clone.linkedOffOnly', { name: source })}
        </p>
        {job && (
          <JobProgress
            label={linked ? t('clone.linking') : t('clone.copying')}
            fraction={job.fraction}
            onCancel={job.cancel}
          />
        )}
        <ErrorText message={error} />
        <DialogButtons onCancel={close} submitLabel={t('clone.confirm')} busy={job !== null} />
      </form>
    </Dialog>
  );
}
