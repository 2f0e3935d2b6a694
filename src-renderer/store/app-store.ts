// The renderer's one zustand store, combined from slices: session, library (a cache of what
// main owns — never persisted here), host facts, and UI state (page, dialogs, notices, ISO import).
import { create } from 'zustand';
import type { VmListEntry } from '../../src-shared/contracts/library';
import { createHostSlice, type HostSlice } from './host-slice';
import { createLibrarySlice, type LibrarySlice } from './library-slice';
import { createSessionSlice, type SessionSlice } from './session-slice';
import { createUiSlice, type UiSlice } from './ui-slice';

export type AppState = SessionSlice & LibrarySlice & HostSlice & UiSlice;

export const useAppStore = create<AppState>()((...a) => ({
  ...createSessionSlice(...a),
  ...createLibrarySlice(...a),
  ...createHostSlice(...a),
  ...createUiSlice(...a),
}));

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
