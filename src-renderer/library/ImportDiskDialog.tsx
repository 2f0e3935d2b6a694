// Import a disk: a host path (and optionally the new disk's name), Inspect to see what the file
// holds (format, kind, sizes) and whether it can be imported, then Import — a job with progress
// and Cancel — which ends with the new qcow2 disk's path, ready to copy. Errors stay in place.
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { DISK_FORMAT_LABEL, DISK_NAME_PATTERN } from '../../src-shared/contracts/disks';
import { formatBytes } from '../../src-shared/format-bytes';
import { Dialog } from '../components/Dialog';
import { DialogButtons } from '../components/DialogButtons';
import { ErrorText } from '../components/ErrorText';
import { JobProgress } from '../components/JobProgress';
import { useAppActions, useAppStore } from '../store/app-store';

type CopyState = 'copied' | 'failed' | null;

export function ImportDiskDialog() {
  const { t } = useTranslation();
  const id = useId();
  const state = useAppStore((s) => s.diskImport);
  const web = useAppStore((s) => s.transportKind === 'web');
  const { closeDialog, inspectDiskImage, importDisk, cancelDiskImport, resetDiskImport } = useAppActions();
  const [path, setPath] = useState('');
  const [name, setName] = useState('');
  const [asRaw, setAsRaw] = useState(false);
  const [touched, setTouched] = useState(false);
  const [copy, setCopy] = useState<CopyState>(null);
  const resultRef = useRef<HTMLInputElement>(null);
  const pathRef = useRef<HTMLInputElement>(null);

  // A dialog opened afresh shows nothing of an earlier import.
  useEffect(() => resetDiskImport(), [resetDiskImport]);

  const result = state.result;
  const running = state.busy === 'import';
  const jobRef = useRef<HTMLDivElement>(null);
  const wasRunning = useRef(false);
  // Import disables the buttons: focus goes to the job's Cancel, then to the new disk's path
  // (or back to the path field when it failed or was cancelled).
  useEffect(() => {
    if (running) jobRef.current?.querySelector<HTMLElement>('button')?.focus();
    else if (wasRunning.current) (result ? resultRef : pathRef).current?.focus();
    wasRunning.current = running;
  }, [running, result]);
  const pathProblem = touched && path.trim() === '' ? t('disks.importDialog.pathMissing') : null;
  const nameProblem = name.trim() !== '' && !DISK_NAME_PATTERN.test(name.trim());
  const inspected = state.inspected;
  const offerRaw = inspected?.format === 'raw' && inspected.importProblem !== null;

  function close() {
    resetDiskImport();
    closeDialog();
  }

  function changePath(value: string) {
    setPath(value);
    setAsRaw(false);
    setCopy(null);
    // What was found is for the path it was found for.
    if (state.inspected || state.error || state.result || state.cancelled) resetDiskImport();
  }

  function inspect() {
    setTouched(true);
    if (path.trim() === '') {
      pathRef.current?.focus();
      return;
    }
    void inspectDiskImage(path.trim());
  }

  function submit(e: FormEvent) {
    e.preventDefault();
    setTouched(true);
    if (path.trim() === '' || nameProblem || state.busy) return;
    setCopy(null);
    void importDisk({
      path: path.trim(),
      name: name.trim(),
      ...(offerRaw && asRaw ? { sourceFormat: 'raw' as const } : {}),
    });
  }

  function another() {
    resetDiskImport();
    setPath('');
    setName('');
    setAsRaw(false);
    setTouched(false);
    setCopy(null);
    pathRef.current?.focus();
  }

  async function copyPath(text: string) {
    try {
      await navigator.clipboard.writeText(text);
      setCopy('copied');
    } catch {
      // No clipboard (an insecure page, a denied permission): the path is selected for Ctrl+C.
      resultRef.current?.select();
      setCopy('failed');
    }
  }

  const phase = state.progress?.phase === 'import' ? 'import' : 'check';

  return (
    <Dialog title={t('disks.importDialog.title')} onClose={close} busy={running}>
      <form onSubmit={submit} noValidate>
        <p className="hint">{t('disks.importDialog.intro')}</p>
        <div className={`field${pathProblem ? ' invalid' : ''}`}>
          <label htmlFor={`${id}-path`}>{t('disks.importDialog.path')}</label>
          <div className="iso-row">
            <input
              ref={pathRef}
              id={`${id}-path`}
              type="text"
              value={path}
              data-autofocus
              spellCheck={false}
              autoComplete="off"
              disabled={running}
              aria-invalid={pathProblem ? true : undefined}
              aria-describedby={`${id}-path-hint${pathProblem ? ` ${id}-path-problem` : ''}`}
              onChange={(e) => changePath(e.target.value)}
            />
            <button type="button" disabled={running} onClick={inspect}>
              {t('disks.importDialog.inspect')}
            </button>
          </div>
          <p id={`${id}-path-hint`} className="hint">
            {t(web ? 'disks.importDialog.pathHintWeb' : 'disks.importDialog.pathHint')}
          </p>
          {pathProblem && (
            <p id={`${id}-path-problem`} className="field-error" role="alert">
              {pathProblem}
            </p>
          )}
        </div>
        <div className={`field${nameProblem ? ' invalid' : ''}`}>
          <label htmlFor={`${id}-name`}>{t('disks.importDialog.name')}</label>
          <input
            id={`${id}-name`}
            type="text"
            value={name}
            spellCheck={false}
            autoComplete="off"
            maxLength={200}
            disabled={running}
            aria-invalid={nameProblem ? true : undefined}
            aria-describedby={`${id}-name-hint${nameProblem ? ` ${id}-name-problem` : ''}`}
            onChange={(e) => setName(e.target.value)}
          />
          <p id={`${id}-name-hint`} className="hint">
            {t('disks.importDialog.nameHint')}
          </p>
          {nameProblem && (
            <p id={`${id}-name-problem`} className="field-error" role="alert">
              {t('disks.importDialog.nameProblem')}
            </p>
          )}
        </div>

        {state.busy === 'inspect' && (
          <p className="muted" role="status">
            {t('disks.importDialog.inspecting')}
          </p>
        )}
        {inspected && (
          <section className="disk-inspection" aria-label={t('disks.importDialog.found')}>
            <dl className="summary">
              <dt>{t('disks.importDialog.format')}</dt>
              <dd>{DISK_FORMAT_LABEL[inspected.format]}</dd>
              {inspected.subformat && (
                <>
                  <dt>{t('disks.importDialog.subformat')}</dt>
                  <dd>{inspected.subformat}</dd>
                </>
              )}
              <dt>{t('disks.importDialog.virtualSize')}</dt>
              <dd>{formatBytes(inspected.virtualSizeBytes)}</dd>
              <dt>{t('disks.importDialog.actualSize')}</dt>
              <dd>{formatBytes(inspected.actualSizeBytes)}</dd>
              {inspected.backingFile && (
                <>
                  <dt>{t('disks.importDialog.backing')}</dt>
                  <dd className="path">{inspected.backingFile}</dd>
                </>
              )}
              {inspected.snapshots.length > 0 && (
                <>
                  <dt>{t('disks.importDialog.snapshotCount')}</dt>
                  <dd>{inspected.snapshots.join(', ')}</dd>
                </>
              )}
            </dl>
            {inspected.importProblem ? (
              <ErrorText message={inspected.importProblem} fromServer />
            ) : (
              <p className="hint">{t('disks.importDialog.canImport')}</p>
            )}
            {offerRaw && (
              <label className="check">
                <input
                  type="checkbox"
                  checked={asRaw}
                  disabled={running}
                  onChange={(e) => setAsRaw(e.target.checked)}
                />
                {t('disks.importDialog.asRaw')}
              </label>
            )}
          </section>
        )}

        <div ref={jobRef}>
          {running && state.progress && (
            <JobProgress
              label={t(`disks.importDialog.phase.${phase}`)}
              fraction={state.progress.fraction}
              onCancel={cancelDiskImport}
            />
          )}
        </div>
        {state.cancelled && (
          <p className="muted" role="status">
            {t('disks.importDialog.cancelled')}
          </p>
        )}
        <ErrorText message={state.error} fromServer />

        {result && (
          <div className="disk-import-result" role="status">
            <p>
              {t('disks.importDialog.done', {
                seconds: String(Math.round(result.seconds * 10) / 10),
                size: formatBytes(result.image.virtualSizeBytes),
              })}
            </p>
            {result.warnings.map((w) => (
              <p key={w} className="field-warning">
                {t('errors.serverWarning', { message: w })}
              </p>
            ))}
            <label htmlFor={`${id}-result`}>{t('disks.importDialog.newPath')}</label>
            <div className="iso-row">
              <input
                ref={resultRef}
                id={`${id}-result`}
                type="text"
                readOnly
                value={result.path}
                spellCheck={false}
                onFocus={(e) => e.target.select()}
              />
              <button type="button" onClick={() => void copyPath(result.path)}>
                {t('disks.importDialog.copy')}
              </button>
            </div>
            {copy && (
              <p className={copy === 'copied' ? 'hint' : 'field-warning'}>
                {t(copy === 'copied' ? 'disks.importDialog.copied' : 'disks.importDialog.copyFailed')}
              </p>
            )}
          </div>
        )}

        {result ? (
          <div className="dialog-buttons">
            <button type="button" onClick={another}>
              {t('disks.importDialog.another')}
            </button>
            <span className="spacer" />
            <button type="button" className="primary" onClick={close}>
              {t('common.close')}
            </button>
          </div>
        ) : (
          <DialogButtons
            onCancel={close}
            submitLabel={t('disks.importDialog.confirm')}
            busy={state.busy !== null}
            cancelWhileBusy={state.busy === 'inspect'}
          />
        )}
      </form>
    </Dialog>
  );
}
