// Storage slice: the drives of the VM whose settings are open (disks, CD/DVD and floppy drives,
// where each sits, what an engine cannot run), and adding, removing and re-loading them. Each
// change is one call of `services.library` / `services.vm` and applies at once; the drive list,
// the library and the VM's details are read again after it. Errors stay in place for the list.
import type { StateCreator } from 'zustand';
import type { AttachStorageArgs, VmStorage } from '../../src-shared/contracts/library';
import type { AppState } from './app-store';
import { messageOf } from './store-errors';

export interface StorageView {
  readonly vmId: string;
  readonly data: VmStorage | null;
  /** A change under way (the buttons wait for it). */
  readonly busy: boolean;
  /** The server's message for the last change or load that failed. */
  readonly error: string | null;
}

export interface StorageSlice {
  storageView: StorageView | null;
  /** Reads the VM's drives (the settings dialog opened, or something changed). */
  loadStorage(vmId: string): Promise<void>;
  /** Adds a drive to a powered-off VM; false when refused or failed (the error is kept). */
  attachDrive(vmId: string, args: AttachStorageArgs): Promise<boolean>;
  /** Removes a drive from a powered-off VM (a disk's file stays; the notice says where). */
  detachDrive(vmId: string, driveId: string): Promise<boolean>;
  /** Puts an image in a CD/DVD or floppy drive, or empties it: at once while it runs, else in its settings. */
  setDriveMedium(vmId: string, driveId: string, medium: string | null): Promise<boolean>;
  /** The settings dialog closed: forget the list. */
  clearStorage(): void;
}

export const createStorageSlice: StateCreator<AppState, [], [], StorageSlice> = (set, get) => {
  function patch(vmId: string, p: Partial<StorageView>): void {
    const cur = get().storageView;
    set({ storageView: { ...(cur?.vmId === vmId ? cur : { vmId, data: null, busy: false, error: null }), ...p } });
  }

  /** One change: busy while it runs, then the list, the library and the details read again. */
  async function change(vmId: string, fn: () => Promise<readonly string[]>): Promise<boolean> {
    const services = get().services;
    if (!services || get().storageView?.busy) return false;
    patch(vmId, { busy: true, error: null });
    let ok = false;
    try {
      for (const w of await fn())
        get().notify({ tone: 'warning', key: 'errors.serverWarning', values: { message: w } });
      ok = true;
    } catch (err) {
      patch(vmId, { error: messageOf(err) });
    }
    await get().refresh();
    try {
      patch(vmId, { data: await services.library.storage(vmId) });
    } catch (err) {
      patch(vmId, { error: messageOf(err) });
    }
    patch(vmId, { busy: false });
    return ok;
  }

  return {
    storageView: null,
    async loadStorage(vmId) {
      const services = get().services;
      if (!services) return;
      patch(vmId, { error: null });
      try {
        patch(vmId, { data: await services.library.storage(vmId) });
      } catch (err) {
        patch(vmId, { error: messageOf(err) });
      }
    },
    attachDrive(vmId, args) {
      return change(vmId, async () => {
        const r = await get().services!.library.attachStorage(vmId, args);
        get().notify({ tone: 'info', key: 'storage.attached', values: { drive: r.drive.id } });
        return r.warnings;
      });
    },
    detachDrive(vmId, driveId) {
      return change(vmId, async () => {
        const r = await get().services!.library.detachStorage(vmId, driveId);
        get().notify(
          r.keptFile
            ? { tone: 'info', key: 'storage.detachedKept', values: { drive: driveId, file: r.keptFile } }
            : { tone: 'info', key: 'storage.detached', values: { drive: driveId } },
        );
        return [];
      });
    },
    setDriveMedium(vmId, driveId, medium) {
      return change(vmId, async () => {
        const r = await get().services!.vm.changeMedium(vmId, driveId, medium);
        const key = r.iso
          ? r.live
            ? 'storage.insertedLive'
            : 'storage.inserted'
          : r.live
            ? 'storage.ejectedLive'
            : 'storage.ejected';
        get().notify({ tone: 'info', key, values: { drive: r.drive ?? driveId } });
        return [];
      });
    },
    clearStorage() {
      set({ storageView: null });
    },
  };
};
