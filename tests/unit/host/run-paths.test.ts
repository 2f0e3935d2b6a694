// Socket folders: run/<uuid> when its socket paths fit sun_path, else a short private
// fallback ($XDG_RUNTIME_DIR/maru/… or /tmp/maru-<uid>/…); the control endpoint per platform.
import { mkdtemp, rm, stat, symlink, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chooseSocketFolder,
  controlEndpointFor,
  ensurePrivateFolder,
  unixSocketPathMax,
} from '../../../src-emulator/host/run-paths';

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
