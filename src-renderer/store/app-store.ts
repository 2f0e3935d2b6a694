// The renderer's one zustand store, made of slices: session (login state) and library (a
// cache of what main owns — never persisted here).
import { create } from 'zustand';
import type { VmDetails, VmListEntry } from '../../src-shared/contracts/library';
import type { ControlTransport } from '../transport/control-transport';

interface SessionSlice {
  transport: ControlTransport | null;
  session: 'unknown' | 'authenticated' | 'login-required';
  sessionError: string | null;
  connectionError: string | null;
  init(transport: ControlTransport): Promise<void>;
  login(credentials: { password?: string; token?: string }): Promise<void>;
  logout(): Promise<void>;
}

interface LibrarySlice {
  vms: VmListEntry[];
  loading: boolean;
  libraryError: string | null;
  selectedId: string | null;
  details: VmDetails | null;
  filter: string;
  refresh(): Promise<void>;
  select(id: string | null): Promise<void>;
  setFilter(filter: string): void;
}

export type AppState = SessionSlice & LibrarySlice;

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export const useAppStore = create<AppState>()((set, get) => ({
  transport: null,
  session: 'unknown',
  sessionError: null,
  connectionError: null,
  async init(transport) {
    set({ transport });
    transport.onEvent((event) => {
      if (event === 'library.changed') void get().refresh();
    });
    transport.onDisconnect((reason) => {
      set({ connectionError: reason });
      // A logout or expiry elsewhere ends this session too: back to the login screen.
      void transport.session().then(
        (s) => set({ session: s }),
        () => undefined,
      );
    });
    const session = await transport.session();
    set({ session });
    if (session === 'authenticated') await get().refresh();
  },
  async login(credentials) {
    const t = get().transport;
    if (!t) return;
    try {
      await t.login(credentials);
      set({ session: 'authenticated', sessionError: null, connectionError: null });
      await get().refresh();
    } catch (err) {
      set({ sessionError: message(err) });
    }
  },
  async logout() {
    const t = get().transport;
    if (!t) return;
    await t.logout();
    set({ session: 'login-required', vms: [], details: null, selectedId: null });
  },

  vms: [],
  loading: false,
  libraryError: null,
  selectedId: null,
  details: null,
  filter: '',
  async refresh() {
    const t = get().transport;
    if (!t) return;
    set({ loading: true });
    try {
      const vms = await t.call<VmListEntry[]>('library', 'list', []);
      set({ vms, loading: false, libraryError: null, connectionError: null });
      const sel = get().selectedId;
      if (sel) await get().select(vms.some((v) => v.id === sel) ? sel : null);
    } catch (err) {
      set({ loading: false, libraryError: message(err) });
    }
  },
  async select(id) {
    const t = get().transport;
    set({ selectedId: id, details: null });
    if (!t || !id) return;
    const entry = get().vms.find((v) => v.id === id);
    if (!entry || entry.kind !== 'ok') return;
    try {
      const details = await t.call<VmDetails>('library', 'show', [id]);
      if (get().selectedId === id) set({ details });
    } catch (err) {
      set({ libraryError: message(err) });
    }
  },
  setFilter(filter) {
    set({ filter });
  },
}));

/** Named selector: the list as filtered by the search box. */
export function selectFilteredVms(s: AppState): VmListEntry[] {
  const f = s.filter.trim().toLowerCase();
  if (!f) return s.vms;
  return s.vms.filter((v) => (v.kind === 'ok' ? v.name : v.id).toLowerCase().includes(f));
}
