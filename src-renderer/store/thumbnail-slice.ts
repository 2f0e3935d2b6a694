// Thumbnail slice: the screens the library rows show (`services.vm.thumbnail`: the live screen
// of a running VM, else the last one kept), cached by VM id as data: URLs. Rows ask for reads
// (library/VmThumbnail.tsx schedules them); `snapshots.changed` reads a shown VM's screen again.
import type { StateCreator } from 'zustand';
import type { VmPowerState } from '../../src-shared/contracts/library';
import type { AppState } from './app-store';

/** One VM's row screen as last read. */
export interface VmRowScreen {
  /** A data: URL of the PNG, or null when the VM has no screen to show (the row shows its OS icon). */
  readonly src: string | null;
  /** The VM's live screen (it was running or paused), not a kept one. */
  readonly live: boolean;
  /** The VM's power state when the read began: a kept screen stays good while the state does. */
  readonly forState: VmPowerState;
  /** When the read answered (ms since the epoch): a row shown again waits out the refresh interval. */
  readonly at: number;
}

export interface ThumbnailSlice {
  /** VM id → its row's screen; absent until read (or once it may be out of date). */
  vmThumbnails: Readonly<Record<string, VmRowScreen>>;
  /** Reads a VM's screen (one read at a time per VM; asked again meanwhile, it reads once more after). */
  loadVmThumbnail(vmId: string): Promise<void>;
  /** A row showing this VM is rendered; returns its release. */
  watchVmThumbnail(vmId: string): () => void;
  /** The VM's screen may have changed without a state change (a snapshot restored): read again or forget it. */
  vmThumbnailStale(vmId: string): void;
}

export const createThumbnailSlice: StateCreator<AppState, [], [], ThumbnailSlice> = (set, get, api) => {
  /** VM id → how many rendered rows show it. */
  const watched = new Map<string, number>();
  const reading = new Map<string, Promise<void>>();
  const readAgain = new Set<string>();

  function forget(vmId: string): void {
    if (!(vmId in get().vmThumbnails)) return;
    const { [vmId]: _gone, ...rest } = get().vmThumbnails;
    set({ vmThumbnails: rest });
  }

  /**
   * A screen no row shows is dropped once it may be wrong: its VM is gone, or its state moved
   * on (off → running → off while scrolled away ends on a new last screen). A shown row reads
   * again on its state change by itself.
   */
  function dropOutdated(): void {
    for (const [vmId, screen] of Object.entries(get().vmThumbnails)) {
      if (watched.has(vmId)) continue;
      const vm = get().vms.find((v) => v.id === vmId);
      if (!vm || vm.kind !== 'ok' || vm.state !== screen.forState) forget(vmId);
    }
  }

  api.subscribe((state, prev) => {
    if (state.vms !== prev.vms) dropOutdated();
  });

  async function read(vmId: string): Promise<void> {
    const services = get().services;
    if (!services) return;
    do {
      readAgain.delete(vmId);
      const vm = get().vms.find((v) => v.id === vmId);
      if (!vm || vm.kind !== 'ok') return;
      const forState = vm.state;
      try {
        const shot = await services.vm.thumbnail(vmId);
        const screen: VmRowScreen = {
          src: shot ? `data:image/png;base64,${shot.pngBase64}` : null,
          live: shot?.live ?? false,
          forState,
          at: Date.now(),
        };
        set({ vmThumbnails: { ...get().vmThumbnails, [vmId]: screen } });
      } catch {
        // The connection dropped or the VM went away: the row keeps what it shows (the OS icon
        // when nothing was read), and its next read (or the next time it is shown) tries again.
        continue;
      }
    } while (readAgain.has(vmId));
  }

  return {
    vmThumbnails: {},
    loadVmThumbnail(vmId) {
      const running = reading.get(vmId);
      if (running) {
        readAgain.add(vmId);
        return running;
      }
      const r = read(vmId).finally(() => reading.delete(vmId));
      reading.set(vmId, r);
      return r;
    },
    watchVmThumbnail(vmId) {
      watched.set(vmId, (watched.get(vmId) ?? 0) + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const n = (watched.get(vmId) ?? 1) - 1;
        if (n > 0) watched.set(vmId, n);
        else {
          watched.delete(vmId);
          dropOutdated();
        }
      };
    },
    vmThumbnailStale(vmId) {
      if (watched.has(vmId)) void get().loadVmThumbnail(vmId);
      else forget(vmId);
    },
  };
};
