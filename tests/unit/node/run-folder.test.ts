// The run folder (src-node/run-folder.ts): socket folders — run/<uuid> when its socket paths
// fit sun_path, else a short private fallback ($XDG_RUNTIME_DIR/maru/… or /tmp/maru-<uid>/…) —,
// the control endpoint per platform, and readRunStatus on real lock and state files.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, stat, symlink, mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LONGEST_SOCKET_NAME,
  SOCKET_FILES,
  chooseNetworkFolder,
  chooseSocketFolder,
  controlEndpointFor,
  ensurePrivateFolder,
  readRunState,
  readRunStatus,
  runFiles,
  runFolder,
  socketFile,
  unixSocketPathMax,
  vmMarkerFiles,
} from '../../../src-node/run-folder';

const id = '12345678-9abc-4def-8123-456789abcdef';

describe('chooseSocketFolder', () => {
  it('keeps run/<uuid> when control.sock fits', () => {
    const runFolder = `/home/me/.local/share/maru/run/${id}`;
    expect(chooseSocketFolder({ runFolder, vmId: id, platform: 'linux', env: {}, uid: 1000 })).toEqual({
      folder: runFolder,
      short: false,
    });
  });

  it('moves to $XDG_RUNTIME_DIR/maru when run/<uuid> is too deep, else /tmp/maru-<uid>', () => {
    const runFolder = `/home/me/${'deep/'.repeat(12)}maru/run/${id}`;
    expect(Buffer.byteLength(path.join(runFolder, 'control.sock'))).toBeGreaterThan(107);
    const xdg = chooseSocketFolder({
      runFolder,
      vmId: id,
      platform: 'linux',
      env: { XDG_RUNTIME_DIR: '/run/user/1000' },
      uid: 1000,
    });
    expect(xdg.short).toBe(true);
    expect(xdg.folder).toMatch(/^\/run\/user\/1000\/maru\/12345678-[0-9a-f]{6}$/);
    const tmp = chooseSocketFolder({ runFolder, vmId: id, platform: 'linux', env: {}, uid: 1000 });
    expect(tmp.folder).toMatch(/^\/tmp\/maru-1000\/12345678-[0-9a-f]{6}$/);
    // Two data folders never share a socket folder.
    const other = chooseSocketFolder({
      runFolder: runFolder.replace('/me/', '/you/'),
      vmId: id,
      platform: 'linux',
      env: {},
      uid: 1000,
    });
    expect(other.folder).not.toBe(tmp.folder);
    expect(Buffer.byteLength(path.join(tmp.folder, 'control.sock'))).toBeLessThanOrEqual(unixSocketPathMax('linux'));
  });

  it('uses macOS limits and Windows named pipes', () => {
    const runFolder = `/Users/me/Library/Application Support/Maru/${'x'.repeat(20)}/run/${id}`;
    expect(Buffer.byteLength(path.join(runFolder, 'control.sock'))).toBeGreaterThan(103);
    expect(chooseSocketFolder({ runFolder, vmId: id, platform: 'darwin', env: {}, uid: 501 }).short).toBe(true);
    expect(controlEndpointFor('C:\\x', id, 'win32')).toBe(`\\\\.\\pipe\\maru-${id}-control`);
    expect(controlEndpointFor('/run/x', id, 'linux')).toBe('/run/x/control.sock');
  });
});

describe('ensurePrivateFolder', () => {
  let root = '';
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'maru-runpaths-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('creates the folder and a short fallback parent with mode 0700', async () => {
    const folder = path.join(root, 'maru-1000', 'abc');
    await ensurePrivateFolder(folder, true);
    expect((await stat(folder)).mode & 0o777).toBe(0o700);
    expect((await stat(path.dirname(folder))).mode & 0o777).toBe(0o700);
  });

  it('refuses a fallback parent that is a symlink', async () => {
    const real = path.join(root, 'elsewhere');
    await mkdir(real);
    const link = path.join(root, 'maru-link');
    await symlink(real, link);
    await expect(ensurePrivateFolder(path.join(link, 'abc'), true)).rejects.toThrow(/not a private folder/);
  });
});

describe('socket names', () => {
  it('names every socket once, and the folder choice fits the longest', () => {
    const names = Object.values(SOCKET_FILES);
    expect(new Set(names).size).toBe(names.length);
    expect(names.every((n) => n.length <= LONGEST_SOCKET_NAME.length)).toBe(true);
    expect(socketFile('/run/x', 'qmp')).toBe('/run/x/qmp.sock');
    // A folder where control.sock just fits but a longer name would not is never chosen for the fallback.
    const runFolder = `/h/${'d'.repeat(107 - '/h/'.length - 1 - LONGEST_SOCKET_NAME.length)}`;
    expect(Buffer.byteLength(path.join(runFolder, LONGEST_SOCKET_NAME))).toBe(107);
    expect(chooseSocketFolder({ runFolder, vmId: id, platform: 'linux', env: {}, uid: 1 }).short).toBe(false);
    expect(chooseSocketFolder({ runFolder: `${runFolder}x`, vmId: id, platform: 'linux', env: {}, uid: 1 }).short).toBe(
      true,
    );
  });
});

describe('readRunStatus', () => {
  let home = '';
  const dead = (): number =>
    Number(
      spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout,
    );
  beforeAll(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'maru-runstatus-'));
  });
  afterAll(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('says "not running" without a run folder', () => {
    expect(readRunStatus(home, id)).toEqual({ lock: null, alive: false, state: null });
  });

  it('reads the lock and, while its engine host lives, the state file', async () => {
    const files = runFiles(runFolder(home, id));
    await mkdir(files.folder, { recursive: true });
    await writeFile(files.lock, JSON.stringify({ pid: process.pid, startedAt: 't' }));
    expect(readRunStatus(home, id)).toEqual({ lock: { pid: process.pid, startedAt: 't' }, alive: true, state: null });
    const state = { version: 2, vmId: id, engine: 'qemu', state: 'paused', engineRecovery: { opaque: true } };
    await writeFile(files.state, JSON.stringify(state));
    expect(readRunStatus(home, id).state).toEqual(state);
    expect(readRunState(files.folder)).toEqual(state);
    // Caught half-written, or a state this Maru does not know: no state (the lock alone says it runs).
    await writeFile(files.state, '{"state": "pau');
    expect(readRunStatus(home, id)).toMatchObject({ alive: true, state: null });
    await writeFile(files.state, JSON.stringify({ ...state, state: 'dancing' }));
    expect(readRunStatus(home, id).state).toBeNull();
  });

  it('reports a dead engine host by its lock, without its state', async () => {
    const files = runFiles(runFolder(home, id));
    const pid = dead();
    await writeFile(files.lock, JSON.stringify({ pid, startedAt: 'then' }));
    await writeFile(files.state, JSON.stringify({ version: 2, vmId: id, engine: 'qemu', state: 'running' }));
    expect(readRunStatus(home, id)).toEqual({ lock: { pid, startedAt: 'then' }, alive: false, state: null });
    expect(readRunState(files.folder)?.state).toBe('running'); // still there for recovery
  });

  it('says which file it cannot read', async () => {
    const files = runFiles(runFolder(home, id));
    await rm(files.lock, { force: true });
    await mkdir(files.lock);
    expect(() => readRunStatus(home, id)).toThrow(
      new RegExp(`Cannot read ${files.lock} \\(the run folder of VM ${id}\\)`),
    );
  });

  it('names the VM folder markers', () => {
    expect(vmMarkerFiles('/d/vms/x')).toEqual({ aborted: '/d/vms/x/aborted', savedState: '/d/vms/x/saved-state' });
  });
});

describe('chooseNetworkFolder', () => {
  const at = (maruHome: string, network: string) =>
    chooseNetworkFolder({ maruHome, network, platform: 'linux', uid: 1000 });
  const home = '/home/me/.local/share/maru';

  it('keeps an internal network in run/net/<name> when its peer sockets fit', () => {
    expect(at(home, 'intnet')).toEqual({ folder: `${home}/run/net/intnet`, short: false });
  });

  it('hashes a name too long for socket paths, the same way for every engine host', () => {
    const long = `n${'x'.repeat(63)}`;
    expect(at(home, long)).toEqual(at(home, long));
    expect(at(home, long).folder).toMatch(/^\/home\/me\/\.local\/share\/maru\/run\/net\/_[0-9a-f]{16}$/);
    expect(at(home, long).folder).not.toBe(at(home, `${long.slice(0, -1)}y`).folder);
  });

  it('moves to /tmp/maru-<uid>/net-<hash> when the data folder itself is too deep, apart per data folder', () => {
    const deep = `/home/me/${'deep/'.repeat(20)}maru`;
    const chosen = at(deep, 'intnet');
    expect(chosen.short).toBe(true);
    expect(chosen.folder).toMatch(/^\/tmp\/maru-1000\/net-[0-9a-f]{16}$/);
    expect(at(`${deep}2`, 'intnet').folder).not.toBe(chosen.folder);
    expect(Buffer.byteLength(path.join(chosen.folder, `${id}-3.sock`))).toBeLessThanOrEqual(107);
  });
});
