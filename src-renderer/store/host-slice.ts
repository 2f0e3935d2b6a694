// Host slice: the host's limits for a VM (immediate) and the probe's facts (may take seconds
// the first time: the probe boots test guests), as main reports them.
import type { StateCreator } from 'zustand';
import type { VmHostLimits } from '../../src-shared/contracts/host';
import type { HostInfo } from '../../src-shared/host-info';
import type { AppState } from './app-store';
import { messageOf } from './store-errors';

export interface HostSlice {
  limits: VmHostLimits | null;
  hostInfo: HostInfo | null;
  hostState: 'idle' | 'loading' | 'ready' | 'error';
  hostError: string | null;
  loadLimits(): Promise<void>;
  /** `refresh` re-probes (boots test guests again). */
  loadHostInfo(refresh: boolean): Promise<void>;
}

export const createHostSlice: StateCreator<AppState, [], [], HostSlice> = (set, get) => ({
  limits: null,
  hostInfo: null,
  hostState: 'idle',
  hostError: null,
  async loadLimits() {
    const services = get().services;
    if (!services) return;
    try {
      set({ limits: await services.host.limits() });
    } catch (err) {
      set({ hostError: messageOf(err) });
    }
  },
  async loadHostInfo(refresh) {
    const services = get().services;
    if (!services || (get().hostState === 'loading' && !refresh)) return;
    set({ hostState: 'loading', hostError: null });
    try {
      const info = await services.host.info({ refresh });
      set({ hostInfo: info, hostState: 'ready' });
    } catch (err) {
      set({ hostState: 'error', hostError: messageOf(err) });
    }
  },
});
