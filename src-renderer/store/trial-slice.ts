// Trial slice: linked clones and "Try it on a copy" — making a linked clone, starting a trial of a
// powered-off VM, and ending a trial (Keep: made independent, its disks flattened; Discard: deleted
// with its disks) with the progress of that end. Every change goes through the control services.
import type { StateCreator } from 'zustand';
import type { JobOptions } from '../../src-shared/contracts/jobs';
import type { VmDetails } from '../../src-shared/contracts/library';
import type { TrialResult } from '../../src-shared/contracts/snapshots';
import type { AppState } from './app-store';
import { messageOf } from './store-errors';

export type TrialEndOp = 'keep' | 'discard';

/** A Keep or Discard under way on a trial VM, and how far it has come (0..1). */
export interface TrialActivity {
  readonly op: TrialEndOp;
  readonly fraction: number;
}

export interface TrialSlice {
  /** Trial VM id → its Keep or Discard under way (the banner shows it; its buttons disable). */
  trialBusy: Readonly<Record<string, TrialActivity>>;
  /** Makes a linked clone of a powered-off VM (a job) and selects it; throws what the server said. */
  linkedCloneVm(id: string, newName: string, job?: JobOptions): Promise<VmDetails>;
  /** "Try it on a copy": a started linked clone of a powered-off VM (a job), then selected; throws. */
  tryOnCopy(vmId: string, job?: JobOptions): Promise<TrialResult>;
  /**
   * Ends a trial: Keep (the trial becomes an ordinary VM) or Discard (deleted with its disks; its
   * source is selected instead). Progress in `trialBusy`; the outcome or failure becomes a notice.
   * False when refused (another end under way) or failed.
   */
  endTrial(trialId: string, keep: boolean): Promise<boolean>;
}

function without<T>(record: Readonly<Record<string, T>>, key: string): Record<string, T> {
  const { [key]: _gone, ...rest } = record;
  return rest;
}

export const createTrialSlice: StateCreator<AppState, [], [], TrialSlice> = (set, get) => {
  function servicesOrThrow() {
    const s = get().services;
    if (!s) throw new Error('The store has no control services yet (init was not called).');
    return s;
  }

  return {
    trialBusy: {},
    async linkedCloneVm(id, newName, job) {
      const vm = await servicesOrThrow().library.linkedClone(id, newName, job);
      await get().refresh();
      await get().select(vm.config.id);
      return vm;
    },
    async tryOnCopy(vmId, job) {
      const trial = await servicesOrThrow().snapshots.tryCopy(vmId, job);
      await get().refresh();
      await get().select(trial.trialId);
      return trial;
    },
    async endTrial(trialId, keep) {
      const services = get().services;
      if (!services || get().trialBusy[trialId]) return false;
      const op: TrialEndOp = keep ? 'keep' : 'discard';
      set({ trialBusy: { ...get().trialBusy, [trialId]: { op, fraction: 0 } } });
      const sourceId = get().details?.config.id === trialId ? get().details?.config.linkedClone?.sourceId : undefined;
      try {
        const end = await services.snapshots.endTrial(
          trialId,
          { keep },
          {
            onProgress: (p) => {
              if (get().trialBusy[trialId]?.op === op) {
                set({ trialBusy: { ...get().trialBusy, [trialId]: { op, fraction: p.fraction } } });
              }
            },
          },
        );
        get().notify({
          tone: 'info',
          key: end.outcome === 'kept' ? 'trial.kept' : 'trial.discarded',
          values: { name: end.trialName },
        });
        // A discarded trial is gone: its source (still in the list) takes its place in the details.
        if (end.outcome === 'discarded' && get().selectedId === trialId) {
          const next = sourceId && get().vms.some((v) => v.id === sourceId) ? sourceId : null;
          await get().select(next);
        }
        return true;
      } catch (err) {
        get().notify({ tone: 'error', key: 'errors.server', values: { message: messageOf(err) } });
        return false;
      } finally {
        set({ trialBusy: without(get().trialBusy, trialId) });
        await get().refresh();
      }
    },
  };
};
