// Electron main process: app lifecycle, the one main window (sandboxed, context-isolated,
// strict CSP), the IPC glue that routes validated control calls to the plain-Node services,
// VMs in utility processes, display ports, menus, and what closing with running VMs does.
import { app, BrowserWindow, dialog, ipcMain, session, shell, type IpcMainInvokeEvent } from 'electron';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { dispatchControl, type ControlServices } from '../../src-shared/contracts/control';
import { toWireError, type WireResult } from '../../src-shared/errors';
import { CONTROL_CHANNEL } from '../../src-shared/contracts/ipc-channels';
import { resolveMaruHome } from '../services/maru-home';
import { createControlServices } from '../services/control-services';
import { RENDERER_CSP } from '../services/renderer-csp';
import { isUuid } from '../../src-shared/ids';
import { connectEngineHost, startVm, waitForEngineHostExit } from '../services/engine-launcher';
import { DesktopEngines } from './desktop-engines';
import { installAppMenu } from './app-menu';
import { loadWindowState, trackWindowState } from './window-state';

/** Channel on which the preload asks main for a VM's display port. */
const OPEN_CONSOLE_CHANNEL = 'maru:open-console';

process.on('unhandledRejection', (reason) => {
  console.error('maru main: unhandled rejection', reason);
});

const rendererDir = path.join(__dirname, '..', 'renderer');
const rendererIndex = pathToFileURL(path.join(rendererDir, 'index.html')).href;

const maruHome = resolveMaruHome();
let mainWindow: BrowserWindow | null = null;
let engines: DesktopEngines | null = null;

function createServices(desktop: DesktopEngines): ControlServices {
  const services = createControlServices({ maruHome, confineMedia: false });
  // From the desktop a VM runs in a utility process of this app (it ends with the app; the
  // close dialog offers to keep it running headless instead).
  const vm = services.vm;
  services.vm = Object.assign(Object.create(Object.getPrototypeOf(vm) as object) as typeof vm, vm, {
    start: async (ref: string) => {
      const status = await desktop.start(ref);
      return { vmId: status.vmId, status };
    },
  });
  return services;
}

function isOurRenderer(event: IpcMainInvokeEvent): boolean {
  // Only our own bundled page may call control services (no remote or navigated content).
  return event.senderFrame?.url.startsWith(pathToFileURL(rendererDir).href) ?? false;
}

function createMainWindow(): BrowserWindow {
  const saved = loadWindowState(maruHome);
  const win = new BrowserWindow({
    width: saved?.bounds.width ?? 1280,
    height: saved?.bounds.height ?? 820,
    ...(saved ? { x: saved.bounds.x, y: saved.bounds.y } : {}),
    minWidth: 900,
    minHeight: 600,
    title: 'Maru',
    show: false,
    webPreferences: {
      preload: path.join(__dirname, 'preload.cjs'),
      sandbox: true,
      contextIsolation: true,
      nodeIntegration: false,
      webSecurity: true,
      spellcheck: false,
    },
  });
  win.once('ready-to-show', () => {
    if (saved?.maximized) win.maximize();
    win.show();
  });
  trackWindowState(win, maruHome);
  win.on('close', (e) => void confirmClose(e, win));
  // No navigation away from the app, no new windows: links open in the system browser.
  win.webContents.on('will-navigate', (e, url) => {
    if (url !== rendererIndex) e.preventDefault();
  });
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (url.startsWith('https://')) void shell.openExternal(url);
    return { action: 'deny' };
  });
  void win.loadURL(rendererIndex);
  return win;
}

async function main(): Promise<void> {
  await app.whenReady();
  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [RENDERER_CSP] } });
  });
  session.defaultSession.setPermissionRequestHandler((_wc, permission, callback) => {
    callback(permission === 'clipboard-sanitized-write');
  });
  engines = new DesktopEngines(maruHome, () => mainWindow?.webContents.send('maru:vms-changed'));
  const services = createServices(engines);
  installAppMenu(() => mainWindow, process.platform === 'darwin');
  ipcMain.handle(OPEN_CONSOLE_CHANNEL, async (event, vmId: unknown) => {
    if (!isOurRenderer(event)) return toWireError(new Error('console request from an unknown frame refused'));
    try {
      if (typeof vmId !== 'string' || !isUuid(vmId)) throw new TypeError('vmId must be a VM uuid');
      await engines!.openConsole(vmId, event.sender);
      return { ok: true, value: null };
    } catch (err) {
      return toWireError(err);
    }
  });
  ipcMain.handle(CONTROL_CHANNEL, async (event, req: unknown): Promise<WireResult<unknown>> => {
    if (!isOurRenderer(event)) return toWireError(new Error('control call from an unknown frame refused'));
    try {
      if (typeof req !== 'object' || req === null) throw new TypeError('control request must be an object');
      const r = req as { service?: unknown; method?: unknown; args?: unknown };
      const value = await dispatchControl(services, {
        service: String(r.service),
        method: String(r.method),
        args: r.args,
      });
      return { ok: true, value };
    } catch (err) {
      return toWireError(err);
    }
  });
  mainWindow = createMainWindow();
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) mainWindow = createMainWindow();
  });
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
}

let closingDecided = false;

/**
 * Closing the window with VMs running in this app's utility processes (which end with it):
 * save their state, power them off, or keep them running headless (saved, then resumed in a
 * detached engine host that outlives the app).
 */
async function confirmClose(e: Electron.Event, win: BrowserWindow): Promise<void> {
  const running = engines?.runningHere() ?? [];
  if (closingDecided || running.length === 0) return;
  e.preventDefault();
  const { response } = await dialog.showMessageBox(win, {
    type: 'question',
    message: `${running.length} virtual machine${running.length > 1 ? 's are' : ' is'} running.`,
    detail: 'VMs started from this window stop when Maru closes. What should happen to them?',
    buttons: ['Save state', 'Power off', 'Keep running in the background', 'Cancel'],
    defaultId: 0,
    cancelId: 3,
  });
  if (response === 3) return;
  for (const vmId of running) {
    try {
      const { client } = await connectEngineHost(maruHome, vmId);
      try {
        const pid = (await client.status()).pid;
        if (response === 1) await client.stop({ mode: 'acpi', timeoutMs: 30_000 });
        else await client.saveState();
        await waitForEngineHostExit(pid);
      } finally {
        client.dispose();
      }
      // Saved state resumes in a detached engine host: the VM keeps running without the app.
      if (response === 2) await startVm(maruHome, vmId);
    } catch (err) {
      dialog.showErrorBox(
        'Maru',
        `Could not ${['save', 'power off', 'move'][response]} a VM: ${(err as Error).message}`,
      );
      return;
    }
  }
  closingDecided = true;
  win.close();
}

app.on('before-quit', () => engines?.dispose());

void main();
