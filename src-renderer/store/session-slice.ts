// Session slice: which transport the renderer has and whether the user is logged in (the
// web console) — the desktop is always "authenticated".
import type { StateCreator } from 'zustand';
import { WebTransport } from '../transport/web-transport';
import type { VmListEntry } from '../../src-shared/contracts/library';
import type { ControlTransport } from '../transport/control-transport';
import type { AppState } from './app-store';
import { messageOf } from './store-errors';

export interface SessionSlice {
  transport: ControlTransport | null;
  /** Which transport (known before it is handed over: a server-rendered page shows it). */
  transportKind: ControlTransport['kind'] | null;
  session: 'unknown' | 'authenticated' | 'login-required';
  sessionError: string | null;
  connectionError: string | null;
  /**
   * Connects the store to its transport. `inline` is the library list a signed-in web console
   * page came with (the server only sends it for a valid session).
   */
  init(transport: ControlTransport, inline?: VmListEntry[] | null): Promise<void>;
  login(credentials: { password?: string; token?: string }): Promise<void>;
  logout(): Promise<void>;
}

export const createSessionSlice: StateCreator<AppState, [], [], SessionSlice> = (set, get) => ({
  transport: null,
  transportKind: null,
  session: 'unknown',
  sessionError: null,
  connectionError: null,
  async init(transport, inline = null) {
    set({ transport, transportKind: transport.kind });
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
    // Ask for the list while the session is checked: a returning user's library arrives one
    // round trip sooner (without a session the call just fails and is dropped). In the web
    // console a signed-in user's page already carries it; else it comes over HTTP.
    const early = (
      inline
        ? Promise.resolve(inline)
        : transport instanceof WebTransport
          ? transport.listViaHttp<VmListEntry[]>()
          : transport.call<VmListEntry[]>('library', 'list', [])
    ).then(
      (vms) => vms,
      () => null,
    );
    const checked = transport.session();
    if (inline) {
      // The server put the list in the page because this browser's session was valid: show
      // the library now; the check (it brings the CSRF token) finishes meanwhile.
      set({ session: 'authenticated' });
      void checked.then(
        (s) => {
          if (s !== 'authenticated') set({ session: s });
        },
        () => undefined,
      );
      await get().afterLogin(early);
      return;
    }
    const session = await checked;
    set({ session });
    if (session === 'authenticated') await get().afterLogin(early);
  },
  async login(credentials) {
    const t = get().transport;
    if (!t) return;
    try {
      await t.login(credentials);
      set({ session: 'authenticated', sessionError: null, connectionError: null });
      await get().afterLogin();
    } catch (err) {
      set({ sessionError: messageOf(err) });
    }
  },
  async logout() {
    const t = get().transport;
    if (!t) return;
    await t.logout();
    set({ session: 'login-required', vms: [], details: null, selectedId: null, dialog: null, view: 'library' });
  },
});
