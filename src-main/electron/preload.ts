// Preload (sandboxed, CommonJS bundle): exposes one function per concern to the page and
// never `ipcRenderer` itself. Display ports from main are re-posted into the page.
import { contextBridge, ipcRenderer, webUtils } from 'electron';
import { CONTROL_CHANNEL } from '../../src-shared/contracts/ipc-channels';

const OPEN_CONSOLE_CHANNEL = 'maru:open-console';
const CONSOLE_PORT_CHANNEL = 'maru:console-port';
const MENU_ACTION_CHANNEL = 'maru:menu-action';

// Main posts a MessagePort per display viewer; hand it to the page (ports cannot cross
// contextBridge, window.postMessage can carry them).
ipcRenderer.on(CONSOLE_PORT_CHANNEL, (event, msg: { vmId?: unknown }) => {
  if (typeof msg?.vmId !== 'string') return;
  window.postMessage(
    { type: 'maru-console-port', vmId: msg.vmId },
    window.location.origin === 'null' ? '*' : window.location.origin,
    event.ports,
  );
});

const api = {
  transport: 'electron' as const,
  control(service: string, method: string, args: unknown[]): Promise<unknown> {
    if (typeof service !== 'string' || typeof method !== 'string' || !Array.isArray(args)) {
      return Promise.reject(new TypeError('maruDesktop.control(service, method, args[])'));
    }
    return ipcRenderer.invoke(CONTROL_CHANNEL, { service, method, args });
  },
  async openConsole(vmId: string): Promise<void> {
    if (typeof vmId !== 'string') throw new TypeError('maruDesktop.openConsole(vmId)');
    const r = (await ipcRenderer.invoke(OPEN_CONSOLE_CHANNEL, vmId)) as { ok: boolean; error?: { message: string } };
    if (!r.ok) throw new Error(r.error?.message ?? 'Cannot open the VM display.');
  },
  /** The host path of a dropped file (sandboxed pages cannot see paths themselves). */
  pathForFile(file: File): string {
    return webUtils.getPathForFile(file);
  },
  onMenuAction(listener: (action: string) => void): () => void {
    const l = (_e: unknown, action: unknown) => {
      if (typeof action === 'string') listener(action);
    };
    ipcRenderer.on(MENU_ACTION_CHANNEL, l);
    return () => ipcRenderer.removeListener(MENU_ACTION_CHANNEL, l);
  },
};

contextBridge.exposeInMainWorld('maruDesktop', api);
