// Disk slice: growing and compacting a powered-off VM's disks (one operation per VM, with its
// progress, Cancel, and its outcome or error kept for the Disks list to show in place) and
// importing a disk image file (inspect, then a job with progress and Cancel). Every change goes
// through `services.disks`; the library and the VM's details are read again after a change.
import type { StateCreator } from 'zustand';
import type { DiskFormat, DiskImageInfo, DiskImportResult } from '../../src-shared/contracts/disks';
import type { JobProgress } from '../../src-shared/contracts/jobs';
import type { AppState } from './app-store';
import { isCancelled, messageOf } from './store-errors';

export type DiskOp = 'grow' | 'compact';

/** A grow or compact under way on one of a VM's disks, and how far it has come. */
export interface DiskActivity {
  readonly op: DiskOp;
  readonly diskIndex: number;
  readonly phase: string;
  readonly fraction: number;
}

/** What a finished grow or compact did (the Disks list words it). */
export type DiskOutcome =
  | {
      readonly op: 'grow';
      readonly diskId: string;
      readonly oldSizeBytes: number;
      readonly newSizeBytes: number;
      /** The service's notes, e.g. the new size is more than the host disk's free space. */
      readonly warnings: readonly string[];
    }
  | {
      readonly op: 'compact';
      readonly diskId: string;
      readonly bytesBefore: number;
      readonly bytesAfter: number;
      /** False: the compacted copy was not smaller and the disk was left as it was. */
      readonly replaced: boolean;
    };

/** The last grow or compact of a VM's disk: kept until the next one or until dismissed. */
export interface DiskNote {
  readonly op: DiskOp;
  readonly diskIndex: number;
  readonly outcome: DiskOutcome | null;
  /** The server's message (what happened, why, what to do). */
  readonly error: string | null;
  /** Cancelled: the disk is as it was. */
  readonly cancelled: boolean;
}

/** The Import a disk dialog's state (one import at a time). */
export interface DiskImportState {
  readonly busy: 'inspect' | 'import' | null;
  /** The import's progress while it runs. */
  readonly progress: JobProgress | null;
  /** What Inspect found (for `inspected.path`). */
  readonly inspected: DiskImageInfo | null;
  readonly result: DiskImportResult | null;
  readonly error: string | null;
  readonly cancelled: boolean;
}

export interface DiskImportRequest {
  readonly path: string;
  /** The new disk's file name (without `.qcow2`); empty: the source's name. */
  readonly name?: string;
  /** Only `raw`: a raw disk image whose file name does not say so. */
  readonly sourceFormat?: DiskFormat;
}

export interface DiskSlice {
  /** VM id → the grow or compact running on one of its disks (its Disks list shows progress and Cancel). */
  diskBusy: Readonly<Record<string, DiskActivity>>;
  /** VM id → the outcome or error of its last disk operation. */
  diskNotes: Readonly<Record<string, DiskNote>>;
  diskImport: DiskImportState;
  /** Grows disk `diskIndex` (a job); false when refused, failed or cancelled (the note says which). */
  growDisk(vmId: string, diskIndex: number, newSizeBytes: number): Promise<boolean>;
  /** Compacts disk `diskIndex` (a job); false when refused, failed or cancelled. */
  compactDisk(vmId: string, diskIndex: number): Promise<boolean>;
  /** Cancels the VM's disk operation under way (the service removes its partial copy). */
  cancelDiskOp(vmId: string): void;
  dismissDiskNote(vmId: string): void;
  /** Reads what a disk image file is (read-only); the dialog shows it, or the error. */
  inspectDiskImage(path: string): Promise<DiskImageInfo | null>;
  /** Imports a disk image as a new qcow2 under `$MARU_HOME/disks` (a job); null when it failed or was cancelled. */
  importDisk(request: DiskImportRequest): Promise<DiskImportResult | null>;
  cancelDiskImport(): void;
  /** The dialog closed or its path changed: forget what it showed (an import under way goes on). */
  resetDiskImport(): void;
}

const IDLE_IMPORT: DiskImportState = {
  busy: null,
  progress: null,
  inspected: null,
  result: null,
  error: null,
  cancelled: false,
};

function without<T>(record: Readonly<Record<string, T>>, key: string): Record<string, T> {
  const { [key]: _gone, ...rest } = record;
  return rest;
}

export const createDiskSlice: StateCreator<AppState, [], [], DiskSlice> = (set, get) => {
  const controllers = new Map<string, AbortController>();
  let importController: AbortController | null = null;

  function servicesOrThrow() {
    const s = get().services;
    if (!s) throw new Error('The store has no control services yet (init was not called).');
    return s;
  }

  function patchImport(patch: Partial<DiskImportState>): void {
    set({ diskImport: { ...get().diskImport, ...patch } });
  }

  /**
   * Runs one grow or compact: refused in the UI while another disk operation, a power action or
   * a save of the VM's state runs. Its outcome or failure becomes the VM's disk note; the library
   * and the details are read again before the buttons come back.
   */
  async function runOp(
    vmId: string,
    diskIndex: number,
    op: DiskOp,
    fn: (signal: AbortSignal, onProgress: (p: JobProgress) => void) => Promise<DiskOutcome>,
  ): Promise<boolean> {
    const s = get();
    if (!s.services || s.diskBusy[vmId] || s.powerBusy[vmId] || s.stateBusy[vmId]) return false;
    const controller = new AbortController();
    controllers.set(vmId, controller);
    set({
      diskBusy: { ...get().diskBusy, [vmId]: { op, diskIndex, phase: '', fraction: 0 } },
      diskNotes: without(get().diskNotes, vmId),
    });
    const onProgress = (p: JobProgress) => {
      const cur = get().diskBusy[vmId];
      if (cur?.op === op)
        set({ diskBusy: { ...get().diskBusy, [vmId]: { ...cur, phase: p.phase, fraction: p.fraction } } });
    };
    let note: DiskNote;
    try {
      const outcome = await fn(controller.signal, onProgress);
      note = { op, diskIndex, outcome, error: null, cancelled: false };
    } catch (err) {
      note = isCancelled(err)
        ? { op, diskIndex, outcome: null, error: null, cancelled: true }
        : { op, diskIndex, outcome: null, error: messageOf(err), cancelled: false };
    } finally {
      controllers.delete(vmId);
    }
    // The sizes in the Disks list come from the details: read them before the outcome shows.
    await get().refresh();
    set({ diskBusy: without(get().diskBusy, vmId), diskNotes: { ...get().diskNotes, [vmId]: note } });
    return note.outcome !== null;
  }

  return {
    diskBusy: {},
    diskNotes: {},
    diskImport: IDLE_IMPORT,
    growDisk(vmId, diskIndex, newSizeBytes) {
      return runOp(vmId, diskIndex, 'grow', async (signal, onProgress) => {
        const r = await servicesOrThrow().disks.resize(vmId, diskIndex, newSizeBytes, { signal, onProgress });
        return {
          op: 'grow',
          diskId: r.diskId,
          oldSizeBytes: r.oldSizeBytes,
          newSizeBytes: r.newSizeBytes,
          warnings: r.warnings,
        };
      });
    },
    compactDisk(vmId, diskIndex) {
      return runOp(vmId, diskIndex, 'compact', async (signal, onProgress) => {
        const r = await servicesOrThrow().disks.compact(vmId, diskIndex, { signal, onProgress });
        return {
          op: 'compact',
          diskId: r.diskId,
          bytesBefore: r.bytesBefore,
          bytesAfter: r.bytesAfter,
          replaced: r.replaced,
        };
      });
    },
    cancelDiskOp(vmId) {
      controllers.get(vmId)?.abort();
    },
    dismissDiskNote(vmId) {
      set({ diskNotes: without(get().diskNotes, vmId) });
    },
    async inspectDiskImage(path) {
      const services = get().services;
      if (!services || get().diskImport.busy) return null;
      patchImport({ busy: 'inspect', inspected: null, result: null, error: null, cancelled: false });
      try {
        const info = await services.disks.inspect(path);
        patchImport({ inspected: info });
        return info;
      } catch (err) {
        patchImport({ error: messageOf(err) });
        return null;
      } finally {
        patchImport({ busy: null });
      }
    },
    async importDisk(request) {
      const services = get().services;
      if (!services || get().diskImport.busy) return null;
      const controller = new AbortController();
      importController = controller;
      patchImport({
        busy: 'import',
        progress: { phase: 'check', fraction: 0 },
        result: null,
        error: null,
        cancelled: false,
      });
      const name = request.name?.trim();
      try {
        const result = await services.disks.import(
          request.path,
          { ...(name ? { name } : {}), ...(request.sourceFormat ? { sourceFormat: request.sourceFormat } : {}) },
          {
            signal: controller.signal,
            onProgress: (p) => {
              if (get().diskImport.busy === 'import') patchImport({ progress: p });
            },
          },
        );
        patchImport({ result });
        return result;
      } catch (err) {
        patchImport(isCancelled(err) ? { cancelled: true } : { error: messageOf(err) });
        return null;
      } finally {
        if (importController === controller) importController = null;
        patchImport({ busy: null, progress: null });
      }
    },
    cancelDiskImport() {
      importController?.abort();
    },
    resetDiskImport() {
      const { busy } = get().diskImport;
      set({ diskImport: busy ? { ...get().diskImport, inspected: null, error: null } : IDLE_IMPORT });
    },
  };
};
