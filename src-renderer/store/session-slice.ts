// Session slice: the transport, the typed client of the control services over it, and whether
// the user is logged in (the web console) — the desktop is always "authenticated". It listens
// to the transport once: change events refresh what the store caches, a lost connection is
// retried (then the library is refreshed once).
import type { StateCreator } from 'zustand';
import { createControlClient, type ControlServices } from '../../src-shared/contracts/control';
import type { VmListEntry } from '../../src-shared/contracts/library';
import { WebTransport } from '../transport/web-transport';
import type { ControlTransport } from '../transport/control-transport';
import type { AppState } from './app-store';
import { messageOf } from './store-errors';

export interface SessionSlice {
  transport: ControlTransport | null;
  /** The control services over `transport` (null until `init`). Every call goes through it. */
  services: ControlServices | null;
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

/** Waits between reconnect attempts: 0.5 s, doubling up to 30 s. */
const RECONNECT_FIRST_MS = 500;
const RECONNECT_MAX_MS = 30_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const createSessionSlice: StateCreator<AppState, [], [], SessionSlice> = (set, get) => {
  let reconnecting = false;

  /** After a lost connection: until the server answers again, or the session is gone. */
  async function reconnect(transport: ControlTransport, services: ControlServices): Promise<void> {
    if (reconnecting) return;
    reconnecting = true;
    try {
      for (let wait = RECONNECT_FIRST_MS; ; wait = Math.min(wait * 2, RECONNECT_MAX_MS)) {
        const session = await transport.session().catch(() => null);
        if (session === 'login-required') {
          set({ session });
          return;
        }
        // The list call reopens the control socket (events flow again); it refreshes the library once.
        const vms = session ? await services.library.list().catch(() => null) : null;
        if (vms) {
          await get().refresh(Promise.resolve(vms));
          return;
        }
        await sleep(wait);
      }
    } finally {
      reconnecting = false;
    }
  }

  return {
    transport: null,
    services: null,
    transportKind: null,
    session: 'unknown',
    sessionError: null,
    connectionError: null,
    async init(transport, inline = null) {
      const services = createControlClient(transport);
      set({ transport, services, transportKind: transport.kind });
      transport.onEvent((event) => get().applyControlEvent(event));
      transport.onDisconnect((reason) => {
        set({ connectionError: reason });
        // A logout or expiry elsewhere ends this session too (back to the login screen);
        // otherwise the connection is retried.
        void reconnect(transport, services);
      });
      // Ask for the list while the session is checked: a returning user's library arrives one
      // round trip sooner (without a session the call just fails and is dropped). In the web
      // console a signed-in user's page already carries it; else it comes over HTTP.
      const early = (
        inline
          ? Promise.resolve(inline)
          : transport instanceof WebTransport
            ? transport.listViaHttp()
            : services.library.list()
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
  };
};
