// Snapshot slice: the snapshot trees of the VMs whose Snapshots tab is open (a cache of
// snapshots.json, which main owns), the one snapshot operation a VM may have under way with its
// progress, and saving / discarding a VM's state. Every change goes through `services.snapshots`
// or `services.vm`; `snapshots.changed` events reload an open tree (library-slice forwards them).
import type { StateCreator } from 'zustand';
import type { JobOptions } from '../../src-shared/contracts/jobs';
import type { SnapshotTakeOptions, SnapshotTree } from '../../src-shared/contracts/snapshots';
import type { AppState } from './app-store';
import { messageOf } from './store-errors';

export type SnapshotOp = 'take' | 'restore' | 'delete' | 'edit' | 'repair' | 'clone';

/** The operation running on a VM's snapshots: which one, and how far it has come. */
export interface SnapshotActivity {
  readonly op: SnapshotOp;
  readonly phase: string;
  readonly fraction: number;
}

/** What the Snapshots tab of one VM shows besides the tree's rows. */
export interface SnapshotPane {
  /** Null until the first read answers. */
  readonly tree: SnapshotTree | null;
  /** The last read or operation failed: the server's message (what happened, why, what to do). */
  readonly error: string | null;
  /** What the last operation did (an i18n key and its values). */
  readonly message: PaneMessage | null;
  /** What an interrupted operation left and what was done about it: kept until dismissed. */
  readonly recovered: string | null;
}

export interface PaneMessage {
  readonly key: string;
  readonly values: Readonly<Record<string, string>>;
}

export type VmStateAction = 'saveState' | 'discardState';

export interface SnapshotSlice {
  /** VM id → its Snapshots tab's content (only VMs whose tab has been open). */
  snapshotPanes: Readonly<Record<string, SnapshotPane>>;
  /** VM id → the snapshot operation under way (the UI runs one at a time per VM). */
  snapshotBusy: Readonly<Record<string, SnapshotActivity>>;
  /** VM id → a save or discard of its state under way (the power buttons disable). */
  stateBusy: Readonly<Record<string, VmStateAction>>;
  /** VM id → how far a save state has come (0..1). */
  saveStateProgress: Readonly<Record<string, number>>;
  /** The Snapshots tab of a VM is showing: reads its tree now and on its change events. Returns the close. */
  openSnapshots(vmId: string): () => void;
  /** Reads a VM's tree again (coalesced: one read at a time per VM, one more if asked meanwhile). */
  loadSnapshots(vmId: string): Promise<void>;
  /** A `snapshots.changed` event: the VM's tree is read again when its tab is showing. */
  snapshotsChanged(vmId: string): void;
  /** Takes a snapshot (a job: progress in `snapshotBusy`); false when refused or failed (the pane says why). */
  takeSnapshot(vmId: string, options: SnapshotTakeOptions): Promise<boolean>;
  /** Restores a snapshot; with `takeFirst`, a snapshot of the current state is taken before. */
  restoreSnapshot(vmId: string, snapshotId: string, takeFirst: SnapshotTakeOptions | null): Promise<boolean>;
  deleteSnapshot(vmId: string, snapshotId: string): Promise<boolean>;
  editSnapshot(vmId: string, snapshotId: string, changes: { name?: string; description?: string }): Promise<boolean>;
  /** Makes the images and the list agree again (the service says what it changed). */
  repairSnapshots(vmId: string): Promise<boolean>;
  /** A full clone of the VM at a snapshot, as a new VM named `name`. */
  cloneFromSnapshot(vmId: string, snapshotId: string, name: string): Promise<boolean>;
  /** The screen a snapshot was taken on as a data: URL (null: none or unreadable); asked once per snapshot. */
  snapshotThumbnail(vmId: string, snapshotId: string): Promise<string | null>;
  dismissSnapshotNotes(vmId: string): void;
  /** Saves RAM and devices and powers the VM off (a job); failures become notices. */
  saveVmState(vmId: string): Promise<void>;
  /** Drops a powered-off VM's saved state; failures become notices. */
  discardVmState(vmId: string, name: string): Promise<void>;
}

const EMPTY_PANE: SnapshotPane = { tree: null, error: null, message: null, recovered: null };

function without<T>(record: Readonly<Record<string, T>>, key: string): Record<string, T> {
  const { [key]: _gone, ...rest } = record;
  return rest;
}

export const createSnapshotSlice: StateCreator<AppState, [], [], SnapshotSlice> = (set, get) => {
  /** VM id → how many Snapshots tabs show it (events reload only these). */
  const open = new Map<string, number>();
  const reading = new Map<string, Promise<void>>();
  const readAgain = new Set<string>();
  /** VMs whose pane error is a failed read (the next good read clears it; an operation's error stays). */
  const readFailed = new Set<string>();
  /** `${vmId}/${snapshotId}` → its thumbnail (a snapshot's screen never changes). */
  const thumbnails = new Map<string, Promise<string | null>>();

  function patchPane(vmId: string, patch: Partial<SnapshotPane>): void {
    const panes = get().snapshotPanes;
    set({ snapshotPanes: { ...panes, [vmId]: { ...(panes[vmId] ?? EMPTY_PANE), ...patch } } });
  }

  function setActivity(vmId: string, activity: SnapshotActivity): void {
    set({ snapshotBusy: { ...get().snapshotBusy, [vmId]: activity } });
  }

  function jobFor(vmId: string, op: SnapshotOp): JobOptions {
    return {
      onProgress: (p) => {
        if (get().snapshotBusy[vmId]?.op === op) setActivity(vmId, { op, phase: p.phase, fraction: p.fraction });
      },
    };
  }

  function dropStaleThumbnails(vmId: string, tree: SnapshotTree): void {
    const ids = new Set(tree.snapshots.map((s) => s.id));
    for (const key of thumbnails.keys()) {
      const [vm, id] = key.split('/');
      if (vm === vmId && id !== undefined && !ids.has(id)) thumbnails.delete(key);
    }
  }

  async function readTree(vmId: string): Promise<void> {
    const services = get().services;
    if (!services) return;
    do {
      readAgain.delete(vmId);
      try {
        const tree = await services.snapshots.list(vmId);
        dropStaleThumbnails(vmId, tree);
        const recovered = tree.recovered ?? get().snapshotPanes[vmId]?.recovered ?? null;
        patchPane(vmId, { tree, recovered, ...(readFailed.delete(vmId) ? { error: null } : {}) });
      } catch (err) {
        readFailed.add(vmId);
        patchPane(vmId, { error: messageOf(err) });
      }
    } while (readAgain.has(vmId));
  }

  /**
   * Runs one operation on a VM's snapshots: refused in the UI while another runs there; its
   * failure goes into the pane. The tree is read again before the buttons come back, and the
   * outcome shows with the tree it describes.
   */
  async function runOp(vmId: string, op: SnapshotOp, fn: () => Promise<PaneMessage | null>): Promise<boolean> {
    if (!get().services || get().snapshotBusy[vmId]) return false;
    setActivity(vmId, { op, phase: '', fraction: 0 });
    readFailed.delete(vmId);
    patchPane(vmId, { error: null, message: null });
    let outcome: { ok: true; message: PaneMessage | null } | { ok: false; error: string };
    try {
      outcome = { ok: true, message: await fn() };
    } catch (err) {
      outcome = { ok: false, error: messageOf(err) };
    }
    await get().loadSnapshots(vmId);
    set({ snapshotBusy: without(get().snapshotBusy, vmId) });
    patchPane(vmId, outcome.ok ? { message: outcome.message } : { error: outcome.error });
    return outcome.ok;
  }

  function nameOf(vmId: string, snapshotId: string): string {
    return get().snapshotPanes[vmId]?.tree?.snapshots.find((s) => s.id === snapshotId)?.name ?? snapshotId;
  }

  function servicesOrThrow() {
    const s = get().services;
    if (!s) throw new Error('The store has no control services yet (init was not called).');
    return s;
  }

  return {
    snapshotPanes: {},
    snapshotBusy: {},
    stateBusy: {},
    saveStateProgress: {},
    openSnapshots(vmId) {
      open.set(vmId, (open.get(vmId) ?? 0) + 1);
      void get().loadSnapshots(vmId);
      return () => {
        const n = (open.get(vmId) ?? 1) - 1;
        if (n > 0) open.set(vmId, n);
        else open.delete(vmId);
      };
    },
    async loadSnapshots(vmId) {
      const running = reading.get(vmId);
      if (running) {
        readAgain.add(vmId);
        return running;
      }
      const read = readTree(vmId).finally(() => reading.delete(vmId));
      reading.set(vmId, read);
      return read;
    },
    snapshotsChanged(vmId) {
      if (open.has(vmId)) void get().loadSnapshots(vmId);
    },
    takeSnapshot(vmId, options) {
      return runOp(vmId, 'take', async () => {
        const taken = await servicesOrThrow().snapshots.take(vmId, options, jobFor(vmId, 'take'));
        return { key: 'snapshots.done.take', values: { name: taken.name } };
      });
    },
    restoreSnapshot(vmId, snapshotId, takeFirst) {
      return runOp(vmId, takeFirst ? 'take' : 'restore', async () => {
        const services = servicesOrThrow();
        if (takeFirst) {
          await services.snapshots.take(vmId, takeFirst, jobFor(vmId, 'take'));
          setActivity(vmId, { op: 'restore', phase: '', fraction: 0 });
        }
        const name = nameOf(vmId, snapshotId);
        const result = await services.snapshots.restore(vmId, snapshotId, jobFor(vmId, 'restore'));
        patchPane(vmId, { tree: result.tree });
        // The power state may have changed with it (a live snapshot restored to a powered-off VM is "saved").
        void get().refresh();
        const outcome = ['running', 'paused', 'off', 'saved'].includes(result.state) ? result.state : 'other';
        return { key: `snapshots.done.restore.${outcome}`, values: { name } };
      });
    },
    deleteSnapshot(vmId, snapshotId) {
      return runOp(vmId, 'delete', async () => {
        const name = nameOf(vmId, snapshotId);
        await servicesOrThrow().snapshots.delete(vmId, snapshotId, jobFor(vmId, 'delete'));
        return { key: 'snapshots.done.delete', values: { name } };
      });
    },
    repairSnapshots(vmId) {
      return runOp(vmId, 'repair', async (): Promise<PaneMessage> => {
        const { tree, repaired } = await servicesOrThrow().snapshots.repair(vmId);
        patchPane(vmId, { tree });
        return repaired.length === 0
          ? { key: 'snapshots.done.repairNone', values: {} }
          : { key: 'snapshots.done.repair', values: { changes: repaired.join(' ') } };
      });
    },
    cloneFromSnapshot(vmId, snapshotId, name) {
      return runOp(vmId, 'clone', async () => {
        const snapshot = nameOf(vmId, snapshotId);
        const made = await servicesOrThrow().snapshots.clone(vmId, snapshotId, { name }, jobFor(vmId, 'clone'));
        void get().refresh();
        return { key: 'snapshots.done.clone', values: { snapshot, name: made.name } };
      });
    },
    editSnapshot(vmId, snapshotId, changes) {
      return runOp(vmId, 'edit', async () => {
        await servicesOrThrow().snapshots.edit(vmId, snapshotId, changes);
        return null;
      });
    },
    snapshotThumbnail(vmId, snapshotId) {
      const key = `${vmId}/${snapshotId}`;
      let png = thumbnails.get(key);
      if (!png) {
        const services = get().services;
        if (!services) return Promise.resolve(null);
        png = services.snapshots.thumbnail(vmId, snapshotId).then(
          (r) => (r ? `data:image/png;base64,${r.png}` : null),
          () => {
            // Not cached: a read that failed (the connection dropped) is asked again next time.
            thumbnails.delete(key);
            return null;
          },
        );
        thumbnails.set(key, png);
      }
      return png;
    },
    dismissSnapshotNotes(vmId) {
      patchPane(vmId, { message: null, recovered: null });
    },
    async saveVmState(vmId) {
      const services = get().services;
      if (!services || get().stateBusy[vmId] || get().powerBusy[vmId]) return;
      set({
        stateBusy: { ...get().stateBusy, [vmId]: 'saveState' },
        saveStateProgress: { ...get().saveStateProgress, [vmId]: 0 },
      });
      try {
        await services.vm.saveState(vmId, {
          onProgress: (p) => {
            if (get().stateBusy[vmId]) set({ saveStateProgress: { ...get().saveStateProgress, [vmId]: p.fraction } });
          },
        });
      } catch (err) {
        get().notify({ tone: 'error', key: 'errors.server', values: { message: messageOf(err) } });
      } finally {
        set({ stateBusy: without(get().stateBusy, vmId), saveStateProgress: without(get().saveStateProgress, vmId) });
        await get().refresh();
      }
    },
    async discardVmState(vmId, name) {
      const services = get().services;
      if (!services || get().stateBusy[vmId] || get().powerBusy[vmId]) return;
      set({ stateBusy: { ...get().stateBusy, [vmId]: 'discardState' } });
      try {
        await services.vm.discardState(vmId);
        get().notify({ tone: 'info', key: 'actions.stateDiscarded', values: { name } });
      } catch (err) {
        get().notify({ tone: 'error', key: 'errors.server', values: { message: messageOf(err) } });
      } finally {
        set({ stateBusy: without(get().stateBusy, vmId) });
        await get().refresh();
      }
    },
  };
};
