// The details pane of the selected VM: actions (power — a start shows its progress and can be
// cancelled —, save / discard state, settings, clone, try on a copy, delete, log), a linked
// clone's banner (a trial's Keep / Discard), the screen slot, and tabs —
// summary (settings, disks with real sizes and Grow / Compact, snapshots, engine and
// accelerator), the snapshot manager, log viewer, performance graphs.
import { lazy, Suspense, useEffect, useState, type KeyboardEvent } from 'react';
import type { TFunction } from 'i18next';
import { useTranslation } from 'react-i18next';
import type { EngineStatus } from '../../src-shared/contracts/engine';
import type { VmDetails as Details, VmListEntry } from '../../src-shared/contracts/library';
import type { HostInfo } from '../../src-shared/host-info';
import { JobProgress } from '../components/JobProgress';
import { useAsyncValue } from '../components/use-async-value';
import { OsIcon } from '../components/OsIcon';
import { StateBadge } from '../components/StateBadge';
import { VmScreenSlot } from '../components/VmScreenSlot';
import { formatMiB } from '../format/format-size';
import { selectSelectedVm, useAppActions, useAppStore } from '../store/app-store';
import type { DetailsTab } from '../store/ui-slice';
import { draftFromConfig, explainEngine } from '../wizard/vm-rules';
import { DiscardStateDialog } from './DiscardStateDialog';
import { LinkedCloneBanner, TryCopyButton } from './TrialActions';
import { VmDisks } from './VmDisks';

const LogViewer = lazy(() => import('./LogViewer').then((m) => ({ default: m.LogViewer })));
const PerfGraphs = lazy(() => import('./PerfGraphs').then((m) => ({ default: m.PerfGraphs })));
const SnapshotManager = lazy(() => import('./SnapshotManager').then((m) => ({ default: m.SnapshotManager })));

type OkEntry = Extract<VmListEntry, { kind: 'ok' }>;

/** A start under way: its phase, a progress bar and Cancel (the VM ends off). */
function StartProgress({ vmId }: { readonly vmId: string }) {
  const { t } = useTranslation();
  const progress = useAppStore((s) => s.startProgress[vmId]);
  const { cancelStart } = useAppActions();
  if (!progress) return null;
  const phase = ['check', 'launch', 'running'].includes(progress.phase) ? progress.phase : 'check';
  return (
    <JobProgress
      label={t(`actions.startPhase.${phase}`)}
      fraction={progress.fraction}
      onCancel={() => cancelStart(vmId)}
      cancelLabel={t('actions.cancelStart')}
    />
  );
}

function PowerButtons({ vm }: { readonly vm: OkEntry }) {
  const { t } = useTranslation();
  const powerBusy = useAppStore((s) => s.powerBusy[vm.id]);
  const stateBusy = useAppStore((s) => s.stateBusy[vm.id]);
  const saveProgress = useAppStore((s) => s.saveStateProgress[vm.id]);
  const diskBusy = useAppStore((s) => s.diskBusy[vm.id] !== undefined);
  const { power, saveVmState, discardVmState } = useAppActions();
  const [confirmDiscard, setConfirmDiscard] = useState(false);
  const on = vm.state === 'running' || vm.state === 'paused';
  const busy = powerBusy ?? stateBusy;
  // A disk being grown or compacted holds the VM off (the service refuses a start meanwhile).
  const b = busy !== undefined || diskBusy;
  return (
    <div className="button-group" role="group" aria-label={t('actions.power')}>
      <button type="button" className="primary" disabled={on || b} onClick={() => void power(vm.id, 'start')}>
        {vm.state === 'saved' ? t('actions.restore') : t('actions.start')}
      </button>
      {vm.state === 'paused' ? (
        <button type="button" disabled={b} onClick={() => void power(vm.id, 'resume')}>
          {t('actions.resume')}
        </button>
      ) : (
        <button type="button" disabled={vm.state !== 'running' || b} onClick={() => void power(vm.id, 'pause')}>
          {t('actions.pause')}
        </button>
      )}
      <button type="button" disabled={!on || b} onClick={() => void power(vm.id, 'reset')}>
        {t('actions.reset')}
      </button>
      <button type="button" disabled={!on || b} onClick={() => void power(vm.id, 'stop')} title={t('actions.stopHint')}>
        {t('actions.stop')}
      </button>
      <button type="button" disabled={!on || b} onClick={() => void power(vm.id, 'forceStop')}>
        {t('actions.forceStop')}
      </button>
      {vm.state === 'saved' ? (
        <button type="button" disabled={b} onClick={() => setConfirmDiscard(true)}>
          {t('actions.discardState')}
        </button>
      ) : (
        <button
          type="button"
          disabled={!on || b}
          onClick={() => void saveVmState(vm.id)}
          title={t('actions.saveStateHint')}
        >
          {t('actions.saveState')}
        </button>
      )}
      {busy && busy !== 'start' && (
        <span className="muted" role="status">
          {t(`actions.busy.${busy}`)}
        </span>
      )}
      {stateBusy === 'saveState' && saveProgress !== undefined && (
        <progress max={1} value={saveProgress} aria-label={t('actions.busy.saveState')} />
      )}
      {confirmDiscard && (
        <DiscardStateDialog
          vmName={vm.name}
          onClose={() => setConfirmDiscard(false)}
          onDiscard={() => {
            setConfirmDiscard(false);
            void discardVmState(vm.id, vm.name);
          }}
        />
      )}
    </div>
  );
}

function acceleratorText(t: TFunction, d: Details, host: HostInfo | null, status: EngineStatus | null): string {
  if (status?.accelerator) {
    return status.acceleratorReason ? `${status.accelerator} — ${status.acceleratorReason}` : status.accelerator;
  }
  if (!host) return t('details.hostUnknown');
  const name = d.config.secureBoot ? host.secureBootAccelerator : host.accelerator;
  if (!name) return t('details.noAccelerator');
  const verdict = host.accelerators.find((a) => a.name === name);
  return t('details.wouldUse', { accelerator: name.toUpperCase(), reason: verdict?.reason ?? '' });
}

/**
 * The engine's status of a running VM. Asked again every second until the engine host answers:
 * the "running" event can come before the engine host's status is readable.
 */
function useEngineStatus(vmId: string | null): EngineStatus | null {
  const services = useAppStore((s) => s.services);
  const [status, setStatus] = useState<EngineStatus | null>(null);
  useEffect(() => {
    setStatus(null);
    if (!vmId || !services) return;
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ask = (): void => {
      services.vm.status(vmId).then(
        (s) => {
          if (!live) return;
          if (s) setStatus(s);
          else timer = setTimeout(ask, 1000);
        },
        () => {
          if (live) timer = setTimeout(ask, 2000);
        },
      );
    };
    ask();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [services, vmId]);
  return status;
}

function Summary({ vm, details }: { readonly vm: OkEntry; readonly details: Details | null }) {
  const { t } = useTranslation();
  const host = useAppStore((s) => s.hostInfo);
  const services = useAppStore((s) => s.services);
  const running = vm.state === 'running' || vm.state === 'paused';
  const overview = useAsyncValue(() => services?.vmStats.overview(vm.id), [services, vm.id]);
  const status = useEngineStatus(running ? vm.id : null);

  const c = details?.config;
  const engine = c ? explainEngine(draftFromConfig(c), host) : null;
  return (
    <div className="summary-pane">
      <dl className="summary">
        <dt>{t('library.os')}</dt>
        <dd>{t(`os.${vm.os}`)}</dd>
        <dt>{t('library.state')}</dt>
        <dd>{t(`state.${vm.state}`)}</dd>
        <dt>{t('library.cpus')}</dt>
        <dd>{vm.cpus}</dd>
        <dt>{t('library.memory')}</dt>
        <dd>{formatMiB(vm.memoryMiB)}</dd>
        <dt>{t('library.firmware')}</dt>
        <dd>
          {vm.firmware === 'uefi' ? 'UEFI' : 'BIOS'}
          {c?.secureBoot ? ` · ${t('wizard.secureBoot')}` : ''}
          {c?.tpm ? ` · ${t('wizard.tpm')}` : ''}
        </dd>
        <dt>{t('library.engine')}</dt>
        <dd>
          {status
            ? t('details.engineRunning', { engine: status.engine })
            : engine
              ? t(`wizard.engineWhy.${engine.reason}`, engine.values)
              : vm.engine}
        </dd>
        <dt>{t('details.accelerator')}</dt>
        <dd>{details ? acceleratorText(t, details, host, status) : '…'}</dd>
        <dt>{t('details.cd')}</dt>
        <dd className="path">{(status ? status.cdrom : c?.cdroms[0]?.iso) ?? t('iso.none')}</dd>
        <dt>{t('settings.bootOrder')}</dt>
        <dd>{c?.bootOrder.map((b) => t(`settings.boot.${b}`)).join(' → ') ?? '…'}</dd>
        <dt>{t('details.network')}</dt>
        <dd>
          {c
            ? c.nics[0]
              ? `${c.nics[0].model}${c.nics[0].portForwards.length ? ` · ${t('details.forwards', { count: c.nics[0].portForwards.length })}` : ''}`
              : '—'
            : '…'}
        </dd>
        <dt>{t('details.snapshots')}</dt>
        <dd>{overview ? (overview.snapshotCount ?? t('details.unknown')) : '…'}</dd>
        {c?.description ? (
          <>
            <dt>{t('settings.description')}</dt>
            <dd className="description">{c.description}</dd>
          </>
        ) : null}
        <dt>{t('library.uuid')}</dt>
        <dd>
          <code>{vm.id}</code>
        </dd>
        <dt>{t('library.folder')}</dt>
        <dd className="path">{vm.folder}</dd>
      </dl>
      <VmDisks vmId={vm.id} vmName={vm.name} vmState={vm.state} details={details} />
    </div>
  );
}

const TABS: readonly DetailsTab[] = ['summary', 'snapshots', 'logs', 'performance'];

export function VmDetailsPane() {
  const { t } = useTranslation();
  const vm = useAppStore(selectSelectedVm);
  const details = useAppStore((s) => s.details);
  const tab = useAppStore((s) => s.detailsTab);
  const { setDetailsTab: setTab, openDialog } = useAppActions();

  if (!vm) return <p className="muted details-empty">{t('library.select')}</p>;
  if (vm.kind === 'inaccessible') {
    return (
      <section aria-label={t('library.details')} className="details">
        <h2>{t('library.inaccessible')}</h2>
        <dl className="summary">
          <dt>{t('library.folder')}</dt>
          <dd className="path">{vm.folder}</dd>
          <dt>{t('library.error')}</dt>
          <dd className="error">{vm.error}</dd>
        </dl>
        <div className="button-group">
          <button type="button" onClick={() => openDialog({ kind: 'importVm', replaceId: vm.id })}>
            {t('actions.restoreBackup')}
          </button>
          <button type="button" className="danger" onClick={() => openDialog({ kind: 'delete', vmId: vm.id })}>
            {t('actions.delete')}
          </button>
        </div>
      </section>
    );
  }
  const running = vm.state === 'running' || vm.state === 'paused';
  const onTabKey = (e: KeyboardEvent<HTMLButtonElement>) => {
    const i = TABS.indexOf(tab);
    const next =
      e.key === 'ArrowRight'
        ? TABS[(i + 1) % TABS.length]
        : e.key === 'ArrowLeft'
          ? TABS[(i + TABS.length - 1) % TABS.length]
          : null;
    if (next) {
      e.preventDefault();
      setTab(next);
      document.getElementById(`tab-${next}`)?.focus();
    }
  };
  return (
    <section aria-label={t('library.details')} className="details">
      <header className="details-head">
        <OsIcon os={vm.os} size={36} />
        <h2>{vm.name}</h2>
        <StateBadge state={vm.state} />
      </header>
      <div className="toolbar">
        <PowerButtons vm={vm} />
        <div className="button-group" role="group" aria-label={t('actions.manage')}>
          <button type="button" onClick={() => openDialog({ kind: 'settings', vmId: vm.id })}>
            {t('actions.settings')}
          </button>
          <button type="button" disabled={running} onClick={() => openDialog({ kind: 'clone', vmId: vm.id })}>
            {t('actions.clone')}
          </button>
          <TryCopyButton vm={vm} />
          <button type="button" onClick={() => openDialog({ kind: 'exportVm', vmId: vm.id })}>
            {t('actions.export')}
          </button>
          <button type="button" disabled={running} onClick={() => openDialog({ kind: 'delete', vmId: vm.id })}>
            {t('actions.delete')}
          </button>
          <button type="button" onClick={() => setTab('logs')}>
            {t('actions.showLog')}
          </button>
        </div>
      </div>
      <LinkedCloneBanner vm={vm} details={details} />
      <StartProgress vmId={vm.id} />
      <VmScreenSlot vmId={vm.id} vmName={vm.name} state={vm.state} />
      <div role="tablist" aria-label={t('details.tabs')} className="tabs">
        {TABS.map((id) => (
          <button
            key={id}
            id={`tab-${id}`}
            type="button"
            role="tab"
            aria-selected={tab === id}
            aria-controls={`panel-${id}`}
            tabIndex={tab === id ? 0 : -1}
            onClick={() => setTab(id)}
            onKeyDown={onTabKey}
          >
            {t(`details.tab.${id}`)}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`} className="tab-panel">
        {tab === 'summary' && <Summary vm={vm} details={details?.config.id === vm.id ? details : null} />}
        <Suspense fallback={<p className="muted">{t('app.loading')}</p>}>
          {tab === 'logs' && <LogViewer vmId={vm.id} running={running} />}
          {tab === 'performance' && <PerfGraphs vmId={vm.id} />}
          {tab === 'snapshots' && <SnapshotManager vmId={vm.id} vmName={vm.name} vmState={vm.state} />}
        </Suspense>
      </div>
    </section>
  );
}
