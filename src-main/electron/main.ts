// Electron main process: app lifecycle, the one main window (sandboxed, context-isolated,
// strict CSP), and the IPC glue that routes validated control calls to the plain-Node services.
import { app, BrowserWindow, ipcMain, session, shell, type IpcMainInvokeEvent } from 'electron';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { dispatchControl, type ControlServices } from '../../src-shared/contracts/control';
import { toWireError, type WireResult } from '../../src-shared/errors';
import { CONTROL_CHANNEL } from '../../src-shared/contracts/ipc-channels';
import { resolveMaruHome } from '../services/maru-home';
import { createControlServices } from '../services/control-services';
import { RENDERER_CSP } from '../services/renderer-csp';

process.on('unhandledRejection', (reason) => {
  console.error('maru main: unhandled rejection', reason);
});

const rendererDir = path.join(__dirname, '..', 'renderer');
const rendererIndex = pathToFileURL(path.join(rendererDir, 'index.html')).href;

function createServices(): ControlServices {
  return createControlServices({ maruHome: resolveMaruHome(), confineMedia: false });
}

function isOurRenderer(event: IpcMainInvokeEvent): boolean {
  // Only our own bundled page may call control services (no remote or navigated content).
  return event.senderFrame?.url.startsWith(pathToFileURL(rendererDir).href) ?? false;
}

function createMainWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1280,
    height: 820,
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
  win.once('ready-to-show', () => win.show());
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
  const services = createServices();
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
  createMainWindow();
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createMainWindow();
  });
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
}

void main();
