// A stand-in for the parts of Electron's API that src-main/electron (main.ts, preload.ts) use,
// typed against electron.d.ts, for running the real desktop shell where no Electron binary
// exists. It is NOT Electron: no Chromium, no real sandbox or context isolation, no GPU, no
// native dialogs. It keeps Electron's rules that the shell depends on (scheme registration
// before `ready`, utility processes only after it, IPC arguments structured-cloned, a sandboxed
// preload may require only `electron` and a few built-ins, windows closing with cancellable
// `close`, `window-all-closed` not emitted while quitting) and records what the app did, so a
// test can play the user (menus, dialogs), the page (through the preload's exposed API) and
// the OS. utilityProcess.fork really forks the module with Node's child_process (a real engine
// host runs a real VM), but MessagePorts cannot reach it (Node IPC cannot carry them): posted
// ports are recorded instead.
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import vm from 'node:vm';
import { MessageChannel, type MessagePort } from 'node:worker_threads';

/** An Electron `Event`: preventDefault plus its parameters. */
function electronEvent<P extends object>(params: P): Electron.Event<P> {
  let prevented = false;
  return Object.assign(
    {
      preventDefault: () => void (prevented = true),
      get defaultPrevented() {
        return prevented;
      },
    },
    params,
  ) as Electron.Event<P>;
}

/**
 * Runs a CommonJS bundle as Electron would: `require('electron')` gives `electronModule`; other
 * packages resolve from `requireFrom` (where the app's node_modules are), else next to the file.
 */
export function runCommonJs(
  file: string,
  electronModule: object,
  options: { window?: object; allowedBuiltins?: readonly string[]; requireFrom?: string } = {},
): void {
  const code = readFileSync(file, 'utf8');
  const fn = vm.runInThisContext(`(function (exports, require, module, __filename, __dirname, window) {${code}\n})`, {
    filename: file,
  }) as (...a: unknown[]) => void;
  const module = { exports: {} };
  const req = (id: string): unknown => {
    if (id === 'electron') return electronModule;
    if (options.allowedBuiltins && !options.allowedBuiltins.includes(id)) {
      throw new Error(`A sandboxed preload cannot require ${JSON.stringify(id)} (only electron and a few built-ins).`);
    }
    return createRequire(options.requireFrom ?? file)(id);
  };
  fn(module.exports, req, module, file, path.dirname(file), options.window);
}

// ---- app ----

class StandInApp
  extends EventEmitter
  implements Pick<Electron.App, 'whenReady' | 'requestSingleInstanceLock' | 'quit'>
{
  isPackaged = false;
  isReady = false;
  quitting = false;
  /** True once `quit` went all the way (no window or handler kept the app). */
  quitted = false;
  private readyPromise: Promise<void>;
  private resolveReady!: () => void;

  constructor() {
    super();
    this.readyPromise = new Promise((resolve) => (this.resolveReady = resolve));
  }

  whenReady(): Promise<void> {
    return this.readyPromise;
  }

  requestSingleInstanceLock(): boolean {
    return true;
  }

  /** The test plays the OS: the app is ready. */
  emitReady(): void {
    this.isReady = true;
    this.emit('ready', electronEvent({}), {});
    this.resolveReady();
  }

  quit(): void {
    const before = electronEvent({});
    this.emit('before-quit', before);
    if (before.defaultPrevented) return;
    this.quitting = true;
    for (const win of BrowserWindow.getAllWindows()) win.close();
    if (BrowserWindow.getAllWindows().length > 0) {
      this.quitting = false; // a window refused to close
      return;
    }
    const will = electronEvent({});
    this.emit('will-quit', will);
    if (will.defaultPrevented) return;
    this.quitted = true;
    this.emit('quit', electronEvent({}), 0);
  }
}

export const app = new StandInApp();

// ---- protocol and session ----

type ProtocolHandler = Parameters<Electron.Protocol['handle']>[1];

class StandInProtocol implements Pick<Electron.Protocol, 'registerSchemesAsPrivileged' | 'handle'> {
  readonly privileged: Electron.CustomScheme[] = [];
  readonly handlers = new Map<string, ProtocolHandler>();

  registerSchemesAsPrivileged(customSchemes: Electron.CustomScheme[]): void {
    if (app.isReady) throw new Error('protocol.registerSchemesAsPrivileged must be called before the app is ready.');
    this.privileged.push(...customSchemes);
  }

  handle(scheme: string, handler: ProtocolHandler): void {
    if (!app.isReady) throw new Error('protocol.handle must be called after the app is ready.');
    this.handlers.set(scheme, handler);
  }

  /** What Chromium would get for `url` from a registered scheme; null for other schemes. */
  async fetch(url: string): Promise<Response | null> {
    const handler = this.handlers.get(new URL(url).protocol.slice(0, -1));
    return handler ? handler(new Request(url)) : null;
  }
}

export const protocol = new StandInProtocol();

type PermissionRequestHandler = Parameters<Electron.Session['setPermissionRequestHandler']>[0];
type PermissionCheckHandler = Parameters<Electron.Session['setPermissionCheckHandler']>[0];

class StandInSession implements Pick<Electron.Session, 'setPermissionRequestHandler' | 'setPermissionCheckHandler'> {
  requestHandler: PermissionRequestHandler = null;
  checkHandler: PermissionCheckHandler = null;
  setPermissionRequestHandler(handler: PermissionRequestHandler): void {
    this.requestHandler = handler;
  }
  setPermissionCheckHandler(handler: PermissionCheckHandler): void {
    this.checkHandler = handler;
  }
}

export const session = { defaultSession: new StandInSession() };

// ---- ipcMain ----

type InvokeListener = Parameters<Electron.IpcMain['handle']>[1];

class StandInIpcMain extends EventEmitter implements Pick<Electron.IpcMain, 'handle' | 'removeHandler'> {
  readonly handlers = new Map<string, InvokeListener>();
  handle(channel: string, listener: InvokeListener): void {
    if (this.handlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
    this.handlers.set(channel, listener);
  }
  removeHandler(channel: string): void {
    this.handlers.delete(channel);
  }
}

export const ipcMain = new StandInIpcMain();

// ---- MessageChannelMain ----

class StandInMessagePortMain
  extends EventEmitter
  implements Pick<Electron.MessagePortMain, 'postMessage' | 'start' | 'close'>
{
  constructor(readonly port: MessagePort) {
    super();
    port.on('message', (data: unknown) => this.emit('message', { data, ports: [] }));
    port.on('close', () => this.emit('close'));
  }
  postMessage(message: unknown): void {
    this.port.postMessage(message);
  }
  start(): void {
    this.port.start();
  }
  close(): void {
    this.port.close();
  }
}

export class MessageChannelMain {
  readonly port1: StandInMessagePortMain;
  readonly port2: StandInMessagePortMain;
  constructor() {
    const { port1, port2 } = new MessageChannel();
    this.port1 = new StandInMessagePortMain(port1);
    this.port2 = new StandInMessagePortMain(port2);
  }
}

// ---- the page side: ipcRenderer, contextBridge, webUtils ----

/**
 * Copies a value across the context bridge the way contextBridge does: objects and arrays are
 * copied, functions are proxied (their arguments and results crossing back the same way),
 * promises resolve to copies; anything else must be structured-cloneable.
 */
function acrossBridge(value: unknown): unknown {
  if (typeof value === 'function') {
    return (...args: unknown[]) => acrossBridge((value as (...a: unknown[]) => unknown)(...args.map(acrossBridge)));
  }
  if (value instanceof Promise) {
    return value.then(acrossBridge, (err: unknown) => {
      throw acrossBridge(err);
    });
  }
  if (Array.isArray(value)) return value.map(acrossBridge);
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, acrossBridge(v)]));
  }
  return typeof value === 'object' && value !== null ? structuredClone(value) : value;
}

/** One loaded page: its frame URL, main world, renderer-side Electron modules and window messages. */
export class StandInPage {
  /** What the preload exposed (`exposeInMainWorld`), as the page's main world sees it. */
  readonly mainWorld: Record<string, unknown> = {};
  /** `window.postMessage` calls the preload made (message, target origin, transferred ports). */
  readonly windowMessages: { message: unknown; targetOrigin: string; ports: unknown[] }[] = [];
  readonly ipcRenderer: StandInIpcRenderer;
  readonly contextBridge: Pick<Electron.ContextBridge, 'exposeInMainWorld'>;

  constructor(
    readonly url: string,
    readonly contents: StandInWebContents,
  ) {
    this.ipcRenderer = new StandInIpcRenderer(this);
    this.contextBridge = {
      exposeInMainWorld: (apiKey: string, api: unknown) => {
        if (apiKey in this.mainWorld) throw new Error(`Cannot bind an API on top of an existing property: ${apiKey}`);
        this.mainWorld[apiKey] = acrossBridge(api);
      },
    };
  }

  get origin(): string {
    const u = new URL(this.url);
    return `${u.protocol}//${u.host}`;
  }

  /** The `window` global the preload sees (only what it uses). */
  window(): object {
    return {
      location: { href: this.url, origin: this.origin },
      postMessage: (message: unknown, targetOrigin: string, ports: unknown[] = []) =>
        this.windowMessages.push({ message: structuredClone(message), targetOrigin, ports }),
    };
  }

  /** The frame IPC messages from this page carry (main reads its URL). */
  frame(): Electron.WebFrameMain {
    return { url: this.url } as Electron.WebFrameMain;
  }
}

export const webUtils: Pick<Electron.WebUtils, 'getPathForFile'> = {
  // A test File carries the host path it stands for (Chromium knows it from the drop).
  getPathForFile: (file: File) => (file as File & { hostPath?: string }).hostPath ?? '',
};

class StandInIpcRenderer extends EventEmitter implements Pick<Electron.IpcRenderer, 'invoke' | 'send'> {
  constructor(private readonly page: StandInPage) {
    super();
  }

  async invoke(channel: string, ...args: unknown[]): Promise<unknown> {
    const handler = ipcMain.handlers.get(channel);
    if (!handler)
      throw new Error(`Error invoking remote method '${channel}': Error: No handler registered for '${channel}'`);
    const event = {
      sender: this.page.contents,
      senderFrame: this.page.frame(),
      frameId: 1,
      processId: 1,
      type: 'frame',
    } as unknown as Electron.IpcMainInvokeEvent;
    // The reply travels behind what main sent the page before it (one ordered channel).
    const later = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
    let result: unknown;
    try {
      result = await handler(event, ...structuredClone(args));
    } catch (err) {
      await later();
      throw new Error(`Error invoking remote method '${channel}': ${String(err)}`);
    }
    await later();
    return structuredClone(result);
  }

  send(channel: string, ...args: unknown[]): void {
    const event = electronEvent({
      sender: this.page.contents,
      senderFrame: this.page.frame(),
      frameId: 1,
      processId: 1,
      ports: [],
      returnValue: undefined,
      reply: (ch: string, ...a: unknown[]) => this.page.contents.send(ch, ...a),
      type: 'frame' as const,
    });
    // Async like the real IPC: the listener runs after the sender's turn.
    setImmediate(() => ipcMain.emit(channel, event, ...structuredClone(args)));
  }
}

// ---- BrowserWindow and webContents ----

let nextContentsId = 1;

class StandInWebContents
  extends EventEmitter
  implements Pick<Electron.WebContents, 'send' | 'postMessage' | 'setWindowOpenHandler' | 'isDestroyed' | 'loadURL'>
{
  readonly id = nextContentsId++;
  page: StandInPage | null = null;
  /** The response the page's URL got from our protocol handler (null: another scheme). */
  response: Response | null = null;
  windowOpenHandler: Parameters<Electron.WebContents['setWindowOpenHandler']>[0] | null = null;
  private destroyed = false;

  constructor(private readonly preload: string | undefined) {
    super();
  }

  send(channel: string, ...args: unknown[]): void {
    if (this.destroyed) throw new Error('Object has been destroyed');
    const page = this.page;
    if (!page) return;
    const cloned = structuredClone(args);
    setImmediate(() => page.ipcRenderer.emit(channel, { sender: page.ipcRenderer, ports: [] }, ...cloned));
  }

  postMessage(channel: string, message: unknown, transfer: Electron.MessagePortMain[] = []): void {
    const page = this.page;
    if (!page) return;
    // Main-side ports arrive in the page as its end of the channel.
    const ports = (transfer as unknown as StandInMessagePortMain[]).map((p) => p.port);
    const cloned = structuredClone(message);
    setImmediate(() => page.ipcRenderer.emit(channel, { sender: page.ipcRenderer, ports }, cloned));
  }

  setWindowOpenHandler(handler: Parameters<Electron.WebContents['setWindowOpenHandler']>[0]): void {
    this.windowOpenHandler = handler;
  }

  isDestroyed(): boolean {
    return this.destroyed;
  }

  /** Loads `url`: our scheme through its protocol handler, then the preload runs in the page. */
  async loadURL(url: string): Promise<void> {
    this.response = await protocol.fetch(url);
    const page = new StandInPage(url, this);
    this.page = page;
    if (this.preload) {
      runCommonJs(
        this.preload,
        { contextBridge: page.contextBridge, ipcRenderer: page.ipcRenderer, webUtils },
        { window: page.window(), allowedBuiltins: ['events', 'timers', 'url'] },
      );
    }
    this.emit('did-finish-load', electronEvent({}));
  }

  /** The page asks to open `url` in a new window (window.open, target=_blank). */
  openWindow(url: string): Electron.WindowOpenHandlerResponse {
    return (
      this.windowOpenHandler?.({
        url,
        frameName: '',
        features: '',
        disposition: 'foreground-tab',
        referrer: { url: this.page?.url ?? '', policy: 'strict-origin-when-cross-origin' },
      }) ?? { action: 'allow' }
    );
  }

  /** The page tries to navigate to `url` (a link, a location change); true when main refused. */
  navigate(url: string): boolean {
    const e = electronEvent({ url, isSameDocument: false, isMainFrame: true });
    this.emit('will-navigate', e, url);
    if (!e.defaultPrevented) void this.loadURL(url);
    return e.defaultPrevented;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.page = null;
    this.emit('destroyed', electronEvent({}));
  }
}

const windows = new Set<BrowserWindow>();

export class BrowserWindow
  extends EventEmitter
  implements
    Pick<
      Electron.BrowserWindow,
      'show' | 'maximize' | 'focus' | 'close' | 'isDestroyed' | 'isMaximized' | 'getNormalBounds'
    >
{
  static getAllWindows(): BrowserWindow[] {
    return [...windows];
  }

  readonly webContents: StandInWebContents;
  visible = false;
  private maximized = false;
  private destroyed = false;

  constructor(readonly options: Electron.BrowserWindowConstructorOptions = {}) {
    super();
    this.webContents = new StandInWebContents(options.webPreferences?.preload);
    windows.add(this);
    app.emit('web-contents-created', electronEvent({}), this.webContents);
    this.webContents.on('did-finish-load', () => this.emit('ready-to-show', electronEvent({})));
  }

  loadURL(url: string): Promise<void> {
    return this.webContents.loadURL(url);
  }
  show(): void {
    this.visible = true;
  }
  maximize(): void {
    this.maximized = true;
  }
  focus(): void {
    this.visible = true;
  }
  isMaximized(): boolean {
    return this.maximized;
  }
  getNormalBounds(): Electron.Rectangle {
    return { x: 0, y: 0, width: this.options.width ?? 800, height: this.options.height ?? 600 };
  }
  isDestroyed(): boolean {
    return this.destroyed;
  }

  /** Like the user clicking the close button: `close` may be prevented; else the window goes. */
  close(): void {
    if (this.destroyed) return;
    const e = electronEvent({});
    this.emit('close', e);
    if (e.defaultPrevented) return;
    this.destroyed = true;
    windows.delete(this);
    this.webContents.destroy();
    this.emit('closed');
    if (windows.size === 0 && !app.quitting) app.emit('window-all-closed');
  }
}

// ---- Menu ----

export class StandInMenu {
  constructor(readonly items: readonly Electron.MenuItemConstructorOptions[]) {}

  /** The items of the top-level menu labelled `label`. */
  submenu(label: string): Electron.MenuItemConstructorOptions[] {
    const sub = this.items.find((i) => i.label === label)?.submenu;
    return Array.isArray(sub) ? (sub as Electron.MenuItemConstructorOptions[]) : [];
  }
}

export const Menu = {
  applicationMenu: null as StandInMenu | null,
  buildFromTemplate(template: Parameters<typeof Electron.Menu.buildFromTemplate>[0]): StandInMenu {
    return new StandInMenu(template as Electron.MenuItemConstructorOptions[]);
  },
  setApplicationMenu(menu: StandInMenu | null): void {
    Menu.applicationMenu = menu;
  },
  /** The user picks `item` (what Electron calls: click(menuItem, window, event)). */
  click(item: Electron.MenuItemConstructorOptions): void {
    item.click?.(item as unknown as Electron.MenuItem, undefined, { shiftKey: false } as Electron.KeyboardEvent);
  },
};

// ---- dialog, shell, screen ----

export const dialog = {
  /** Scripted answers (button indices), taken in order; none left: the cancel button. */
  answers: [] as number[],
  shown: [] as Electron.MessageBoxOptions[],
  errors: [] as { title: string; content: string }[],
  showMessageBox(
    windowOrOptions: Electron.BaseWindow | Electron.MessageBoxOptions,
    maybeOptions?: Electron.MessageBoxOptions,
  ): Promise<Electron.MessageBoxReturnValue> {
    const options = (maybeOptions ?? windowOrOptions) as Electron.MessageBoxOptions;
    dialog.shown.push(options);
    return Promise.resolve({ response: dialog.answers.shift() ?? options.cancelId ?? 0, checkboxChecked: false });
  },
  showErrorBox(title: string, content: string): void {
    dialog.errors.push({ title, content });
  },
} satisfies Pick<Electron.Dialog, 'showMessageBox' | 'showErrorBox'> & Record<string, unknown>;

export const shell = {
  opened: [] as string[],
  /** Paths shown in the file manager. */
  shown: [] as string[],
  openExternal(url: string): Promise<void> {
    shell.opened.push(url);
    return Promise.resolve();
  },
  showItemInFolder(fullPath: string): void {
    shell.shown.push(fullPath);
  },
} satisfies Pick<Electron.Shell, 'openExternal' | 'showItemInFolder'> & Record<string, unknown>;

const DISPLAY: Electron.Display = {
  accelerometerSupport: 'unknown',
  bounds: { x: 0, y: 0, width: 1920, height: 1080 },
  colorDepth: 24,
  colorSpace: 'srgb',
  depthPerComponent: 8,
  detected: true,
  displayFrequency: 60,
  id: 1,
  internal: false,
  label: 'stand-in display',
  maximumCursorSize: { width: 64, height: 64 },
  monochrome: false,
  nativeOrigin: { x: 0, y: 0 },
  rotation: 0,
  scaleFactor: 1,
  size: { width: 1920, height: 1080 },
  touchSupport: 'unknown',
  workArea: { x: 0, y: 0, width: 1920, height: 1040 },
  workAreaSize: { width: 1920, height: 1040 },
};

export const screen: Pick<Electron.Screen, 'getAllDisplays'> = { getAllDisplays: () => [DISPLAY] };

// ---- utilityProcess ----

/** A utility process: a real Node child process running the module (Node IPC for messages). */
export class StandInUtilityProcess
  extends EventEmitter
  implements Pick<Electron.UtilityProcess, 'kill' | 'pid' | 'stdout' | 'stderr'>
{
  readonly child: ChildProcess;
  pid: number | undefined;
  stdout: Readable | null;
  stderr: Readable | null;
  exitCode: number | null = null;
  /** Messages posted with MessagePorts (Node IPC cannot carry ports to the child). */
  readonly postedWithPorts: { message: unknown; ports: Electron.MessagePortMain[] }[] = [];

  constructor(
    readonly modulePath: string,
    readonly args: readonly string[],
    readonly options: Electron.ForkOptions,
  ) {
    super();
    const piped = options.stdio === 'pipe';
    this.child = fork(modulePath, [...args], {
      env: (options.env as NodeJS.ProcessEnv | undefined) ?? process.env,
      execArgv: options.execArgv ?? [],
      stdio: piped ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced', // structured clone, as utility process messages
    });
    this.pid = this.child.pid;
    this.stdout = this.child.stdout;
    this.stderr = this.child.stderr;
    this.child.on('spawn', () => this.emit('spawn'));
    this.child.on('message', (m) => this.emit('message', m));
    this.child.on('error', (err) => this.emit('error', 'FatalError', err.message, String(err.stack)));
    this.child.on('exit', (code, signal) => {
      this.exitCode = code ?? 128 + (signal ? osConstants.signals[signal] : 0);
      this.pid = undefined;
      this.emit('exit', this.exitCode);
    });
  }

  kill(): boolean {
    return this.child.kill('SIGTERM');
  }

  postMessage(message: unknown, transfer: Electron.MessagePortMain[] = []): void {
    if (transfer.length > 0) {
      this.postedWithPorts.push({ message, ports: transfer });
      return;
    }
    if (this.child.connected) this.child.send(message as never);
  }
}

export const utilityProcess = {
  forked: [] as StandInUtilityProcess[],
  fork(modulePath: string, args: string[] = [], options: Electron.ForkOptions = {}): StandInUtilityProcess {
    if (!app.isReady) throw new Error('utilityProcess.fork can only be called after the app is ready.');
    const p = new StandInUtilityProcess(modulePath, args, options);
    utilityProcess.forked.push(p);
    return p;
  },
};
