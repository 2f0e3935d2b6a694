// Library slice: a cache of what main owns (the VM list, the selected VM's details) and the
// calls that change it. Never persisted here; every change goes through the control contract.
import type { StateCreator } from 'zustand';
import type {
  CreateResult,
  CreateVmArgs,
  ModifyVmArgs,
  VmDetails,
  VmListEntry,
} from '../../src-shared/contracts/library';
import type { CallOptions } from '../transport/control-transport';
import type { AppState } from './app-store';
import { isCancelled, messageOf } from './store-errors';

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
  createVm(args: CreateVmArgs, options?: CallOptions): Promise<CreateResult>;
  modifyVm(id: string, patch: ModifyVmArgs): Promise<{ vm: VmDetails; warnings: readonly string[] }>;
  deleteVm(id: string, deleteDisks: boolean): Promise<void>;
  cloneVm(id: string, newName: string, options?: CallOptions): Promise<VmDetails>;
  /** VM id → the power action running on it (buttons show it and disable). */
  powerBusy: Readonly<Record<string, PowerAction>>;
  /** Start / stop / pause / resume / reset through the engine; failures become notices. */
  power(id: string, action: PowerAction): Promise<void>;
  /** Cancels a start that is still waiting for the engine host. */
  cancelStart(id: string): void;
  /** Runs after a successful login (or at start on the desktop), with an early list call if one was made. */
  afterLogin(prefetched?: Promise<VmListEntry[] | null>): Promise<void>;
}

function transportOf(get: () => AppState) {
  const t = get().transport;
  if (!t) throw new Error('no transport');
  return t;
}

export type PowerAction = 'start' | 'stop' | 'forceStop' | 'pause' | 'resume' | 'reset';

const startControllers = new Map<string, AbortController>();
let refreshing: Promise<void> | null = null;
let refreshAgain = false;

export const createLibrarySlice: StateCreator<AppState, [], [], LibrarySlice> = (set, get) => ({
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
    const t = get().transport;
    if (!t) return;
    refreshing = (async () => {
      do {
        refreshAgain = false;
        set({ loading: true });
        try {
          const first = !get().loaded;
          if (first) performance.mark('maru:list-fetch');
          const early = prefetched ? await prefetched : null;
          prefetched = undefined;
          const vms = early ?? (await t.call<VmListEntry[]>('library', 'list', []));
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
    const t = get().transport;
    const keep = get().details?.config.id === id ? get().details : null;
    set({ selectedId: id, details: keep });
    if (!t || !id) return;
    const entry = get().vms.find((v) => v.id === id);
    if (!entry || entry.kind !== 'ok') {
      set({ details: null });
      return;
    }
    try {
      const details = await t.call<VmDetails>('library', 'show', [id]);
      if (get().selectedId === id) set({ details });
    } catch (err) {
      set({ libraryError: messageOf(err) });
    }
  },
  setFilter(filter) {
    set({ filter });
  },
  async createVm(args, options) {
    const result = await transportOf(get).call<CreateResult>('library', 'create', [args], options);
    await get().refresh();
    await get().select(result.vm.config.id);
    return result;
  },
  async modifyVm(id, patch) {
    const result = await transportOf(get).call<{ vm: VmDetails; warnings: readonly string[] }>('library', 'modify', [
      id,
      patch,
    ]);
    if (get().selectedId === id) set({ details: result.vm });
    await get().refresh();
    return result;
  },
  async deleteVm(id, deleteDisks) {
    await transportOf(get).call<void>('library', 'delete', [id, { deleteDisks }]);
    if (get().selectedId === id) set({ selectedId: null, details: null });
    await get().refresh();
  },
  async cloneVm(id, newName, options) {
    const vm = await transportOf(get).call<VmDetails>('library', 'clone', [id, newName], options);
    await get().refresh();
    await get().select(vm.config.id);
    return vm;
  },
  powerBusy: {},
  async power(id, action) {
    const t = transportOf(get);
    if (get().powerBusy[id]) return;
    set({ powerBusy: { ...get().powerBusy, [id]: action } });
    try {
      if (action === 'start') {
        const controller = new AbortController();
        startControllers.set(id, controller);
        await t.call('vm', 'start', [id], { signal: controller.signal });
      } else if (action === 'stop' || action === 'forceStop') {
        await t.call('vm', 'stop', [id, { force: action === 'forceStop' }]);
      } else {
        await t.call('vm', action, [id]);
      }
    } catch (err) {
      if (!isCancelled(err)) {
        get().notify({ tone: 'error', key: 'errors.server', values: { message: messageOf(err) } });
      }
    } finally {
      startControllers.delete(id);
      const { [id]: _done, ...rest } = get().powerBusy;
      set({ powerBusy: rest });
      await get().refresh();
    }
  },
  cancelStart(id) {
    startControllers.get(id)?.abort();
  },
  async afterLogin(prefetched) {
    await get().refresh(prefetched);
    // Host facts for the wizard and the host check page: limits at once, the probe in the background.
    void get().loadLimits();
    void get().loadHostInfo(false);
  },
});
