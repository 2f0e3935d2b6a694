// Library slice: a cache of what main owns (the VM list, the selected VM's details) and the
// calls that change it, all through the typed control services. Never persisted here. The
// services' change events keep it current (`applyControlEvent`); nothing polls.
import type { StateCreator } from 'zustand';
import type { ControlEvent, ControlServices } from '../../src-shared/contracts/control';
import type { JobOptions, JobProgress } from '../../src-shared/contracts/jobs';
import type {
  CreateResult,
  CreateVmArgs,
  ModifyVmArgs,
  VmDetails,
  VmListEntry,
} from '../../src-shared/contracts/library';
import type { AppState } from './app-store';
import { isCancelled, messageOf } from './store-errors';

export type PowerAction = 'start' | 'stop' | 'forceStop' | 'pause' | 'resume' | 'reset';

export interface LibrarySlice {
  vms: VmListEntry[];
  /** The list has been fetched at least once. */
  loaded: boolean;
  loading: boolean;
  libraryError: string | null;
  selectedId: string | null;
  details: VmDetails | null;
  filter: string;
  /** Re-reads the list; `prefetched` is a list call already under way (first load). */
  refresh(prefetched?: Promise<VmListEntry[] | null>): Promise<void>;
  select(id: string | null): Promise<void>;
  setFilter(filter: string): void;
  /** Creates a VM (a job: progress + cancel); selects it when done. */
  createVm(args: CreateVmArgs, job?: JobOptions): Promise<CreateResult>;
  modifyVm(id: string, patch: ModifyVmArgs): Promise<{ vm: VmDetails; warnings: readonly string[] }>;
  deleteVm(id: string, deleteDisks: boolean): Promise<void>;
  cloneVm(id: string, newName: string, job?: JobOptions): Promise<VmDetails>;
  /** VM id → the power action running on it (buttons show it and disable). */
  powerBusy: Readonly<Record<string, PowerAction>>;
  /** VM id → how far its start has come (the engine host's phases: check, launch, running). */
  startProgress: Readonly<Record<string, JobProgress>>;
  /**
   * Start / stop / pause / resume / reset through the engine; failures become notices, and a
   * cancelled start says so ("Start cancelled").
   */
  power(id: string, action: PowerAction): Promise<void>;
  /** Cancels a start that is still under way: the engine host is stopped and the VM stays off. */
  cancelStart(id: string): void;
  /** A change event of the services: the list changed, or one VM's run state did. */
  applyControlEvent(event: ControlEvent): void;
  /** Runs after a successful login (or at start on the desktop), with an early list call if one was made. */
  afterLogin(prefetched?: Promise<VmListEntry[] | null>): Promise<void>;
}

function servicesOf(get: () => AppState): ControlServices {
  const s = get().services;
  if (!s) throw new Error('The store has no control services yet (init was not called).');
  return s;
}

function without<T>(record: Readonly<Record<string, T>>, key: string): Record<string, T> {
  const { [key]: _gone, ...rest } = record;
  return rest;
}

export const createLibrarySlice: StateCreator<AppState, [], [], LibrarySlice> = (set, get) => {
  const startControllers = new Map<string, AbortController>();
  let refreshing: Promise<void> | null = null;
  let refreshAgain = false;

  async function runPower(services: ControlServices, id: string, action: PowerAction): Promise<void> {
    if (action === 'start') {
      const controller = new AbortController();
      startControllers.set(id, controller);
      set({ startProgress: { ...get().startProgress, [id]: { phase: 'check', fraction: 0 } } });
      await services.vm.start(id, {
        signal: controller.signal,
        onProgress: (p) => {
          if (get().startProgress[id]) set({ startProgress: { ...get().startProgress, [id]: p } });
        },
      });
    } else if (action === 'stop' || action === 'forceStop') {
      await services.vm.stop(id, { force: action === 'forceStop' });
    } else {
      await services.vm[action](id);
    }
  }

  return {
    vms: [],
    loaded: false,
    loading: false,
    libraryError: null,
    selectedId: null,
    details: null,
    filter: '',
    async refresh(prefetched) {
      // Coalesce: a refresh asked for while one runs runs once more afterwards.
      if (refreshing) {
        refreshAgain = true;
        return refreshing;
      }
      const services = get().services;
      if (!services) return;
      refreshing = (async () => {
        do {
          refreshAgain = false;
          set({ loading: true });
          try {
            const first = !get().loaded;
            if (first) performance.mark('maru:list-fetch');
            const early = prefetched ? await prefetched : null;
            prefetched = undefined;
            const vms = early ?? (await services.library.list());
            if (first) performance.mark('maru:list-fetched');
            set({ vms, loaded: true, loading: false, libraryError: null, connectionError: null });
            const sel = get().selectedId;
            if (sel) await get().select(vms.some((v) => v.id === sel) ? sel : null);
          } catch (err) {
            set({ loading: false, libraryError: messageOf(err) });
          }
        } while (refreshAgain);
      })();
      try {
        await refreshing;
      } finally {
        refreshing = null;
      }
    },
    async select(id) {
      const services = get().services;
      const keep = get().details?.config.id === id ? get().details : null;
      set({ selectedId: id, details: keep });
      if (!services || !id) return;
      const entry = get().vms.find((v) => v.id === id);
      if (!entry || entry.kind !== 'ok') {
        set({ details: null });
        return;
      }
      try {
        const details = await services.library.show(id);
        if (get().selectedId === id) set({ details });
      } catch (err) {
        set({ libraryError: messageOf(err) });
      }
    },
    setFilter(filter) {
      set({ filter });
    },
    async createVm(args, job) {
      const result = await servicesOf(get).library.create(args, job);
      await get().refresh();
      await get().select(result.vm.config.id);
      return result;
    },
    async modifyVm(id, patch) {
      const result = await servicesOf(get).library.modify(id, patch);
      if (get().selectedId === id) set({ details: result.vm });
      await get().refresh();
      return result;
    },
    async deleteVm(id, deleteDisks) {
      await servicesOf(get).library.delete(id, { deleteDisks });
      if (get().selectedId === id) set({ selectedId: null, details: null });
      await get().refresh();
    },
    async cloneVm(id, newName, job) {
      const vm = await servicesOf(get).library.clone(id, newName, job);
      await get().refresh();
      await get().select(vm.config.id);
      return vm;
    },
    powerBusy: {},
    startProgress: {},
    async power(id, action) {
      const services = servicesOf(get);
      // One action per VM at a time: a save or discard of its state (snapshot-slice) counts too.
      if (get().powerBusy[id] || get().stateBusy[id]) return;
      set({ powerBusy: { ...get().powerBusy, [id]: action } });
      try {
        await runPower(services, id, action);
      } catch (err) {
        if (isCancelled(err)) get().notify({ tone: 'info', key: 'actions.startCancelled' });
        else get().notify({ tone: 'error', key: 'errors.server', values: { message: messageOf(err) } });
      } finally {
        startControllers.delete(id);
        set({ powerBusy: without(get().powerBusy, id), startProgress: without(get().startProgress, id) });
        await get().refresh();
      }
    },
    cancelStart(id) {
      startControllers.get(id)?.abort();
    },
    applyControlEvent(event) {
      // An open media manager reads its list again: any change may add, free or hold a medium.
      get().mediaChanged();
      if (event.type === 'library.changed') {
        void get().refresh();
        return;
      }
      if (event.type === 'snapshots.changed') {
        // An open Snapshots tab of that VM reads its tree again (snapshot-slice), and so does
        // its library row's screen (a restore brings the snapshot's screen; thumbnail-slice).
        get().snapshotsChanged(event.vmId);
        get().vmThumbnailStale(event.vmId);
        return;
      }
      const { vmId, state } = event;
      const entry = get().vms.find((v) => v.id === vmId);
      // Unknown VM or state (its run ended in a way the service could not name): re-read the list.
      if (!entry || entry.kind !== 'ok' || state === null) {
        void get().refresh();
        return;
      }
      if (entry.state !== state) set({ vms: get().vms.map((v) => (v === entry ? { ...entry, state } : v)) });
      // A list read that began before this change may answer after it: read once more then.
      if (refreshing) refreshAgain = true;
      // The selected VM's details (and what hangs on its state: settings, the screen) follow.
      if (get().selectedId === vmId) void get().select(vmId);
    },
    async afterLogin(prefetched) {
      await get().refresh(prefetched);
      // Host facts for the wizard and the host check page: limits at once, the probe in the background.
      void get().loadLimits();
      void get().loadHostInfo(false);
    },
  };
};
