// "Try it on a copy" and linked clones in the details pane: the button that starts a trial of a
// powered-off VM (asked first, then made and started with progress, the trial selected), and the
// banner of a linked clone — for a trial, its Keep and Discard (each asked first, progress shown).
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import type { VmDetails, VmListEntry } from '../../src-shared/contracts/library';
import { DialogButtons } from '../components/DialogButtons';
import { ErrorText } from '../components/ErrorText';
import { JobProgress, useJob } from '../components/JobProgress';
import { PortalDialog } from '../components/PortalDialog';
import { useAppActions, useAppStore } from '../store/app-store';
import { isCancelled, messageOf } from '../store/store-errors';

type OkEntry = Extract<VmListEntry, { kind: 'ok' }>;

function TryCopyDialog({ vm, onClose }: { readonly vm: OkEntry; readonly onClose: () => void }) {
  const { t } = useTranslation();
  const { tryOnCopy, notify } = useAppActions();
  const { job, run } = useJob();
  const [error, setError] = useState<string | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (job) return;
    setError(null);
    try {
      const trial = await run((options) => tryOnCopy(vm.id, options));
      onClose();
      notify({ tone: 'info', key: 'trial.started', values: { name: trial.trialName, source: vm.name } });
    } catch (err) {
      setError(isCancelled(err) ? t('trial.cancelled') : t('errors.server', { message: messageOf(err) }));
    }
  }

  return (
    <PortalDialog
      title={t('trial.confirmTitle', { name: vm.name })}
      onClose={onClose}
      busy={job !== null}
      className="confirm"
    >
      <form onSubmit={(e) => void submit(e)}>
        <p>{t('trial.confirmText', { name: vm.name })}</p>
        {job && <JobProgress label={t('trial.starting')} fraction={job.fraction} onCancel={job.cancel} />}
        <ErrorText message={error} />
        <DialogButtons onCancel={onClose} submitLabel={t('trial.confirm')} busy={job !== null} />
      </form>
    </PortalDialog>
  );
}

/** "Try it on a copy…": usable when the VM is powered off; asks first. */
export function TryCopyButton({ vm }: { readonly vm: OkEntry }) {
  const { t } = useTranslation();
  // The VM as it was when asked: the trial, once made, is selected while the dialog still closes.
  const [asking, setAsking] = useState<OkEntry | null>(null);
  const off = vm.state === 'off';
  return (
    <>
      <button
        type="button"
        disabled={!off}
        onClick={() => setAsking(vm)}
        title={off ? t('actions.tryCopyHint') : t('trial.offOnly')}
      >
        {t('actions.tryCopy')}
      </button>
      {asking && <TryCopyDialog vm={asking} onClose={() => setAsking(null)} />}
    </>
  );
}

interface EndTrialDialogProps {
  readonly keep: boolean;
  readonly name: string;
  readonly source: string;
  readonly onConfirm: () => void;
  readonly onClose: () => void;
}

function EndTrialDialog({ keep, name, source, onConfirm, onClose }: EndTrialDialogProps) {
  const { t } = useTranslation();
  const which = keep ? 'keep' : 'discard';
  function submit(e: FormEvent) {
    e.preventDefault();
    onConfirm();
  }
  return (
    <PortalDialog title={t(`trial.${which}Title`, { name })} onClose={onClose} className="confirm">
      <form onSubmit={submit}>
        <p>{t(`trial.${which}Text`, { name, source })}</p>
        <DialogButtons
          onCancel={onClose}
          submitLabel={t(`trial.${which}Confirm`)}
          submitTone={keep ? 'primary' : 'danger'}
          focusCancel={!keep}
        />
      </form>
    </PortalDialog>
  );
}

/**
 * What a linked clone's details pane says about it: "Linked clone of …", or for a trial "Trial
 * of …" with Keep and Discard. Nothing for an ordinary VM.
 */
export function LinkedCloneBanner({ vm, details }: { readonly vm: OkEntry; readonly details: VmDetails | null }) {
  const { t } = useTranslation();
  const link = details?.config.id === vm.id ? details.config.linkedClone : undefined;
  const source = useAppStore((s) => {
    if (!link) return '';
    const entry = s.vms.find((v) => v.id === link.sourceId);
    return entry?.kind === 'ok' ? entry.name : link.sourceId;
  });
  const activity = useAppStore((s) => s.trialBusy[vm.id]);
  const { endTrial } = useAppActions();
  const [asking, setAsking] = useState<'keep' | 'discard' | null>(null);
  if (!link) return null;

  if (!link.trial) {
    return (
      <div className="linked-banner" role="note" aria-label={t('linked.banner', { source })}>
        <strong>{t('linked.banner', { source })}</strong>
        <span className="muted">{t('linked.bannerText', { source })}</span>
      </div>
    );
  }
  const busyLabel = activity ? t(`trial.busy.${activity.op}`) : '';
  return (
    <div className="linked-banner trial-banner" role="region" aria-label={t('trial.banner', { source })}>
      <div className="trial-banner-text">
        <strong>{t('trial.banner', { source })}</strong>
        <span className="muted">{t('trial.bannerText', { source })}</span>
      </div>
      <div className="button-group" role="group" aria-label={t('trial.actions')}>
        <button type="button" className="primary" disabled={activity !== undefined} onClick={() => setAsking('keep')}>
          {t('trial.keep')}
        </button>
        <button type="button" className="danger" disabled={activity !== undefined} onClick={() => setAsking('discard')}>
          {t('trial.discard')}
        </button>
      </div>
      {activity && (
        <div className="job" role="status">
          <span>{busyLabel}</span>
          <progress max={1} value={activity.fraction} aria-label={busyLabel} />
        </div>
      )}
      {asking && (
        <EndTrialDialog
          keep={asking === 'keep'}
          name={vm.name}
          source={source}
          onClose={() => setAsking(null)}
          onConfirm={() => {
            setAsking(null);
            void endTrial(vm.id, asking === 'keep');
          }}
        />
      )}
    </div>
  );
}
