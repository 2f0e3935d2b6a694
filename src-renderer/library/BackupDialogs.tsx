// Export… and Import…: one VM to one archive file (a path, prefilled with the backups folder;
// a running VM gets a live snapshot first) and back (a path and an optional name, or restored
// over a broken VM) — jobs with progress and Cancel; the outcome or the server's reason in place.
import { useId, useMemo, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import type { VmExportOutcome } from '../store/backup-slice';
import { formatBytes } from '../../src-shared/format-bytes';
import { Dialog } from '../components/Dialog';
import { DialogButtons } from '../components/DialogButtons';
import { ErrorText } from '../components/ErrorText';
import { JobProgress, useJob } from '../components/JobProgress';
import { defaultArchivePath } from '../store/backup-slice';
import { otherVmNames, useAppActions, useAppStore } from '../store/app-store';
import { isCancelled, messageOf } from '../store/store-errors';
import { problemText } from '../wizard/field-text';
import { nameProblem } from '../wizard/vm-rules';

const EXPORT_PHASES = ['snapshot', 'export'] as const;
const IMPORT_PHASES = ['check', 'import', 'register'] as const;

function phaseOf<P extends string>(phases: readonly P[], phase: string | undefined): P {
  return phases.find((p) => p === phase) ?? phases[0]!;
}

export function ExportVmDialog({ vmId }: { readonly vmId: string }) {
  const { t } = useTranslation();
  const id = useId();
  const vm = useAppStore((s) => s.vms.find((v) => v.id === vmId));
  const web = useAppStore((s) => s.transportKind === 'web');
  const { exportVm, closeDialog: close } = useAppActions();
  const name = vm?.kind === 'ok' ? vm.name : vmId;
  const [path, setPath] = useState(() => (vm ? defaultArchivePath(vm.folder, name) : ''));
  const [touched, setTouched] = useState(false);
  const { job, run } = useJob();
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<VmExportOutcome | null>(null);
  const running = vm?.kind === 'ok' && (vm.state === 'running' || vm.state === 'paused');
  const pathProblem = touched && path.trim() === '' ? t('backup.pathMissing') : null;

  async function submit(e: FormEvent) {
    e.preventDefault();
    setTouched(true);
    if (path.trim() === '' || job) return;
    setError(null);
    setResult(null);
    try {
      setResult(await run((options) => exportVm(vmId, path.trim(), options)));
    } catch (err) {
      setError(isCancelled(err) ? t('backup.export.cancelled') : t('errors.server', { message: messageOf(err) }));
    }
  }

  return (
    <Dialog title={t('backup.export.title', { name })} onClose={close} busy={job !== null}>
      <form onSubmit={(e) => void submit(e)} noValidate>
        <p className="hint">{t('backup.export.intro')}</p>
        <div className={`field${pathProblem ? ' invalid' : ''}`}>
          <label htmlFor={`${id}-path`}>{t('backup.export.path')}</label>
          <input
            id={`${id}-path`}
            type="text"
            value={path}
            data-autofocus
            spellCheck={false}
            autoComplete="off"
            disabled={job !== null || result !== null}
            aria-invalid={pathProblem ? true : undefined}
            aria-describedby={`${id}-path-hint`}
            onChange={(e) => setPath(e.target.value)}
          />
          <p id={`${id}-path-hint`} className="hint">
            {t(web ? 'backup.export.pathHintWeb' : 'backup.export.pathHint')}
          </p>
          {pathProblem && (
            <p className="field-error" role="alert">
              {pathProblem}
            </p>
          )}
        </div>
        {running && <p className="field-warning">{t('backup.export.running')}</p>}
        {job && (
          <JobProgress
            label={t(`backup.phase.${phaseOf(EXPORT_PHASES, job.phase)}`)}
            fraction={job.fraction}
            onCancel={job.cancel}
          />
        )}
        <ErrorText message={error} />
        {result && (
          <div role="status">
            <p>
              {t('backup.export.done', {
                path: result.path,
                size: formatBytes(result.bytes),
                seconds: String(Math.round(result.seconds * 10) / 10),
              })}
            </p>
            {result.warnings.map((w) => (
              <p key={w} className="field-warning">
                {t('errors.serverWarning', { message: w })}
              </p>
            ))}
          </div>
        )}
        {result ? (
          <div className="dialog-buttons">
            <span className="spacer" />
            <button type="button" className="primary" onClick={close}>
              {t('common.close')}
            </button>
          </div>
        ) : (
          <DialogButtons onCancel={close} submitLabel={t('backup.export.confirm')} busy={job !== null} />
        )}
      </form>
    </Dialog>
  );
}

export function ImportVmDialog({ replaceId }: { readonly replaceId: string | null }) {
  const { t } = useTranslation();
  const id = useId();
  const vms = useAppStore((s) => s.vms);
  const { importVm, closeDialog: close, notify } = useAppActions();
  const replaced = replaceId ? vms.find((v) => v.id === replaceId) : undefined;
  const replacedLabel = replaced?.kind === 'ok' ? replaced.name : (replaceId ?? '');
  const taken = useMemo(() => otherVmNames(vms, replaceId ?? undefined), [vms, replaceId]);
  const [path, setPath] = useState('');
  const [name, setName] = useState('');
  const [touched, setTouched] = useState(false);
  const { job, run } = useJob();
  const [error, setError] = useState<string | null>(null);
  const pathProblem = touched && path.trim() === '' ? t('backup.pathMissing') : null;
  const problem = name.trim() === '' ? null : nameProblem(name.trim(), taken);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setTouched(true);
    if (path.trim() === '' || problem || job) return;
    setError(null);
    try {
      const r = await run((options) => importVm({ path, name, replaceId }, options));
      close();
      notify({
        tone: 'info',
        key: r.replaced ? 'backup.import.restored' : 'backup.import.done',
        values: { name: r.name },
      });
      for (const w of r.warnings) notify({ tone: 'warning', key: 'errors.serverWarning', values: { message: w } });
    } catch (err) {
      setError(isCancelled(err) ? t('backup.import.cancelled') : t('errors.server', { message: messageOf(err) }));
    }
  }

  return (
    <Dialog
      title={replaceId ? t('backup.import.restoreTitle', { name: replacedLabel }) : t('backup.import.title')}
      onClose={close}
      busy={job !== null}
    >
      <form onSubmit={(e) => void submit(e)} noValidate>
        <p className="hint">
          {replaceId ? t('backup.import.restoreIntro', { name: replacedLabel }) : t('backup.import.intro')}
        </p>
        <div className={`field${pathProblem ? ' invalid' : ''}`}>
          <label htmlFor={`${id}-path`}>{t('backup.import.path')}</label>
          <input
            id={`${id}-path`}
            type="text"
            value={path}
            data-autofocus
            spellCheck={false}
            autoComplete="off"
            disabled={job !== null}
            aria-invalid={pathProblem ? true : undefined}
            onChange={(e) => setPath(e.target.value)}
          />
          {pathProblem && (
            <p className="field-error" role="alert">
              {pathProblem}
            </p>
          )}
        </div>
        <div className={`field${touched && problem ? ' invalid' : ''}`}>
          <label htmlFor={`${id}-name`}>{t('backup.import.name')}</label>
          <input
            id={`${id}-name`}
            type="text"
            value={name}
            spellCheck={false}
            autoComplete="off"
            disabled={job !== null}
            aria-describedby={`${id}-name-hint`}
            aria-invalid={touched && problem ? true : undefined}
            onChange={(e) => setName(e.target.value)}
          />
          <p id={`${id}-name-hint`} className="hint">
            {t(replaceId ? 'backup.import.nameHintRestore' : 'backup.import.nameHint')}
          </p>
          {touched && problem && (
            <p className="field-error" role="alert">
              {problemText(t, 'name', problem)}
            </p>
          )}
        </div>
        {job && (
          <JobProgress
            label={t(`backup.phase.${phaseOf(IMPORT_PHASES, job.phase)}`)}
            fraction={job.fraction}
            onCancel={job.cancel}
          />
        )}
        <ErrorText message={error} />
        <DialogButtons
          onCancel={close}
          submitLabel={t(replaceId ? 'backup.import.restoreConfirm' : 'backup.import.confirm')}
          busy={job !== null}
        />
      </form>
    </Dialog>
  );
}
