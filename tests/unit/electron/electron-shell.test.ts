// The desktop shell, executed. WHAT RUNS: the real src-main/electron/main.ts and preload.ts,
// bundled by esbuild as scripts/build.mjs bundles them (CommonJS), with `electron` resolved to
// electron-standin.ts — a typed stand-in of the Electron API parts they use (its context bridge
// copies what crosses it as Electron's does: functions proxied, plain data copied, an Error's
// own properties dropped, an AbortSignal refused) — the page's control client on the desktop
// transport the preload exposes, the real control services, and (where QEMU is installed) a real VM whose engine host
// (dist/engine-host/engine-host.js) is forked as the "utility process" with Node's
// child_process. WHAT IT CANNOT PROVE: anything Chromium or Electron itself does — that the
// sandbox and context isolation hold, that the CSP header is enforced, that the scheme is
// registered privileged in a real session, native dialogs, menus and accelerators, that
// utilityProcess runs this module the same way (here it gets Node IPC, not `parentPort`), and
// display ports reaching the engine host (Node IPC cannot carry MessagePorts: they are
// recorded). tests/e2e/electron-smoke.spec.ts covers the real binary where one exists.
import { build } from 'esbuild';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../../src-shared/errors';
import { createControlClient, type ControlEvent, type ControlServices } from '../../../src-shared/contracts/control';
import type { DesktopBridge } from '../../../src-shared/contracts/ipc-channels';
import type { JobProgress } from '../../../src-shared/contracts/jobs';
import { VM_MENU_ACTIONS } from '../../../src-shared/contracts/menu';
import { MEDIA, REPO, TestHome, canRun, expectNothingLeft } from '../../integration/qemu/qemu-test-kit';
import * as electron from './electron-standin';

const { app, BrowserWindow, Menu, dialog, protocol, session, shell, utilityProcess } = electron;

/** Waits until `cond` holds (polling), or fails saying what was awaited. */
async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const SAVED_ENV = { ...process.env };
let root = '';
let t: TestHome | null = null;
let home = '';
let appDir = '';
let win: InstanceType<typeof BrowserWindow>;
let page: electron.StandInPage;
let bridge: DesktopBridge;
let client: ControlServices;
const events: ControlEvent[] = [];
let vmId = '';

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'maru-shell-'));
  // The app as packaged: dist/electron (our bundles), dist/renderer (a small page here), and
  // the real engine host next to them. A file beside the renderer must stay out of reach.
  appDir = path.join(root, 'app');
  mkdirSync(path.join(appDir, 'dist', 'renderer', 'assets'), { recursive: true });
  writeFileSync(path.join(appDir, 'dist', 'renderer', 'index.html'), '<!doctype html><title>Maru</title>');
  writeFileSync(path.join(appDir, 'dist', 'renderer', 'assets', 'app.js'), 'console.log("maru")');
  writeFileSync(path.join(appDir, 'dist', 'secret.txt'), 'not for the page');
  if (canRun) {
    t = await TestHome.create(); // builds dist/engine-host, seeds the host probe
    home = t.home;
    Object.assign(process.env, t.env);
  } else {
    home = path.join(root, 'home');
    mkdirSync(home);
    process.env['MARU_HOME'] = home;
  }
  delete process.env['MARU_ENGINE_HOST'];
  symlinkSync(path.join(REPO, 'dist', 'engine-host'), path.join(appDir, 'dist', 'engine-host'));
  const out = path.join(appDir, 'dist', 'electron');
  await build({
    absWorkingDir: REPO,
    entryPoints: ['src-main/electron/main.ts'],
    outfile: path.join(out, 'main.cjs'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['electron', 'v86'],
    define: { 'import.meta.url': '__maruImportMetaUrl' },
    banner: { js: "const __maruImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
    logLevel: 'error',
  });
  await build({
    absWorkingDir: REPO,
    entryPoints: ['src-main/electron/preload.ts'],
    outfile: path.join(out, 'preload.cjs'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'chrome130',
    external: ['electron'],
    logLevel: 'error',
  });

  // Electron loads main.cjs; then the OS says the app is ready.
  electron.runCommonJs(path.join(out, 'main.cjs'), electron, { requireFrom: path.join(REPO, 'package.json') });
  app.emitReady();
  await until('the main window shows the page', () => {
    const w = BrowserWindow.getAllWindows()[0];
    return Boolean(w?.visible && w.webContents.page?.mainWorld['maruDesktop']);
  });
  win = BrowserWindow.getAllWindows()[0]!;
  page = win.webContents.page!;
  bridge = page.mainWorld['maruDesktop'] as DesktopBridge;
  client = createControlClient(bridge);
  bridge.onEvent((e) => events.push(e));
}, 120_000);

afterAll(async () => {
  for (const p of utilityProcess.forked) if (p.exitCode === null) p.kill();
  if (!app.quitted) {
    app.quit();
    await new Promise((r) => setTimeout(r, 200)); // the window state is written on close
  }
  await t?.dispose();
  for (const k of Object.keys(process.env)) if (!(k in SAVED_ENV)) delete process.env[k];
  Object.assign(process.env, SAVED_ENV);
  if (root) rmSync(root, { recursive: true, force: true });
}, 120_000);

describe('the desktop shell (real main.ts + preload.ts on the Electron stand-in)', () => {
  it('opens a sandboxed, context-isolated window without Node, served from maru-app:// with a strict CSP', async () => {
    const prefs = win.options.webPreferences!;
    expect(prefs).toMatchObject({ sandbox: true, contextIsolation: true, nodeIntegration: false, webSecurity: true });
    expect(prefs.preload).toBe(path.join(appDir, 'dist', 'electron', 'preload.cjs'));
    expect(page.url).toBe('maru-app://app/index.html');
    // The scheme was made standard + secure before `ready` (the stand-in throws otherwise).
    expect(protocol.privileged).toEqual([
      expect.objectContaining({
        scheme: 'maru-app',
        privileges: expect.objectContaining({ standard: true, secure: true }),
      }),
    ]);
    const res = win.webContents.response!;
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("object-src 'none'");
    expect(csp).not.toMatch(/unsafe-(eval|inline)/);
    // Every file gets it; nothing outside dist/renderer is served, however the path is spelled.
    const js = (await protocol.fetch('maru-app://app/assets/app.js'))!;
    expect(js.status).toBe(200);
    expect(js.headers.get('content-security-policy')).toBe(csp);
    for (const probe of [
      'maru-app://app/..%2Fsecret.txt',
      'maru-app://app/%2e%2e/secret.txt',
      'maru-app://other/index.html',
    ]) {
      const r = (await protocol.fetch(probe))!;
      expect(r.status, probe).toBe(404);
      expect(await r.text()).not.toContain('not for the page');
    }
    // The page sees one object, one function per concern, and no ipcRenderer or require.
    expect(Object.keys(page.mainWorld)).toEqual(['maruDesktop']);
    expect(Object.keys(bridge).sort()).toEqual(
      [
        'call',
        'importIso',
        'kind',
        'login',
        'logout',
        'onDisconnect',
        'onEvent',
        'onMenuAction',
        'openConsole',
        'pathOfFile',
        'session',
        'showInFolder',
      ].sort(),
    );
    // Permissions: denied by default; the display's few only for our own page.
    const ask = (permission: string, requestingUrl: string) =>
      new Promise<boolean>((resolve) =>
        session.defaultSession.requestHandler!(win.webContents as never, permission as never, resolve, {
          requestingUrl,
          isMainFrame: true,
        } as never),
      );
    expect(await ask('geolocation', 'maru-app://app/index.html')).toBe(false);
    expect(await ask('media', 'maru-app://app/index.html')).toBe(false);
    expect(await ask('pointerLock', 'maru-app://app/index.html')).toBe(true);
    expect(await ask('pointerLock', 'https://evil.example/')).toBe(false);
    expect(session.defaultSession.checkHandler!(null, 'notifications', 'maru-app://app', {} as never)).toBe(false);
  });

  it('delivers every Machine menu item to the page with its action, and nothing else', async () => {
    const got: string[] = [];
    const off = bridge.onMenuAction((a) => got.push(a));
    const items = Menu.applicationMenu!.submenu('Machine').filter((i) => i.click && i.role === undefined);
    expect(items.map((i) => i.label)).not.toContain(undefined);
    for (const item of items) Menu.click(item);
    win.webContents.send('maru:menu-action', 'format-disk'); // not an action: the preload drops it
    await until('all menu actions', () => got.length >= VM_MENU_ACTIONS.length, 2000).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 50)); // the dropped one would come last
    expect([...got].sort()).toEqual([...VM_MENU_ACTIONS].sort());
    off();
    // No accelerator is bound twice, and none is Reload's or macOS Hide's.
    const accelerators = Menu.applicationMenu!.items.flatMap((m) =>
      Array.isArray(m.submenu) ? m.submenu.map((i) => i.accelerator).filter(Boolean) : [],
    );
    expect(new Set(accelerators).size).toBe(accelerators.length);
    expect(Menu.applicationMenu!.items.flatMap((m) => (Array.isArray(m.submenu) ? m.submenu : []))).not.toContainEqual(
      expect.objectContaining({ role: 'reload' }),
    );
    expect(accelerators).not.toContain('CmdOrCtrl+H');
  });

  it('answers a control call from the page, and a create job reports progress and a library.changed event', async () => {
    expect(await client.library.list()).toEqual([]);
    const progress: JobProgress[] = [];
    const created = await client.library.create(
      {
        name: 'Desk VM',
        os: 'linux64',
        firmware: 'bios',
        cpus: 1,
        memoryMiB: 256,
        diskGiB: 1,
        iso: existsSync(MEDIA.biosUefi) ? MEDIA.biosUefi : null,
      },
      { onProgress: (p) => progress.push(p) },
    );
    vmId = created.vm.config.id;
    t?.vmIds.add(vmId);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)!.fraction).toBe(1);
    await until('library.changed reached the page', () => events.some((e) => e.type === 'library.changed'));
    expect((await client.library.list()).map((v) => v.id)).toEqual([vmId]);
    // Errors come back as the service's AppError.
    await expect(client.library.show('no such vm')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('refuses control and display calls from a frame that is not our page, and stays on its page', async () => {
    const foreign = new BrowserWindow({ webPreferences: win.options.webPreferences! });
    await foreign.loadURL('https://evil.example/');
    const evil = foreign.webContents.page!.mainWorld['maruDesktop'] as DesktopBridge;
    try {
      await expect(evil.call('library', 'create', [{ name: 'evil' }])).rejects.toThrow(/Maru page only/);
      await expect(evil.openConsole(vmId)).rejects.toThrow(/Maru page only/);
      await expect(evil.showInFolder('/etc/passwd')).rejects.toThrow(/Maru page only/);
    } finally {
      foreign.close();
    }
    expect((await client.library.list()).map((v) => v.id)).toEqual([vmId]);
    // Our own page cannot be navigated away, nor send a malformed call.
    expect(win.webContents.navigate('https://evil.example/')).toBe(true);
    expect(page.url).toBe('maru-app://app/index.html');
    // A failed call crosses the bridge as plain data; the page's client makes it the AppError again.
    await expect(bridge.call('library', 'list', 'x' as never)).rejects.toEqual({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/control call must be/),
    });
    await expect(client.library.show('no such vm')).rejects.toBeInstanceOf(AppError);
    // Show in folder: a medium the media manager lists, nothing else.
    const disk = (await client.library.show(vmId)).disks[0]!.path;
    await bridge.showInFolder(disk);
    expect(electron.shell.shown).toEqual([disk]);
    await expect(bridge.showInFolder('/etc/passwd')).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: '/etc/passwd is not a medium Maru knows; it is not shown.',
    });
    expect(electron.shell.shown).toEqual([disk]);
  });

  it('opens only allowlisted https links in the system browser', () => {
    shell.opened.length = 0;
    for (const url of [
      'https://evil.example/download',
      'https://www.qemu.org.evil.example/',
      'http://www.qemu.org/download/',
      'file:///etc/passwd',
      'javascript:alert(1)',
    ]) {
      expect(win.webContents.openWindow(url), url).toEqual({ action: 'deny' });
    }
    expect(shell.opened).toEqual([]);
    expect(win.webContents.openWindow('https://www.qemu.org/download/')).toEqual({ action: 'deny' });
    expect(shell.opened).toEqual(['https://www.qemu.org/download/']);
  });

  describe.skipIf(!canRun)('with a real VM (QEMU, TCG)', () => {
    // Each test starts from a VM that is off, whatever the one before left.
    afterEach(async () => {
      if (['running', 'paused'].includes(await t!.state(vmId))) await t!.maru(['stop', vmId, '--force']);
    }, 60_000);

    it('starts the VM in a utility process with progress; the page gets vm.changed and a display port', async () => {
      const progress: string[] = [];
      const forked = utilityProcess.forked.length;
      const started = await client.vm.start(vmId, { onProgress: (p) => progress.push(`${p.phase}:${p.fraction}`) });
      expect(started.status.state).toBe('running');
      expect(progress).toEqual(expect.arrayContaining(['check:0', 'launch:0.2', 'running:1']));
      expect(utilityProcess.forked).toHaveLength(forked + 1);
      const up = utilityProcess.forked.at(-1)!;
      expect(realpathSync(up.modulePath)).toBe(path.join(REPO, 'dist', 'engine-host', 'engine-host.js'));
      expect(up.args[0]).toBe('--launch');
      expect(up.options).toMatchObject({ serviceName: 'Maru VM Desk VM', stdio: 'pipe' });
      expect(started.status.pid).toBe(up.child.pid);
      await until('vm.changed running reached the page', () =>
        events.some((e) => e.type === 'vm.changed' && e.vmId === vmId && e.state === 'running'),
      );
      // The engine host's output lands in the VM's log.
      const log = path.join(t!.vmFolder(vmId), 'logs', 'engine-host.log');
      await until('engine host output in its log', () => existsSync(log) && readFileSync(log, 'utf8').length > 0);
      // A display port: one end to the page (re-posted by the preload), the other to the VM's process.
      await bridge.openConsole(vmId);
      await until('the page got a display port', () => page.windowMessages.length > 0);
      expect(page.windowMessages[0]).toMatchObject({
        message: { type: 'maru-console-port', vmId },
        targetOrigin: 'maru-app://app',
      });
      expect(page.windowMessages[0]!.ports).toHaveLength(1);
      expect(up.postedWithPorts).toEqual([{ message: { type: 'console' }, ports: [expect.anything()] }]);
      await client.vm.stop(vmId, { force: true });
      await until('the utility process ended', () => up.exitCode !== null);
      expect((await client.library.show(vmId)).state).toBe('off');
    }, 120_000);

    it('cancel during a start stops it: no engine host left, the VM is off', async () => {
      // The engine host's test hook holds its `ready` report, so the cancel lands mid-start.
      process.env['MARU_TEST_HOLD_READY_MS'] = '20000';
      const controller = new AbortController();
      const forked = utilityProcess.forked.length;
      const started = client.vm.start(vmId, {
        signal: controller.signal,
        onProgress: (p) => {
          if (p.phase === 'launch') setTimeout(() => controller.abort(), 1500);
        },
      });
      try {
        await expect(started).rejects.toMatchObject({ code: 'CANCELLED' });
      } finally {
        delete process.env['MARU_TEST_HOLD_READY_MS'];
      }
      const up = utilityProcess.forked[forked]!;
      await until('the utility process ended', () => up.exitCode !== null, 30_000);
      expect((await client.library.show(vmId)).state).toBe('off');
      await expectNothingLeft(t!, vmId);
    }, 120_000);

    it('Keep running in the background: the window goes, the VM runs on in the app, a second launch shows it', async () => {
      await client.vm.start(vmId);
      const up = utilityProcess.forked.at(-1)!;
      dialog.answers.push(2); // Keep running in the background
      const first = win;
      first.close();
      await until('the window closed', () => first.isDestroyed());
      expect(app.quitted).toBe(false);
      expect(up.exitCode).toBeNull();
      expect(await t!.state(vmId)).toBe('running');
      // Launching Maru again shows the running app, with its VM.
      app.emit('second-instance');
      await until('a new window shows the page', () => {
        const w = BrowserWindow.getAllWindows()[0];
        return Boolean(w?.visible && w.webContents.page?.mainWorld['maruDesktop']);
      });
      win = BrowserWindow.getAllWindows()[0]!;
      page = win.webContents.page!;
      bridge = page.mainWorld['maruDesktop'] as DesktopBridge;
      client = createControlClient(bridge);
      expect((await client.library.show(vmId)).state).toBe('running');
      await client.vm.stop(vmId, { force: true });
      await until('the utility process ended', () => up.exitCode !== null);
      expect(app.quitted).toBe(false); // a window is open again
    }, 120_000);

    it('closing the window with the VM running asks; Power off turns it off and the app quits', async () => {
      await client.vm.start(vmId);
      const up = utilityProcess.forked.at(-1)!;
      await t!.waitForSerial(vmId, 'MARU-READY', 120_000); // the guest answers the ACPI power button
      dialog.answers.push(1); // Power off
      win.close();
      await until('the window closed', () => win.isDestroyed(), 90_000);
      expect(dialog.shown.at(-1)).toMatchObject({
        message: '1 virtual machine is running.',
        buttons: ['Save state', 'Power off', 'Keep running in the background', 'Cancel'],
      });
      expect(up.exitCode).not.toBeNull();
      expect(await t!.state(vmId)).toBe('off');
      await until('the app quit', () => app.quitted);
      await expectNothingLeft(t!, vmId);
    }, 240_000);
  });
});
