// Electron main process: app lifecycle and the one main window (sandboxed, context-isolated,
// served from maru-app:// with a strict CSP, no navigation, links only through the allowlist),
// wiring the shared control services to IPC, and what closing with VMs running here does.
import { app, BrowserWindow, dialog, session, type WebContents } from 'electron';
import path from 'node:path';
import type { ControlServices } from '../../src-shared/contracts/control';
import { createControlServices } from '../services/control-services';
import { resolveMaruHome } from '../services/maru-home';
import { installAppMenu } from './app-menu';
import { APP_INDEX_URL, isAppUrl, registerAppScheme, serveRenderer } from './app-protocol';
import { installConsolePorts } from './console-ports';
import { installShowInFolder } from './show-in-folder';
import { installControlIpc, UtilityProcessSpawner } from './desktop-road';
import { openExternalLink } from './external-links';
import { loadWindowState, trackWindowState } from './window-state';

process.on('unhandledRejection', (reason) => console.error('maru main: unhandled rejection', reason));

/** What the page may ask for: the display's pointer lock, full screen and clipboard paste. Nothing else. */
const PAGE_PERMISSIONS: ReadonlySet<string> = new Set([
  'pointerLock',
  'fullscreen',
  'clipboard-read',
  'clipboard-sanitized-write',
]);

const isMac = process.platform === 'darwin';
const maruHome = resolveMaruHome();
const spawner = new UtilityProcessSpawner(() => quitWhenIdle());
let services: ControlServices | null = null;
let mainWindow: BrowserWindow | null = null;
/** The user asked to quit (a window's close dialog interrupted it). */
let quitRequested = false;
/** Windows whose close the user has already settled (or that have nothing to settle). */
const mayClose = new WeakSet<BrowserWindow>();

registerAppScheme();
if (!app.requestSingleInstanceLock()) {
  // One app per user: a second launch shows the running one (which may hold VMs in the background).
  app.quit();
} else {
  app.on('second-instance', () => showMainWindow());
  void main();
}

function guardContents(contents: WebContents): void {
  // The page never navigates; links go to the system browser when they are on the allowlist.
  contents.on('will-navigate', (e, url) => {
    e.preventDefault();
    openExternalLink(url);
  });
  contents.setWindowOpenHandler(({ url }) => {
    openExternalLink(url);
    return { action: 'deny' };
  });
  contents.on('will-attach-webview', (e) => e.preventDefault());
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
      webviewTag: false,
      spellcheck: false,
    },
  });
  win.once('ready-to-show', () => {
    if (saved?.maximized) win.maximize();
    win.show();
  });
  trackWindowState(win, maruHome);
  win.on('close', (e) => {
    if (mayClose.has(win) || spawner.runningHere().length === 0) return;
    e.preventDefault();
    void settleRunningVms(win).then((outcome) => {
      // A quit that met this window goes on once it closed, unless the VMs are to keep running.
      if (outcome !== 'closed') quitRequested = false;
      if (outcome === 'cancel') return;
      mayClose.add(win);
      win.close();
      if (quitRequested) app.quit();
    });
  });
  win.on('closed', () => {
    if (mainWindow === win) mainWindow = null;
  });
  void win.loadURL(APP_INDEX_URL);
  return win;
}

function showMainWindow(): void {
  if (!services) return; // not ready yet: main() opens it
  if (!mainWindow || mainWindow.isDestroyed()) mainWindow = createMainWindow();
  else mainWindow.focus();
}

async function main(): Promise<void> {
  await app.whenReady();
  serveRenderer(path.join(__dirname, '..', 'renderer'));
  const ses = session.defaultSession;
  ses.setPermissionRequestHandler((_wc, permission, callback, details) =>
    callback(PAGE_PERMISSIONS.has(permission) && isAppUrl(details.requestingUrl)),
  );
  ses.setPermissionCheckHandler((_wc, permission, origin) => PAGE_PERMISSIONS.has(permission) && isAppUrl(origin));
  app.on('web-contents-created', (_e, contents) => guardContents(contents));

  const host = createControlServices({ maruHome, env: process.env, spawner });
  services = host.services;
  const uninstall = [
    installControlIpc(host.services, host),
    installConsolePorts(host.services, spawner),
    installShowInFolder(host.services),
  ];
  installAppMenu(() => mainWindow, { isMac, devTools: !app.isPackaged });
  mainWindow = createMainWindow();

  app.on('activate', () => showMainWindow());
  app.on('window-all-closed', () => quitWhenIdle());
  app.on('before-quit', (e) => {
    quitRequested = true;
    // Quitting with no window (VMs kept in the background): ask here instead of at a window's close.
    if (BrowserWindow.getAllWindows().length > 0 || spawner.runningHere().length === 0) return;
    e.preventDefault();
    void settleRunningVms(null).then((outcome) => {
      quitRequested = false;
      if (outcome === 'closed') app.quit();
    });
  });
  app.on('will-quit', () => {
    for (const u of uninstall) u();
    spawner.dispose();
    host.dispose();
  });
}

/** Quits once no window is open and no VM runs in this app (macOS apps stay in the Dock). */
function quitWhenIdle(): void {
  if (!isMac && BrowserWindow.getAllWindows().length === 0 && spawner.runningHere().length === 0) app.quit();
}

let settling: Promise<'closed' | 'background' | 'cancel'> | null = null;

/**
 * VMs started here run in this app's utility processes and end with it: save their state,
 * power them off, or keep the app running without a window until they end (a second launch
 * shows it again). 'closed': none runs here any more.
 */
function settleRunningVms(parent: BrowserWindow | null): Promise<'closed' | 'background' | 'cancel'> {
  settling ??= askAndSettle(parent).finally(() => (settling = null));
  return settling;
}

async function askAndSettle(parent: BrowserWindow | null): Promise<'closed' | 'background' | 'cancel'> {
  const running = spawner.runningHere();
  const options = {
    type: 'question' as const,
    message: `${running.length} virtual machine${running.length > 1 ? 's are' : ' is'} running.`,
    detail: 'VMs started in this window stop when Maru quits. What should happen to them?',
    buttons: ['Save state', 'Power off', 'Keep running in the background', 'Cancel'],
    defaultId: 0,
    cancelId: 3,
  };
  const { response } = await (parent ? dialog.showMessageBox(parent, options) : dialog.showMessageBox(options));
  if (response === 3) return 'cancel';
  if (response === 2) return parent ? 'background' : 'cancel';
  const failed: string[] = [];
  for (const vmId of running) {
    try {
      if (response === 0) await services!.vm.saveState(vmId);
      else await services!.vm.stop(vmId, { force: false, timeoutSeconds: 30 });
    } catch (err) {
      failed.push(`${vmId}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (failed.length === 0) return 'closed';
  dialog.showErrorBox(
    'Maru',
    `Could not ${response === 0 ? 'save' : 'power off'} ${failed.length === 1 ? 'a VM' : 'some VMs'}; ` +
      `Maru stays open so nothing is lost.\n\n${failed.join('\n')}`,
  );
  return 'cancel';
}
