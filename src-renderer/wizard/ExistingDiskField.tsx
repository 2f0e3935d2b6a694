// The wizard's disk choice: a new disk (the size slider) or an existing disk image — a path
// typed (a server path in the web console, confined there) or picked (desktop: the file's own
// path), inspected by `disks.inspect` to show its format and size, or why it cannot be used.
import { useCallback, useId, useRef, useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { DISK_FORMAT_LABEL, type DiskImageInfo } from '../../src-shared/contracts/disks';
import { needsImport } from '../../src-shared/disk-for-new-vm';
import { formatBytes } from '../../src-shared/format-bytes';
import { ErrorText } from '../components/ErrorText';
import { useAppStore } from '../store/app-store';
import { messageOf } from '../store/store-errors';
import { existingDiskProblem, NO_EXISTING_DISK, type DiskChoice, type ExistingDiskState } from './existing-disk';

/** The existing-disk field's state and its two actions (a new path; inspect it). */
export function useExistingDisk(): {
  state: ExistingDiskState;
  setPath: (path: string) => void;
  inspect: (path?: string) => Promise<DiskImageInfo | null>;
} {
  const services = useAppStore((s) => s.services);
  const [state, setState] = useState<ExistingDiskState>(NO_EXISTING_DISK);
  // The latest path: an inspect answering for an older one is dropped.
  const latest = useRef('');
  const setPath = useCallback((path: string) => {
    latest.current = path;
    setState({ path, info: null, error: null, inspecting: false });
  }, []);
  const inspect = useCallback(
    async (given?: string): Promise<DiskImageInfo | null> => {
      if (given !== undefined) latest.current = given;
      const path = latest.current.trim();
      if (!services || path === '') return null;
      setState({ path: latest.current, info: null, error: null, inspecting: true });
      try {
        const info = await services.disks.inspect(path);
        if (latest.current.trim() === path) setState((s) => ({ ...s, info, inspecting: false }));
        return info;
      } catch (err) {
        if (latest.current.trim() === path) setState((s) => ({ ...s, error: messageOf(err), inspecting: false }));
        return null;
      }
    },
    [services],
  );
  return { state, setPath, inspect };
}

export interface DiskChoiceFieldProps {
  /** The new disk's size field, shown under "Create a new disk". */
  readonly newDiskField: ReactNode;
  readonly choice: DiskChoice;
  readonly onChoice: (choice: DiskChoice) => void;
  readonly disk: ExistingDiskState;
  readonly onPath: (path: string) => void;
  readonly onInspect: (path?: string) => void;
  /** Show why the step cannot go on (after Next was pressed). */
  readonly showProblem: boolean;
  readonly disabled?: boolean;
}

export function DiskChoiceField(p: DiskChoiceFieldProps) {
  const { t } = useTranslation();
  const id = useId();
  const transport = useAppStore((s) => s.transport);
  const web = useAppStore((s) => s.transportKind === 'web');
  const fileInput = useRef<HTMLInputElement>(null);
  const [pickError, setPickError] = useState<string | null>(null);
  const info = p.disk.info;
  const problem = existingDiskProblem(p.disk);
  // Inspect's own error says it already; the other problems need their line.
  const problemShown = p.showProblem && problem !== null && !p.disk.error && !p.disk.inspecting;
  const described = [`${id}-hint`, problemShown ? `${id}-problem` : null].filter(Boolean).join(' ');

  function pick(file: File) {
    const path = transport?.pathOfFile?.(file) ?? '';
    if (path === '') {
      setPickError(t('wizard.existingDisk.noPath', { name: file.name }));
      return;
    }
    setPickError(null);
    p.onInspect(path);
  }

  return (
    <fieldset className="fields disk-choice" disabled={p.disabled}>
      <legend>{t('wizard.existingDisk.legend')}</legend>
      <div className="radio-row" role="radiogroup" aria-label={t('wizard.existingDisk.legend')}>
        {(['new', 'existing'] as const).map((c) => (
          <label key={c} className="radio">
            <input type="radio" name="diskChoice" value={c} checked={p.choice === c} onChange={() => p.onChoice(c)} />
            {t(`wizard.existingDisk.${c}`)}
          </label>
        ))}
      </div>
      {p.choice === 'new' && p.newDiskField}
      {p.choice === 'existing' && (
        <div className={`field${problemShown ? ' invalid' : ''}`}>
          <label htmlFor={`${id}-path`}>{t('wizard.existingDisk.path')}</label>
          <div className="iso-row">
            <input
              id={`${id}-path`}
              name="existingDisk"
              type="text"
              value={p.disk.path}
              spellCheck={false}
              autoComplete="off"
              aria-invalid={problemShown ? true : undefined}
              aria-describedby={described}
              onChange={(e) => {
                setPickError(null);
                p.onPath(e.target.value);
              }}
            />
            <button
              type="button"
              disabled={p.disk.inspecting || p.disk.path.trim() === ''}
              onClick={() => p.onInspect()}
            >
              {t('wizard.existingDisk.inspect')}
            </button>
            {transport?.pathOfFile && (
              <button type="button" onClick={() => fileInput.current?.click()}>
                {t('wizard.existingDisk.choose')}
              </button>
            )}
          </div>
          {transport?.pathOfFile && (
            <input
              ref={fileInput}
              type="file"
              accept=".qcow2,.vdi,.vmdk,.vhd,.vhdx,.img,.raw,.bin"
              hidden
              data-testid="wizard-disk-input"
              onChange={(e) => {
                const file = e.target.files?.[0];
                e.target.value = '';
                if (file) pick(file);
              }}
            />
          )}
          <p id={`${id}-hint`} className="hint">
            {t(web ? 'wizard.existingDisk.pathHintWeb' : 'wizard.existingDisk.pathHint')}
          </p>
          {problemShown && (
            <p id={`${id}-problem`} className="field-error" role="alert">
              {t(`wizard.existingDisk.problem.${problem}`)}
            </p>
          )}
          <ErrorText message={pickError} />
          {p.disk.inspecting && (
            <p className="muted" role="status">
              {t('wizard.existingDisk.inspecting')}
            </p>
          )}
          <ErrorText message={p.disk.error} fromServer />
          {info && (
            <section className="disk-inspection" aria-label={t('wizard.existingDisk.found')}>
              <dl className="summary">
                <dt>{t('wizard.existingDisk.format')}</dt>
                <dd>
                  {DISK_FORMAT_LABEL[info.format]}
                  {info.subformat ? ` (${info.subformat})` : ''}
                </dd>
                <dt>{t('wizard.existingDisk.virtualSize')}</dt>
                <dd>{formatBytes(info.virtualSizeBytes)}</dd>
              </dl>
              {info.importProblem ? (
                <ErrorText message={info.importProblem} fromServer />
              ) : (
                <p className="hint">
                  {needsImport(info)
                    ? t(info.format === 'qcow2' ? 'wizard.existingDisk.overlay' : 'wizard.existingDisk.willImport', {
                        format: DISK_FORMAT_LABEL[info.format],
                      })
                    : t('wizard.existingDisk.useAsIs')}
                </p>
              )}
            </section>
          )}
        </div>
      )}
    </fieldset>
  );
}
