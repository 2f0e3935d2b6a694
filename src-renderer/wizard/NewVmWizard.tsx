// The new-VM wizard: OS preset → name and ISO → CPU / memory / disk (a new one, or an existing
// image: imported first when it is not qcow2) → firmware → summary. Each step validates inline
// (the same rules the library applies); creating the disk (or importing one) is a job with
// progress and a cancel button; the library's own errors are shown too.
import { useMemo, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import type { CreateResult } from '../../src-shared/contracts/library';
import type { IsoDetection } from '../../src-shared/contracts/media';
import { AppError } from '../../src-shared/errors';
import type { PresetId } from '../../src-shared/os-presets';
import { Dialog } from '../components/Dialog';
import { DialogButtons } from '../components/DialogButtons';
import { ErrorText } from '../components/ErrorText';
import { JobProgress, useJob } from '../components/JobProgress';
import { formatMiB } from '../format/format-size';
import { DISK_FORMAT_LABEL } from '../../src-shared/contracts/disks';
import { needsImport } from '../../src-shared/disk-for-new-vm';
import { formatBytes } from '../../src-shared/format-bytes';
import { otherVmNames, useAppActions, useAppStore } from '../store/app-store';
import { isCancelled, messageOf } from '../store/store-errors';
import type { WizardPrefill } from '../store/ui-slice';
import { problemText } from './field-text';
import { FirmwareFields, HardwareFields } from './HardwareFields';
import { IsoDetectionSummary } from './IsoDetectionSummary';
import { IsoField } from './IsoField';
import { OsPresetPicker } from './OsPresetPicker';
import { explainEngine, presetDraft, validateDraft, type DraftField, type VmDraft } from './vm-rules';
import { DiskChoiceField, useExistingDisk } from './ExistingDiskField';
import { createAroundExistingDisk, existingDiskProblem, type DiskChoice, type ImportedCopy } from './existing-disk';
import { Windows11Readiness } from './Windows11Readiness';

const STEPS = ['os', 'name', 'hardware', 'firmware', 'summary'] as const;
type Step = (typeof STEPS)[number];

/** Which fields each step owns (Next is refused while one of them has a problem). */
const STEP_FIELDS: Record<Step, readonly DraftField[]> = {
  os: [],
  name: ['name'],
  hardware: ['cpus', 'memoryMiB', 'diskGiB'],
  firmware: ['firmware', 'secureBoot', 'tpm'],
  summary: [],
};

/** A name not yet taken: "Windows 11", "Windows 11 (2)", … */
function freeName(base: string, taken: readonly string[]): string {
  const lower = new Set(taken.map((n) => n.toLowerCase()));
  if (!lower.has(base.toLowerCase())) return base;
  for (let i = 2; ; i++) if (!lower.has(`${base} (${i})`.toLowerCase())) return `${base} (${i})`;
}

/** The job's phase as the wizard names it: a new disk, an import's check and copy, the settings. */
function phaseKey(phase: string): 'disk' | 'config' | 'check' | 'import' {
  return phase === 'config' || phase === 'check' || phase === 'import' ? phase : 'disk';
}

/** Which step a library error belongs to, from its code and details. */
function stepOfServerError(err: AppError): Step {
  if (err.code === 'ALREADY_EXISTS') return 'name';
  if (err.code === 'HOST_LIMIT') return 'hardware';
  if (/ISO/i.test(err.message) && (err.code === 'NOT_FOUND' || err.code === 'INVALID_ARGUMENT')) return 'name';
  return 'summary';
}

export function NewVmWizard({ prefill }: { readonly prefill: WizardPrefill | null }) {
  const { t } = useTranslation();
  const limits = useAppStore((s) => s.limits);
  const host = useAppStore((s) => s.hostInfo);
  const vms = useAppStore((s) => s.vms);
  const services = useAppStore((s) => s.services);
  const { createVm, closeDialog: close, notify } = useAppActions();
  const taken = useMemo(() => otherVmNames(vms), [vms]);

  const [detection, setDetection] = useState<IsoDetection | null>(prefill?.detection ?? null);
  const [draft, setDraft] = useState<VmDraft>(() =>
    presetDraft(prefill?.detection?.preset ?? 'windows11', limits, '', prefill?.iso ?? null),
  );
  const [step, setStep] = useState<Step>('os');
  const [shown, setShown] = useState<ReadonlySet<DraftField>>(new Set());
  const [serverError, setServerError] = useState<{ step: Step; message: string } | null>(null);
  const { job, run } = useJob();
  const [diskChoice, setDiskChoice] = useState<DiskChoice>('new');
  const existingDisk = useExistingDisk();
  const [diskProblemShown, setDiskProblemShown] = useState(false);
  // A copy imported for a create that then failed: Create again uses it.
  const [importedCopy, setImportedCopy] = useState<ImportedCopy | null>(null);
  const newDisk = diskChoice === 'new';

  const problems = validateDraft(draft, { limits, existingNames: taken, checkDisk: newDisk });
  const visible = Object.fromEntries(
    Object.entries(problems).filter(([k]) => shown.has(k as DraftField)),
  ) as typeof problems;
  const engine = explainEngine(draft, host);
  const index = STEPS.indexOf(step);

  function change(patch: Partial<VmDraft>) {
    setDraft((d) => ({ ...d, ...patch }));
    setShown((s) => new Set([...s, ...(Object.keys(patch) as DraftField[])]));
    setServerError(null);
  }

  function choosePreset(os: PresetId) {
    setDraft((d) => presetDraft(os, limits, d.name, d.iso));
  }

  function go(next: Step) {
    if (next === 'name' && draft.name === '') {
      setDraft((d) => ({ ...d, name: freeName(t(`os.${d.os}`), taken) }));
    }
    setStep(next);
  }

  /** The existing disk can be used (inspected, not refused); inspects it first when it was not. */
  async function existingDiskReady(): Promise<boolean> {
    setDiskProblemShown(true);
    const problem = existingDiskProblem(existingDisk.state);
    if (problem === 'inspect') {
      const info = existingDisk.state.inspecting ? null : await existingDisk.inspect();
      return info !== null && info.importProblem === null;
    }
    return problem === null;
  }

  async function nextStep() {
    const fields = STEP_FIELDS[step];
    setShown((s) => new Set([...s, ...fields]));
    if (fields.some((f) => problems[f])) return;
    if (step === 'hardware' && engine.blocking) return;
    if (step === 'hardware' && !newDisk && !(await existingDiskReady())) return;
    const next = STEPS[index + 1];
    if (next) go(next);
  }

  async function create() {
    const all = Object.keys(problems) as DraftField[];
    if (all.length > 0) {
      setShown(new Set(all));
      const first = STEPS.find((s) => STEP_FIELDS[s].some((f) => problems[f]));
      if (first) setStep(first);
      return;
    }
    const disk = existingDisk.state;
    if (!newDisk && (existingDiskProblem(disk) !== null || !services)) {
      setDiskProblemShown(true);
      setStep('hardware');
      return;
    }
    setServerError(null);
    let copy = importedCopy;
    try {
      const settings = {
        name: draft.name,
        os: draft.os,
        engine: draft.engine,
        cpus: draft.cpus,
        memoryMiB: draft.memoryMiB,
        firmware: draft.firmware,
        secureBoot: draft.secureBoot,
        tpm: draft.tpm,
        iso: draft.iso,
      };
      const result: CreateResult = await run((options) =>
        newDisk || !disk.info || !services
          ? createVm({ ...settings, diskGiB: draft.diskGiB }, options)
          : createAroundExistingDisk({ disks: services.disks, createVm }, settings, disk.info, copy, options, (c) => {
              copy = c;
              setImportedCopy(c);
            }),
      );
      close();
      notify({ tone: 'info', key: 'wizard.created', values: { name: result.vm.config.name } });
      for (const w of result.warnings) notify({ tone: 'warning', key: 'errors.serverWarning', values: { message: w } });
    } catch (err) {
      // A copy made for this VM stays in Maru's disks folder: say where (Create again uses it).
      const kept = !newDisk && copy ? ` ${t('wizard.existingDisk.copyKept', { path: copy.path })}` : '';
      if (isCancelled(err)) {
        setServerError({ step: 'summary', message: kept ? t('wizard.cancelledKept') + kept : t('wizard.cancelled') });
      } else {
        const aboutDisk =
          !newDisk && [disk.path.trim(), disk.info?.path, copy?.path].some((p) => p && messageOf(err).includes(p));
        const s = aboutDisk ? 'hardware' : err instanceof AppError ? stepOfServerError(err) : 'summary';
        setServerError({ step: s, message: messageOf(err) + kept });
      }
    }
  }

  function submit(e: FormEvent) {
    e.preventDefault();
    if (job) return;
    if (step === 'summary') void create();
    else void nextStep();
  }

  const serverErrorHere = serverError && (serverError.step === step || step === 'summary') && (
    <ErrorText message={serverError.message} className="field-error server-error" fromServer />
  );

  return (
    <Dialog title={t('wizard.title')} onClose={close} className="wizard" busy={job !== null}>
      <ol className="steps">
        {STEPS.map((s, i) => (
          <li key={s} aria-current={s === step ? 'step' : undefined} className={i < index ? 'done' : ''}>
            {t(`wizard.step.${s}`)}
          </li>
        ))}
      </ol>
      <form onSubmit={submit} noValidate>
        <div className="step-body">
          {step === 'os' && (
            <>
              {detection && <IsoDetectionSummary detection={detection} />}
              <OsPresetPicker value={draft.os} onChange={choosePreset} />
              <p className="hint">{t('wizard.presetHint')}</p>
            </>
          )}
          {step === 'name' && (
            <>
              <div className={`field${visible.name ? ' invalid' : ''}`}>
                <label htmlFor="wizard-name">{t('wizard.name')}</label>
                <input
                  id="wizard-name"
                  name="name"
                  type="text"
                  value={draft.name}
                  maxLength={200}
                  data-autofocus
                  autoComplete="off"
                  aria-invalid={visible.name ? true : undefined}
                  aria-describedby={visible.name ? 'wizard-name-error' : undefined}
                  onChange={(e) => change({ name: e.target.value })}
                />
                {visible.name && (
                  <p id="wizard-name-error" className="field-error" role="alert">
                    {problemText(t, 'name', visible.name)}
                  </p>
                )}
              </div>
              <IsoField
                value={draft.iso}
                detection={detection}
                onChange={(iso, d) => {
                  setDetection(d);
                  change({ iso });
                  if (d && d.preset !== draft.os) choosePreset(d.preset);
                }}
              />
            </>
          )}
          {step === 'hardware' && (
            <HardwareFields
              draft={draft}
              limits={limits}
              host={host}
              problems={visible}
              onChange={change}
              showDisk
              diskChoice={(newDiskField) => (
                <DiskChoiceField
                  newDiskField={newDiskField}
                  choice={diskChoice}
                  onChoice={(c) => {
                    setDiskChoice(c);
                    setServerError(null);
                  }}
                  disk={existingDisk.state}
                  onPath={(p) => {
                    existingDisk.setPath(p);
                    setServerError(null);
                  }}
                  onInspect={(p) => void existingDisk.inspect(p)}
                  showProblem={diskProblemShown}
                />
              )}
            />
          )}
          {step === 'firmware' && (
            <>
              <FirmwareFields draft={draft} problems={visible} onChange={change} />
              {draft.os === 'windows11' && (
                <Windows11Readiness
                  draft={draft}
                  host={host}
                  limits={limits}
                  checkDisk={newDisk}
                  onFix={(d) => change(d)}
                />
              )}
            </>
          )}
          {step === 'summary' && (
            <>
              <dl className="summary">
                <dt>{t('wizard.os')}</dt>
                <dd>{t(`os.${draft.os}`)}</dd>
                <dt>{t('wizard.name')}</dt>
                <dd>{draft.name}</dd>
                <dt>{t('iso.label')}</dt>
                <dd>{draft.iso ?? t('iso.none')}</dd>
                <dt>{t('wizard.cpus')}</dt>
                <dd>{draft.cpus}</dd>
                <dt>{t('wizard.memory')}</dt>
                <dd>{formatMiB(draft.memoryMiB)}</dd>
                <dt>{t('wizard.disk')}</dt>
                {newDisk || !existingDisk.state.info ? (
                  <dd>{draft.diskGiB === 0 ? t('wizard.noDisk') : `${draft.diskGiB} GiB`}</dd>
                ) : (
                  <dd>
                    <span className="path">{existingDisk.state.info.path}</span>
                    {` (${DISK_FORMAT_LABEL[existingDisk.state.info.format]}, ${formatBytes(existingDisk.state.info.virtualSizeBytes)})`}
                    {needsImport(existingDisk.state.info) && (
                      <span className="hint">
                        {' '}
                        —{' '}
                        {t(
                          importedCopy?.source === existingDisk.state.info.path
                            ? 'wizard.existingDisk.summaryCopy'
                            : 'wizard.existingDisk.summaryImport',
                        )}
                      </span>
                    )}
                  </dd>
                )}
                <dt>{t('wizard.firmware')}</dt>
                <dd>
                  {draft.firmware === 'uefi' ? 'UEFI' : 'BIOS'}
                  {draft.secureBoot ? ` · ${t('wizard.secureBoot')}` : ''}
                  {draft.tpm ? ` · ${t('wizard.tpm')}` : ''}
                </dd>
                <dt>{t('wizard.engine')}</dt>
                <dd>{t(`wizard.engineWhy.${engine.reason}`, engine.values)}</dd>
              </dl>
              {draft.os === 'windows11' && (
                <Windows11Readiness
                  draft={draft}
                  host={host}
                  limits={limits}
                  checkDisk={newDisk}
                  onFix={(d) => change(d)}
                />
              )}
              {job && (
                <JobProgress
                  label={t(`wizard.phase.${phaseKey(job.phase)}`)}
                  fraction={job.fraction}
                  onCancel={job.cancel}
                />
              )}
            </>
          )}
          {serverErrorHere}
        </div>
        <DialogButtons
          onCancel={close}
          submitLabel={step === 'summary' ? t('wizard.create') : t('common.next')}
          busy={job !== null}
        >
          {index > 0 && (
            <button type="button" onClick={() => setStep(STEPS[index - 1]!)} disabled={job !== null}>
              {t('common.back')}
            </button>
          )}
        </DialogButtons>
      </form>
    </Dialog>
  );
}
