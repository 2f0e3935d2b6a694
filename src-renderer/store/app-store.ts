// The renderer's zustand store, combined from slices: session, library (a cache of what main
// owns — never persisted here), host facts, UI state (page, dialogs, notices, ISO import), the
// open snapshot trees with their operations, the library rows' screens, linked clones / trials,
// disk operations (grow, compact, import), VM archives (export, import), the drives of the VM
// whose settings are open and the media manager's list.
// One store per page, handed down by context: the browser's, made in main.tsx, and one per
// server render of a signed-in page (the web console paints the library before any script
// runs). Both start from the same seed, so the page hydrates without a difference.
import { createContext, useContext } from 'react';
import { createStore, useStore, type StoreApi } from 'zustand';
import type { VmListEntry } from '../../src-shared/contracts/library';
import { createBackupSlice, type BackupSlice } from './backup-slice';
import { createDiskSlice, type DiskSlice } from './disk-slice';
import { createHostSlice, type HostSlice } from './host-slice';
import { createLibrarySlice, type LibrarySlice } from './library-slice';
import { createMediaSlice, type MediaSlice } from './media-slice';
import { createSessionSlice, type SessionSlice } from './session-slice';
import { createSnapshotSlice, type SnapshotSlice } from './snapshot-slice';
import { createStorageSlice, type StorageSlice } from './storage-slice';
import { createThumbnailSlice, type ThumbnailSlice } from './thumbnail-slice';
import { createTrialSlice, type TrialSlice } from './trial-slice';
import { createUiSlice, type UiSlice } from './ui-slice';

export type AppState = SessionSlice &
  LibrarySlice &
  HostSlice &
  UiSlice &
  SnapshotSlice &
  ThumbnailSlice &
  TrialSlice &
  DiskSlice &
  BackupSlice &
  StorageSlice &
  MediaSlice;
export type AppStore = StoreApi<AppState>;

/** A store whose initial state is the slices' defaults overlaid with `seed`. */
export function createAppStore(seed: Partial<AppState> = {}): AppStore {
  return createStore<AppState>()((...a) => ({
    ...createSessionSlice(...a),
    ...createLibrarySlice(...a),
    ...createHostSlice(...a),
    ...createUiSlice(...a),
    ...createSnapshotSlice(...a),
    ...createThumbnailSlice(...a),
    ...createTrialSlice(...a),
    ...createDiskSlice(...a),
    ...createBackupSlice(...a),
    ...createStorageSlice(...a),
    ...createMediaSlice(...a),
    ...seed,
  }));
}

/**
 * The state a signed-in web console page starts from when the server sent the library with it
 * (the server renders that state; the browser hydrates it).
 */
export function signedInSeed(vms: VmListEntry[]): Partial<AppState> {
  return { transportKind: 'web', session: 'authenticated', vms, loaded: true };
}

const StoreContext = createContext<AppStore | null>(null);
/** Gives the tree below its store. */
export const AppStoreProvider = StoreContext.Provider;

/** The store of the tree this component is in (for calls from event handlers). */
export function useAppStoreApi(): AppStore {
  const store = useContext(StoreContext);
  if (!store) throw new Error('no AppStoreProvider above this component');
  return store;
}

/** The store's actions (its functions): they never change, so reading them subscribes to nothing. */
export type AppActions = {
  [K in keyof AppState as AppState[K] extends (...args: never[]) => unknown ? K : never]: AppState[K];
};

/** This tree's store actions, for event handlers (`const { openDialog } = useAppActions()`). */
export function useAppActions(): AppActions {
  return useAppStoreApi().getState();
}

/** A slice of this tree's store state; re-renders when it changes. */
export function useAppStore<T>(selector: (s: AppState) => T): T {
  return useStore(useAppStoreApi(), selector);
}

/** Named selector: the list as filtered by the search box (name, OS id, state). */
export function selectFilteredVms(s: AppState): VmListEntry[] {
  const f = s.filter.trim().toLowerCase();
  if (!f) return s.vms;
  return s.vms.filter((v) => (v.kind === 'ok' ? v.name : v.id).toLowerCase().includes(f));
}

/** Named selector: the selected list entry. */
export function selectSelectedVm(s: AppState): VmListEntry | undefined {
  return s.vms.find((v) => v.id === s.selectedId);
}

/** Names of every VM except `exceptId` (duplicate-name checks in the wizard and settings). */
export function otherVmNames(vms: readonly VmListEntry[], exceptId?: string): string[] {
  return vms.flatMap((v) => (v.kind === 'ok' && v.id !== exceptId ? [v.name] : []));
}
