// The web console's caller policy on real folders and symlinks: host paths only inside the ISO
// folders and the library (symlinks followed), one and the same refusal for a missing and a
// forbidden path; port forwards on loopback only unless the owner allows more.
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLoopbackAddress, WebCallerPolicy } from '../../../src-main/server/web-caller-policy';
import { AppError } from '../../../src-shared/errors';

let tmp: string;
let home: string;
let extra: string;
let outside: string;
let policy: WebCallerPolicy;

beforeAll(async () => {
  tmp = await realpath(await mkdtemp(path.join(os.tmpdir(), 'maru-policy-')));
  home = path.join(tmp, 'home');
  extra = path.join(tmp, 'more-isos');
  outside = path.join(tmp, 'outside');
  await mkdir(path.join(home, 'isos', 'sub'), { recursive: true });
  await mkdir(path.join(home, 'vms', 'vm1', 'disks'), { recursive: true });
  await mkdir(extra);
  await mkdir(outside);
  await writeFile(path.join(home, 'isos', 'a.iso'), 'iso');
  await writeFile(path.join(home, 'isos', 'sub', 'b.iso'), 'iso');
  await writeFile(path.join(home, 'vms', 'vm1', 'disks', 'disk0.qcow2'), 'disk');
  await writeFile(path.join(home, 'server-auth.json'), '{}');
  await writeFile(path.join(extra, 'c.iso'), 'iso');
  await writeFile(path.join(outside, 'secret'), 'secret');
  // Links: one out of the ISO folder, one to a file inside it, one whole extra folder by link.
  await symlink(path.join(outside, 'secret'), path.join(home, 'isos', 'escape.iso'));
  await symlink(path.join(home, 'isos', 'sub', 'b.iso'), path.join(home, 'isos', 'alias.iso'));
  await symlink(extra, path.join(tmp, 'linked-isos'));
  policy = new WebCallerPolicy({ maruHome: home, isoFolders: [path.join(tmp, 'linked-isos')] });
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function refusal(p: string, use: 'media' | 'folder' | 'output' = 'media'): Promise<AppError> {
  const err = await policy.checkHostPath(p, use).then(
    (v) => v,
    (e: unknown) => e,
  );
  expect(err, `${p} should be refused`).toBeInstanceOf(AppError);
  return err as AppError;
}

describe('WebCallerPolicy.checkHostPath', () => {
  it('allows the ISO folders (also through a linked folder) and the library, answering the real path', async () => {
    expect(await policy.checkHostPath(path.join(home, 'isos', 'a.iso'), 'media')).toBe(
      path.join(home, 'isos', 'a.iso'),
    );
    expect(await policy.checkHostPath(path.join(home, 'isos', 'sub'), 'folder')).toBe(path.join(home, 'isos', 'sub'));
    expect(await policy.checkHostPath(path.join(tmp, 'linked-isos', 'c.iso'), 'media')).toBe(path.join(extra, 'c.iso'));
    expect(await policy.checkHostPath(path.join(home, 'isos', 'alias.iso'), 'media')).toBe(
      path.join(home, 'isos', 'sub', 'b.iso'),
    );
    const disk = path.join(home, 'vms', 'vm1', 'disks', 'disk0.qcow2');
    expect(await policy.checkHostPath(disk, 'media')).toBe(disk);
  });

  it('refuses paths outside, symlinks leading out, .. tricks and relative paths', async () => {
    for (const p of [
      path.join(outside, 'secret'),
      path.join(home, 'isos', 'escape.iso'),
      path.join(home, 'isos', '..', 'server-auth.json'),
      path.join(home, 'server-auth.json'),
      '/etc/shadow',
      'isos/a.iso',
      '/',
    ]) {
      const err = await refusal(p);
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.message).toMatch(/not a file the web console can use/);
    }
    expect((await refusal(outside, 'folder')).message).toMatch(/not a folder the web console can use/);
  });

  it('answers a missing path exactly as a forbidden one: nothing tells whether a server path exists', async () => {
    const pairs: [string, string][] = [
      ['/etc/shadow', '/etc/no-such-file-here'],
      [path.join(outside, 'secret'), path.join(outside, 'missing')],
      [path.join(home, 'isos', 'escape.iso'), path.join(home, 'isos', 'missing.iso')],
    ];
    for (const [forbidden, missing] of pairs) {
      const a = await refusal(forbidden);
      const b = await refusal(missing);
      expect(a.code).toBe(b.code);
      expect(a.message.replace(JSON.stringify(forbidden), '<path>')).toBe(
        b.message.replace(JSON.stringify(missing), '<path>'),
      );
      expect(a.details).toEqual(b.details);
    }
  });
});

describe('WebCallerPolicy.checkHostPath for a file a call creates (output)', () => {
  it('allows new files only directly in $MARU_HOME/disks (made on demand), which it may also read', async () => {
    const disks = path.join(home, 'disks');
    expect(await policy.checkHostPath(path.join(disks, 'export.vdi'), 'output')).toBe(path.join(disks, 'export.vdi'));
    await writeFile(path.join(disks, 'imported.qcow2'), 'disk');
    expect(await policy.checkHostPath(path.join(disks, 'imported.qcow2'), 'media')).toBe(
      path.join(disks, 'imported.qcow2'),
    );
  });

  it('allows VM archives directly in $MARU_HOME/backups (made on demand), which it may also read', async () => {
    const backups = path.join(home, 'backups');
    expect(await policy.checkHostPath(path.join(backups, 'vm.maru'), 'output')).toBe(path.join(backups, 'vm.maru'));
    await writeFile(path.join(backups, 'old.maru'), 'archive');
    expect(await policy.checkHostPath(path.join(backups, 'old.maru'), 'media')).toBe(path.join(backups, 'old.maru'));
    await expect(policy.checkHostPath(path.join(backups, 'sub', 'x.maru'), 'output')).rejects.toThrow(
      /not a place the web console can write to/,
    );
  });

  it('refuses every other place: the library, ISO folders, outside, hidden names, links leading out', async () => {
    await symlink(outside, path.join(home, 'disks', 'out-link'));
    for (const p of [
      path.join(home, 'vms', 'vm1', 'disks', 'new.qcow2'),
      path.join(home, 'vms', 'vm1', 'vm.json'),
      path.join(home, 'isos', 'x.vdi'),
      path.join(home, 'server-auth.json'),
      path.join(outside, 'x.vdi'),
      path.join(home, 'disks', 'out-link', 'x.vdi'),
      path.join(home, 'disks', '.hidden'),
      path.join(home, 'disks', '..', 'x.vdi'),
      path.join(home, 'disks', 'no-such-folder', 'x.vdi'),
      'disks/x.vdi',
    ]) {
      const err = await refusal(p, 'output');
      expect(err.code, p).toBe('INVALID_ARGUMENT');
      expect(err.message, p).toMatch(/not a place the web console can write to: it may only create files in .*disks/);
    }
  });
});

describe('WebCallerPolicy.checkBindAddress', () => {
  it('allows loopback only, however written', () => {
    for (const a of [
      '127.0.0.1',
      '127.8.9.10',
      'localhost',
      'LOCALHOST',
      '::1',
      '[::1]',
      '0:0:0:0:0:0:0:1',
      '::ffff:127.0.0.1',
    ]) {
      expect(isLoopbackAddress(a), a).toBe(true);
      expect(() => policy.checkBindAddress(a)).not.toThrow();
    }
    for (const a of [
      '0.0.0.0',
      '::',
      '192.168.1.10',
      '10.0.0.1',
      '::ffff:10.0.0.1',
      '128.0.0.1',
      'nas.local',
      '127.0.0.1.nip.io',
      '',
    ]) {
      expect(isLoopbackAddress(a), a).toBe(false);
      expect(() => policy.checkBindAddress(a), a).toThrow(/loopback only.*--allow-remote-forwards/);
    }
  });

  it('allows any address when the owner started the server with --allow-remote-forwards', () => {
    const open = new WebCallerPolicy({ maruHome: home, allowRemoteForwards: true });
    expect(() => open.checkBindAddress('0.0.0.0')).not.toThrow();
    expect(() => open.checkBindAddress('192.168.1.10')).not.toThrow();
  });
});
