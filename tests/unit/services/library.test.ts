// The VM library on real files in a temp MARU_HOME, checked with the real qemu-img: presets,
// validation, list/show, inaccessible configs left byte-for-byte alone, migration, power
// state, modify/rename/delete/clone, cancellation. Also the data-folder and atomic-write helpers.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { statfsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Library } from '../../../src-main/services/library/library-service';
import { createControlServices } from '../../../src-main/services/control-services';
import type { HostLimits } from '../../../src-main/services/library/host-limits';
import { resolveMaruHome } from '../../../src-main/services/maru-home';
import { writeFileAtomic } from '../../../src-node/atomic-file';
import { AppError } from '../../../src-shared/errors';
import type { JobProgress } from '../../../src-shared/contracts/jobs';
import type { VmListEntry } from '../../../src-shared/contracts/library';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** A small host: 8 GiB of RAM (at most 7168 MiB for a VM), 4 cores. */
const HOST: HostLimits = { totalMemoryBytes: 8 * GiB, cores: 4 };

let home: string;
let lib: Library;
beforeEach(async () => {
  home = await mkdtemp(path.join(os.tmpdir(), 'maru-lib-'));
  lib = new Library({ maruHome: home, hostLimits: HOST });
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

async function expectAppError(p: Promise<unknown>, code: string, text?: RegExp): Promise<AppError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  const appErr = err as AppError;
  expect(appErr.code).toBe(code);
  if (text) expect(appErr.message).toMatch(text);
  return appErr;
}

function qemuImgCheck(file: string): number | null {
  return spawnSync('qemu-img', ['check', file], { encoding: 'utf8' }).status;
}

function qemuImgInfo(file: string): { format: string; 'virtual-size': number } {
  return JSON.parse(execFileSync('qemu-img', ['info', '--output=json', file], { encoding: 'utf8' })) as {
    format: string;
    'virtual-size': number;
  };
}

/** Everything under vms/, including hidden staging folders. */
async function vmsEntries(): Promise<string[]> {
  return readdir(path.join(home, 'vms')).catch(() => []);
}

/** Writes a raw vm.json into a new folder under vms/ and returns the folder and its bytes. */
async function plantConfig(
  contents: string | Buffer,
  folderName = randomUUID(),
): Promise<{ file: string; bytes: Buffer; id: string }> {
  const folder = path.join(home, 'vms', folderName);
  await mkdir(folder, { recursive: true });
  const file = path.join(folder, 'vm.json');
  await writeFile(file, contents);
  return { file, bytes: await readFile(file), id: folderName };
}

describe('Library.create', () => {
  it('fills in the Windows 11 preset: UEFI, Secure Boot, TPM and a sparse 64 GiB qcow2', async () => {
    const phases: JobProgress[] = [];
    const { vm, warnings } = await lib.create(
      { name: 'Win 11', os: 'windows11' },
      { onProgress: (p) => phases.push(p) },
    );
    // No warning, but for the host's free space when it is less than the 64 GiB disk (figures given).
    const free = statfsSync(home);
    expect(warnings).toEqual(
      free.bavail * free.bsize < 64 * GiB ? [expect.stringMatching(/^The disk's size, 64 GiB, is more than the /)] : [],
    );
    const c = vm.config;
    expect(c).toMatchObject({
      schemaVersion: 4,
      name: 'Win 11',
      os: 'windows11',
      engine: 'auto',
      cpus: 2,
      memoryMiB: 4096,
      chipset: 'q35',
      firmware: 'uefi',
      secureBoot: true,
      tpm: true,
      cdroms: [{ id: 'cd0', iso: null, bus: 'ahci' }],
      floppies: [],
      nics: [{ attachment: 'nat', model: 'e1000e', cableConnected: true, portForwards: [] }],
    });
    expect(c.disks).toEqual([{ id: 'disk0', file: 'disks/disk0.qcow2', bus: 'ahci', sizeBytes: 64 * GiB }]);
    expect(vm.folder).toBe(path.join(home, 'vms', c.id));
    expect(vm.state).toBe('off');

    const disk = path.join(vm.folder, 'disks', 'disk0.qcow2');
    expect(qemuImgCheck(disk)).toBe(0);
    const info = qemuImgInfo(disk);
    expect(info.format).toBe('qcow2');
    expect(info['virtual-size']).toBe(64 * GiB);
    expect((await stat(disk)).blocks * 512).toBeLessThan(1 * MiB);
    expect(vm.disks[0]).toMatchObject({ virtualSizeBytes: 64 * GiB, exists: true, path: disk });
    expect(vm.disks[0]?.allocatedBytes).toBeLessThan(1 * MiB);

    expect((await stat(path.join(vm.folder, 'logs'))).isDirectory()).toBe(true);
    const onDisk = JSON.parse(await readFile(path.join(vm.folder, 'vm.json'), 'utf8')) as unknown;
    expect(onDisk).toEqual(c);
    expect(await vmsEntries()).toEqual([c.id]); // no staging folder left behind
    expect(phases.map((p) => p.phase)).toContain('disk');
    expect(phases.at(-1)).toEqual({ phase: 'config', fraction: 1 });
  });

  it('makes no disk for diskGiB 0 and defaults to the "other" preset', async () => {
    const { vm } = await lib.create({ name: 'diskless', diskGiB: 0 });
    expect(vm.config.os).toBe('other');
    expect(vm.config.disks).toEqual([]);
    expect(await readdir(path.join(vm.folder, 'disks'))).toEqual([]);
  });

  it('refuses a duplicate name, case-insensitively, naming the existing VM', async () => {
    const { vm } = await lib.create({ name: 'Debian', diskGiB: 0 });
    const err = await expectAppError(lib.create({ name: 'debian', diskGiB: 0 }), 'ALREADY_EXISTS', /"Debian"/);
    expect(err.message).toContain(vm.config.id);
    expect(await vmsEntries()).toHaveLength(1);
  });

  it.each([
    ['empty', ''],
    ['a slash', 'a/b'],
    ['a backslash', 'a\\b'],
    ['dot-dot', '..'],
    ['a control character', 'bad\u0007name'],
    ['a leading space', ' lead'],
    ['65 characters', 'x'.repeat(65)],
  ])('refuses a name with %s', async (_label, name) => {
    await expectAppError(lib.create({ name, diskGiB: 0 }), 'INVALID_ARGUMENT', /cannot be a VM name/);
    expect(await vmsEntries()).toEqual([]);
  });

  it('accepts a 64-character name', async () => {
    const { vm } = await lib.create({ name: 'y'.repeat(64), diskGiB: 0 });
    expect(vm.config.name).toHaveLength(64);
  });

  it('refuses more memory than the host can give, with the figures', async () => {
    const err = await expectAppError(lib.create({ name: 'hog', memoryMiB: 8000, diskGiB: 0 }), 'HOST_LIMIT');
    expect(err.message).toContain('8000 MiB');
    expect(err.message).toContain('8192 MiB');
    expect(err.message).toContain('7168 MiB');
    expect(await vmsEntries()).toEqual([]);
  });

  it('warns when a VM takes more than half of the host RAM', async () => {
    const { warnings } = await lib.create({ name: 'big', memoryMiB: 5000, diskGiB: 0 });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/RAM given to a VM is taken from the host while it runs/);
    expect(warnings[0]).toContain('5000 MiB');
    const atHalf = await lib.create({ name: 'half', memoryMiB: 4096, diskGiB: 0 });
    expect(atHalf.warnings).toEqual([]);
  });

  it('refuses less than 4 MiB of memory', async () => {
    await expectAppError(lib.create({ name: 'tiny', memoryMiB: 3, diskGiB: 0 }), 'INVALID_ARGUMENT', /at least 4 MiB/);
  });

  it('refuses more CPUs than host cores, with both figures', async () => {
    const err = await expectAppError(lib.create({ name: 'smp', cpus: 8, diskGiB: 0 }), 'HOST_LIMIT');
    expect(err.message).toMatch(/8 CPUs/);
    expect(err.message).toMatch(/4 CPU cores/);
    await expectAppError(lib.create({ name: 'zero', cpus: 0, diskGiB: 0 }), 'INVALID_ARGUMENT');
  });

  it('warns below the Windows 11 minimums, naming the requirement', async () => {
    const { warnings, vm } = await lib.create({
      name: 'w11 small',
      os: 'windows11',
      cpus: 1,
      memoryMiB: 2048,
      diskGiB: 32,
    });
    expect(warnings).toHaveLength(3);
    for (const w of warnings)
      expect(w).toMatch(/Windows 11 needs at least 2 CPUs, 4096 MiB of memory and a 64 GiB disk/);
    expect(warnings.join('\n')).toMatch(/1 CPU \(/);
    expect(warnings.join('\n')).toMatch(/2048 MiB/);
    expect(warnings.join('\n')).toMatch(/32 GiB/);
    expect(qemuImgInfo(vm.disks[0]!.path)['virtual-size']).toBe(32 * GiB);
  });

  it('requires an existing ISO file and stores its absolute path', async () => {
    const missing = path.join(home, 'nowhere', 'install.iso');
    await expectAppError(lib.create({ name: 'a', iso: missing, diskGiB: 0 }), 'NOT_FOUND', /nowhere\/install\.iso/);
    await expectAppError(lib.create({ name: 'b', iso: home, diskGiB: 0 }), 'INVALID_ARGUMENT', /not a regular file/);
    const iso = path.join(home, 'install.iso');
    await writeFile(iso, Buffer.alloc(2048));
    const relative = path.relative(process.cwd(), iso);
    const { vm } = await lib.create({ name: 'c', iso: relative, diskGiB: 0 });
    expect(vm.config.cdroms[0]!.iso).toBe(iso);
    expect(vm.config.bootOrder[0]).toBe('cdrom');
  });

  it('refuses Secure Boot with BIOS firmware', async () => {
    await expectAppError(
      lib.create({ name: 'sb', firmware: 'bios', secureBoot: true, diskGiB: 0 }),
      'INVALID_ARGUMENT',
      /Secure Boot needs UEFI/,
    );
  });

  it('picks UEFI when Secure Boot is asked for without a firmware', async () => {
    const { vm } = await lib.create({ name: 'sb uefi', secureBoot: true, diskGiB: 0 });
    expect(vm.config).toMatchObject({ os: 'other', firmware: 'uefi', secureBoot: true });
  });

  it('turns the preset Secure Boot off, with a warning, when BIOS is chosen', async () => {
    const { vm, warnings } = await lib.create({ name: 'w11 bios', os: 'windows11', firmware: 'bios', diskGiB: 0 });
    expect(vm.config.secureBoot).toBe(false);
    expect(warnings.join('\n')).toMatch(/Secure Boot is off/);
  });

  it('enforces the v86 limits with the reason', async () => {
    const base = { os: 'dos' as const, engine: 'v86' as const, diskGiB: 0 };
    await expectAppError(lib.create({ ...base, name: 'v1', cpus: 2 }), 'INVALID_ARGUMENT', /32-bit CPU/);
    await expectAppError(lib.create({ ...base, name: 'v2', memoryMiB: 3000 }), 'INVALID_ARGUMENT', /2048 MiB/);
    await expectAppError(lib.create({ ...base, name: 'v3', firmware: 'uefi' }), 'INVALID_ARGUMENT', /BIOS only/);
    const { vm } = await lib.create({ ...base, name: 'v4', memoryMiB: 2048 });
    expect(vm.config).toMatchObject({ engine: 'v86', chipset: 'pc', firmware: 'bios', tpm: false });
  });

  it('creates nothing when cancelled', async () => {
    const ac = new AbortController();
    const p = lib.create(
      { name: 'gone', os: 'windows11' },
      {
        signal: ac.signal,
        onProgress: (pr) => {
          if (pr.phase === 'disk' && pr.fraction > 0) ac.abort();
        },
      },
    );
    await expectAppError(p, 'CANCELLED');
    expect(await vmsEntries()).toEqual([]);
    expect(await lib.list()).toEqual([]);
  });
});

describe('Library.list and show', () => {
  it('lists what vm.json says now, in one long-lived Library: edits, corruption and repair, removal', async () => {
    const vm = (await lib.create({ name: 'cached', diskGiB: 0 })).vm;
    const file = path.join(vm.folder, 'vm.json');
    const good = await readFile(file, 'utf8');
    const nameOf = async () => (await lib.list()).map((e) => (e.kind === 'ok' ? e.name : `inaccessible ${e.id}`));
    expect(await nameOf()).toEqual(['cached']);
    // Edited behind the library's back (same length, so only the text differs).
    await writeFile(file, good.replace('"cached"', '"cachet"'));
    expect(await nameOf()).toEqual(['cachet']);
    await writeFile(file, '{ not json');
    expect(await nameOf()).toEqual([`inaccessible ${vm.config.id}`]);
    await writeFile(file, good);
    expect(await nameOf()).toEqual(['cached']);
    await rm(vm.folder, { recursive: true });
    expect(await lib.list()).toEqual([]);
  });

  it('lists VMs sorted by name and finds them by uuid, exact and case-insensitive name', async () => {
    const b = (await lib.create({ name: 'beta', diskGiB: 1 })).vm;
    const a = (await lib.create({ name: 'Alpha', os: 'linux64', diskGiB: 0 })).vm;
    const list = await lib.list();
    expect(list.map((e) => (e.kind === 'ok' ? e.name : e.id))).toEqual(['Alpha', 'beta']);
    expect(list[0]).toEqual({
      kind: 'ok',
      id: a.config.id,
      name: 'Alpha',
      os: 'linux64',
      engine: 'auto',
      cpus: 2,
      memoryMiB: 2048,
      firmware: 'uefi',
      state: 'off',
      folder: a.folder,
    });
    expect((await lib.show(b.config.id)).config.name).toBe('beta');
    expect((await lib.show(b.config.id.toUpperCase())).config.name).toBe('beta');
    expect((await lib.show('beta')).config.id).toBe(b.config.id);
    expect((await lib.show('ALPHA')).config.id).toBe(a.config.id);
    const shown = await lib.show('beta');
    expect(shown.disks[0]).toMatchObject({ id: 'disk0', bus: 'ide', virtualSizeBytes: GiB, exists: true });
    expect(shown.disks[0]!.allocatedBytes).toBeGreaterThan(0);
    expect(shown.disks[0]!.allocatedBytes).toBeLessThan(MiB);
    const err = await expectAppError(lib.show('gamma'), 'NOT_FOUND', /"gamma"/);
    expect(err.message).not.toContain('beta');
    expect(err.message).not.toContain(home);
  });

  it('shows a missing disk as not existing', async () => {
    const { vm } = await lib.create({ name: 'lost disk', diskGiB: 1 });
    await rm(vm.disks[0]!.path);
    const shown = await lib.show('lost disk');
    expect(shown.disks[0]).toMatchObject({ exists: false, allocatedBytes: null, virtualSizeBytes: GiB });
  });

  it('sorts names case-insensitively with numbers in natural order', async () => {
    for (const name of ['vm-10', 'VM-2', 'alpha', 'Beta', 'vm-1']) await lib.create({ name, diskGiB: 0 });
    const names = (await lib.list()).map((e) => (e.kind === 'ok' ? e.name : ''));
    expect(names).toEqual(['alpha', 'Beta', 'vm-1', 'VM-2', 'vm-10']);
  });

  it('is empty for a fresh data folder', async () => {
    expect(await lib.list()).toEqual([]);
  });

  const broken: [string, string | Buffer, RegExp][] = [
    ['garbage bytes', Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0xff, 0x7b]), /not valid JSON/],
    ['valid JSON with a bad schema', JSON.stringify({ schemaVersion: 2, name: 'x', cpus: 'many' }), /invalid/],
    ['a future schema version', JSON.stringify({ schemaVersion: 99, id: randomUUID(), name: 'future' }), /newer/],
    ['no version at all', JSON.stringify({ hello: 'world' }), /no schemaVersion/],
  ];
  it.each(broken)('lists a vm.json with %s as inaccessible and never touches it', async (_label, contents, why) => {
    const good = (await lib.create({ name: 'good', diskGiB: 0 })).vm;
    const planted = await plantConfig(contents);
    const before = await stat(planted.file);

    const list = await lib.list();
    expect(list).toHaveLength(2);
    expect(list[0]).toMatchObject({ kind: 'ok', id: good.config.id });
    const bad = list[1] as Extract<VmListEntry, { kind: 'inaccessible' }>;
    expect(bad.kind).toBe('inaccessible');
    expect(bad.id).toBe(planted.id);
    expect(bad.error).toMatch(why);

    await expectAppError(lib.show(planted.id), 'INACCESSIBLE', why);
    await expectAppError(lib.modify(planted.id, { description: 'x' }), 'INACCESSIBLE');
    await expectAppError(lib.rename(planted.id, 'fixed'), 'INACCESSIBLE');
    await expectAppError(lib.clone(planted.id, 'copy'), 'INACCESSIBLE');
    // Creating and modifying other VMs reads the whole library and must leave it alone too.
    await lib.create({ name: 'another', diskGiB: 0 });
    await lib.modify('good', { description: 'still fine' });

    const after = await stat(planted.file);
    expect(await readFile(planted.file)).toEqual(planted.bytes);
    expect(after.mtimeMs).toBe(before.mtimeMs);
    expect(await readdir(path.dirname(planted.file))).toEqual(['vm.json']);
  });

  it('keeps the name of a VM from a newer Maru taken', async () => {
    const planted = await plantConfig(JSON.stringify({ schemaVersion: 99, id: randomUUID(), name: 'From The Future' }));
    await expectAppError(lib.create({ name: 'from the future', diskGiB: 0 }), 'ALREADY_EXISTS', /From The Future/);
    expect(await readFile(planted.file)).toEqual(planted.bytes);
  });

  it('lists a folder without vm.json, or whose vm.json names another id, as inaccessible', async () => {
    const empty = randomUUID();
    await mkdir(path.join(home, 'vms', empty), { recursive: true });
    const { vm } = await lib.create({ name: 'original', diskGiB: 0 });
    const copied = await plantConfig(await readFile(path.join(vm.folder, 'vm.json')));
    const list = await lib.list();
    const errors = Object.fromEntries(list.filter((e) => e.kind === 'inaccessible').map((e) => [e.id, e.error]));
    expect(errors[empty]).toMatch(/no vm\.json/);
    expect(errors[copied.id]).toMatch(/belongs to VM/);
    expect(list[0]).toMatchObject({ kind: 'ok', name: 'original' });
  });

  it('reads a version 1 config migrated, without writing it; the first modify keeps a backup', async () => {
    const id = randomUUID();
    const v1 = {
      version: 1,
      id,
      name: 'Old XP',
      os: 'windowsxp',
      cpus: 1,
      memory: 512,
      disk: null,
      iso: null,
      created: '2023-05-01T10:00:00.000Z',
    };
    const planted = await plantConfig(JSON.stringify(v1, null, 2), id);
    const before = await stat(planted.file);

    const list = await lib.list();
    expect(list[0]).toMatchObject({ kind: 'ok', id, name: 'Old XP', memoryMiB: 512, firmware: 'bios' });
    const shown = await lib.show('old xp');
    expect(shown.migratedFrom).toBe(1);
    expect(shown.config).toMatchObject({ schemaVersion: 4, chipset: 'pc', createdAt: '2023-05-01T10:00:00.000Z' });
    expect(await readFile(planted.file)).toEqual(planted.bytes);
    expect((await stat(planted.file)).mtimeMs).toBe(before.mtimeMs);

    const { vm } = await lib.modify(id, { memoryMiB: 768 });
    expect(vm.migratedFrom).toBeUndefined();
    expect(await readFile(`${planted.file}.v1.bak`)).toEqual(planted.bytes);
    const now = JSON.parse(await readFile(planted.file, 'utf8')) as { schemaVersion: number; memoryMiB: number };
    expect(now).toMatchObject({ schemaVersion: 4, memoryMiB: 768 });
    expect((await lib.show(id)).migratedFrom).toBeUndefined();
  });
});

describe('power state', () => {
  it('is running while the run lock names a live process, saved with the marker, else off', async () => {
    const { vm } = await lib.create({ name: 'pw', diskGiB: 0 });
    const id = vm.config.id;
    const lockDir = path.join(home, 'run', id);
    await mkdir(lockDir, { recursive: true });

    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      await writeFile(path.join(lockDir, 'lock'), JSON.stringify({ pid: child.pid, startedAt: Date.now() }));
      expect((await lib.list())[0]).toMatchObject({ state: 'running' });
      expect((await lib.show(id)).state).toBe('running');
      await expectAppError(lib.modify(id, { cpus: 2 }), 'BUSY', /running/);
      await expectAppError(lib.rename(id, 'other'), 'BUSY');
      await expectAppError(lib.delete(id, { deleteDisks: true }), 'BUSY');
      await expectAppError(lib.clone(id, 'copy'), 'BUSY');
    } finally {
      child.kill();
    }
    await new Promise((resolve) => child.once('exit', resolve));
    // A stale lock of a dead pid: the engine host died without cleaning up.
    expect((await lib.show(id)).state).toBe('aborted');
    await writeFile(path.join(lockDir, 'lock'), `${child.pid}\n`);
    expect((await lib.show(id)).state).toBe('aborted');

    await writeFile(path.join(vm.folder, 'saved-state'), '');
    expect((await lib.list())[0]).toMatchObject({ state: 'saved' });
    await expectAppError(lib.modify(id, { memoryMiB: 256 }), 'BUSY', /saved state/);
    const { vm: described } = await lib.modify(id, { description: 'notes are fine' });
    expect(described.config.description).toBe('notes are fine');
  });
});

describe('Library.modify and rename', () => {
  it('changes settings, validates like create, and updates modifiedAt', async () => {
    const { vm } = await lib.create({ name: 'mod', diskGiB: 0 });
    await new Promise((r) => setTimeout(r, 5));
    const iso = path.join(home, 'cd.iso');
    await writeFile(iso, 'iso');
    const { vm: changed, warnings } = await lib.modify('mod', {
      cpus: 3,
      memoryMiB: 6000,
      description: 'hello',
      iso,
      nics: [{ ...vm.config.nics[0]!, portForwards: [{ protocol: 'tcp', hostPort: 2222, guestPort: 22 }] }],
    });
    expect(warnings.join('\n')).toMatch(/taken from the host/);
    expect(changed.config).toMatchObject({ cpus: 3, memoryMiB: 6000, description: 'hello' });
    expect(changed.config.cdroms).toEqual([{ id: 'cd0', iso, bus: 'ide' }]);
    expect(changed.config.nics[0]!.portForwards).toEqual([
      { protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 2222, guestPort: 22 },
    ]);
    expect(changed.config.createdAt).toBe(vm.config.createdAt);
    expect(changed.config.modifiedAt > vm.config.modifiedAt).toBe(true);
    expect(JSON.parse(await readFile(path.join(vm.folder, 'vm.json'), 'utf8'))).toEqual(changed.config);

    await expectAppError(lib.modify('mod', { cpus: 5 }), 'HOST_LIMIT', /4 CPU cores/);
    await expectAppError(lib.modify('mod', { memoryMiB: 9000 }), 'HOST_LIMIT', /7168 MiB/);
    await expectAppError(lib.modify('mod', { secureBoot: true }), 'INVALID_ARGUMENT', /UEFI/);
    await expectAppError(lib.modify('mod', { engine: 'v86' }), 'INVALID_ARGUMENT', /v86/);
    await expectAppError(lib.modify('mod', { iso: path.join(home, 'missing.iso') }), 'NOT_FOUND', /missing\.iso/);
    await expectAppError(lib.modify('mod', { name: 'a/b' }), 'INVALID_ARGUMENT');
    const ejected = await lib.modify('mod', { iso: null });
    expect(ejected.vm.config.cdroms[0]!.iso).toBeNull();
  });

  it('writes nothing when nothing changes', async () => {
    const { vm } = await lib.create({ name: 'same', diskGiB: 0 });
    const file = path.join(vm.folder, 'vm.json');
    const before = await stat(file);
    const { vm: after } = await lib.modify('same', { cpus: vm.config.cpus, description: '' });
    expect(after.config.modifiedAt).toBe(vm.config.modifiedAt);
    expect((await stat(file)).mtimeMs).toBe(before.mtimeMs);
  });

  it('switching Windows 11 to BIOS turns Secure Boot off with a warning', async () => {
    await lib.create({ name: 'w', os: 'windows11', diskGiB: 0 });
    const { vm, warnings } = await lib.modify('w', { firmware: 'bios' });
    expect(vm.config).toMatchObject({ firmware: 'bios', secureBoot: false });
    expect(warnings.join('\n')).toMatch(/Secure Boot is now off/);
  });

  it('renames, refusing a name another VM has but allowing a change of case', async () => {
    await lib.create({ name: 'one', diskGiB: 0 });
    await lib.create({ name: 'two', diskGiB: 0 });
    await expectAppError(lib.rename('one', 'TWO'), 'ALREADY_EXISTS', /"two"/);
    expect((await lib.rename('one', 'One')).config.name).toBe('One');
    expect((await lib.rename('One', 'three')).config.name).toBe('three');
    expect((await lib.list()).map((e) => (e.kind === 'ok' ? e.name : ''))).toEqual(['three', 'two']);
  });
});

describe('Library.delete', () => {
  it('with deleteDisks removes the whole VM', async () => {
    const { vm } = await lib.create({ name: 'bye', diskGiB: 1 });
    await lib.delete('bye', { deleteDisks: true });
    await expect(stat(vm.folder)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await lib.list()).toEqual([]);
    expect(await vmsEntries()).toEqual([]);
    await expectAppError(lib.delete('bye', { deleteDisks: true }), 'NOT_FOUND');
  });

  it('without deleteDisks moves the disks to orphaned-disks/<name>-<uuid> and removes the rest', async () => {
    const { vm } = await lib.create({ name: 'keep disks', diskGiB: 1 });
    await mkdir(path.join(vm.folder, 'tpm'));
    await writeFile(path.join(vm.folder, 'logs', 'serial.log'), 'boot');
    const result = await lib.deleteVm(vm.config.id, { deleteDisks: false });
    const kept = path.join(home, 'orphaned-disks', `keep disks-${vm.config.id}`);
    expect(result.keptDisksAt).toBe(kept);
    expect(await readdir(kept)).toEqual(['disk0.qcow2']);
    expect(qemuImgCheck(path.join(kept, 'disk0.qcow2'))).toBe(0);
    await expect(stat(vm.folder)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await lib.list()).toEqual([]);
  });

  it('can delete an inaccessible VM by its folder name', async () => {
    const planted = await plantConfig('{ not json');
    await lib.delete(planted.id, { deleteDisks: true });
    expect(await lib.list()).toEqual([]);
  });
});

describe('Library.clone', () => {
  it('makes a full, sparse clone whose disk checks clean and holds the same data', async () => {
    const { vm } = await lib.create({ name: 'src', os: 'linux64', diskGiB: 4 });
    const srcDisk = vm.disks[0]!.path;
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x5a 1M 2M', '-c', 'write -P 0x33 3G 1M', srcDisk]);
    // An odd-sized file with data, a zero gap and a non-zero tail: copied byte for byte.
    const nvram = Buffer.alloc(3 * 65536 + 123);
    nvram.fill(0xee, 0, 5000);
    nvram.fill(0x11, 3 * 65536);
    await writeFile(path.join(vm.folder, 'nvram.qcow2'), nvram);
    await mkdir(path.join(vm.folder, 'tpm'));
    await writeFile(path.join(vm.folder, 'tpm', 'tpm2-00.permall'), 'tpm state');
    await writeFile(path.join(vm.folder, 'logs', 'serial.log'), 'not copied');

    const phases: JobProgress[] = [];
    const copy = await lib.clone('src', 'src copy', { onProgress: (p) => phases.push(p) });
    expect(copy.config.id).not.toBe(vm.config.id);
    expect(copy.config.name).toBe('src copy');
    expect({ ...copy.config, id: 0, name: 0, createdAt: 0, modifiedAt: 0 }).toEqual({
      ...vm.config,
      id: 0,
      name: 0,
      createdAt: 0,
      modifiedAt: 0,
    });
    const dstDisk = copy.disks[0]!.path;
    expect(dstDisk).toBe(path.join(copy.folder, 'disks', 'disk0.qcow2'));
    expect(qemuImgCheck(dstDisk)).toBe(0);
    expect(spawnSync('qemu-img', ['compare', '-f', 'qcow2', '-F', 'qcow2', srcDisk, dstDisk]).status).toBe(0);
    const [s, d] = await Promise.all([stat(srcDisk), stat(dstDisk)]);
    expect(d.size).toBe(s.size);
    expect(d.blocks * 512).toBeLessThanOrEqual(s.blocks * 512 + 64 * 1024);
    expect(d.blocks * 512).toBeLessThan(4 * MiB);
    expect(await readFile(path.join(copy.folder, 'nvram.qcow2'))).toEqual(nvram);
    expect(await readFile(path.join(copy.folder, 'tpm', 'tpm2-00.permall'), 'utf8')).toBe('tpm state');
    expect(await readdir(path.join(copy.folder, 'logs'))).toEqual([]);
    expect(phases.filter((p) => p.phase === 'disk').at(-1)?.fraction).toBe(1);
    expect(phases.at(-1)).toEqual({ phase: 'config', fraction: 1 });
    expect((await lib.list()).map((e) => (e.kind === 'ok' ? e.name : ''))).toEqual(['src', 'src copy']);
    await expectAppError(lib.clone('src', 'SRC COPY'), 'ALREADY_EXISTS');
  });

  it('leaves no partial VM when cancelled', async () => {
    const { vm } = await lib.create({ name: 'big src', diskGiB: 1 });
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x77 0 12M', vm.disks[0]!.path]);
    const ac = new AbortController();
    const p = lib.clone('big src', 'never', {
      signal: ac.signal,
      onProgress: (pr) => {
        if (pr.phase === 'disk' && pr.fraction > 0) ac.abort();
      },
    });
    await expectAppError(p, 'CANCELLED');
    expect(await vmsEntries()).toEqual([vm.config.id]);
    expect((await lib.list()).map((e) => e.id)).toEqual([vm.config.id]);
    expect(qemuImgCheck(vm.disks[0]!.path)).toBe(0);
  });
});

describe('one broken VM folder blocks no other VM', () => {
  it('a vm.json that is a folder or a link loop, or a run lock that is a folder, is listed inaccessible; the rest works', async () => {
    const { vm: healthy } = await lib.create({ name: 'healthy', diskGiB: 1 });
    const folderConfig = randomUUID();
    await mkdir(path.join(home, 'vms', folderConfig, 'vm.json'), { recursive: true });
    const loop = randomUUID();
    await mkdir(path.join(home, 'vms', loop));
    await symlink('vm.json', path.join(home, 'vms', loop, 'vm.json')); // ELOOP when read
    const { vm: badRun } = await lib.create({ name: 'bad run folder', diskGiB: 0 });
    await mkdir(path.join(home, 'run', badRun.config.id, 'lock'), { recursive: true }); // EISDIR when read

    const list = await lib.list();
    expect(list.filter((e) => e.kind === 'ok').map((e) => (e.kind === 'ok' ? e.name : ''))).toEqual(['healthy']);
    const errors = Object.fromEntries(list.filter((e) => e.kind === 'inaccessible').map((e) => [e.id, e.error]));
    expect(errors[folderConfig]).toMatch(/vm\.json cannot be read: EISDIR/);
    expect(errors[loop]).toMatch(/vm\.json cannot be read: ELOOP/);
    expect(errors[badRun.config.id]).toMatch(/Cannot read .*lock/);

    // Create, rename, clone, modify and delete of the other VMs all work.
    const { vm: fresh } = await lib.create({ name: 'fresh', diskGiB: 0 });
    expect((await lib.rename(healthy.config.id, 'renamed')).config.name).toBe('renamed');
    const copy = await lib.clone('renamed', 'copy of renamed');
    expect(copy.disks[0]!.exists).toBe(true);
    expect((await lib.modify('fresh', { cpus: 2 })).vm.config.cpus).toBe(2);
    await lib.delete(fresh.config.id, { deleteDisks: true });
    // Names are still checked against the readable VMs.
    await expectAppError(lib.create({ name: 'RENAMED', diskGiB: 0 }), 'ALREADY_EXISTS');
    expect((await lib.list()).filter((e) => e.kind === 'ok').map((e) => (e.kind === 'ok' ? e.name : ''))).toEqual([
      'copy of renamed',
      'renamed',
    ]);
    // The broken folders are left as they were.
    expect((await stat(path.join(home, 'vms', folderConfig, 'vm.json'))).isDirectory()).toBe(true);
    expect(await readlink(path.join(home, 'vms', loop, 'vm.json'))).toBe('vm.json');
  });
});

describe('disk paths in vm.json', () => {
  /** Rewrites a VM's vm.json with `disks[0]` changed; returns the new bytes. */
  async function pointDisk(folder: string, change: Record<string, unknown>): Promise<Buffer> {
    const file = path.join(folder, 'vm.json');
    const config = JSON.parse(await readFile(file, 'utf8')) as { disks: Record<string, unknown>[] };
    const { userAttached: _previous, ...disk } = config.disks[0]!;
    config.disks[0] = { ...disk, ...change };
    await writeFile(file, JSON.stringify(config, null, 2));
    return readFile(file);
  }

  it("a disk in another VM's folder or elsewhere under MARU_HOME: inaccessible with the reason, refused at start, nothing modified", async () => {
    const { vm: victim } = await lib.create({ name: 'victim', diskGiB: 1 });
    const victimDisk = victim.disks[0]!.path;
    const victimBytes = await readFile(victimDisk);
    const victimMtime = (await stat(victimDisk)).mtimeMs;
    const { vm: intruder } = await lib.create({ name: 'intruder', diskGiB: 1 });
    await mkdir(path.join(home, 'isos'), { recursive: true });
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ file: victimDisk }, /another VM's folder/],
      [{ file: victimDisk, userAttached: true }, /another VM's folder/],
      [{ file: `../${victim.config.id}/disks/disk0.qcow2` }, /another VM's folder/],
      [{ file: path.join(home, 'isos', 'x.qcow2'), userAttached: true }, /Maru's data folder/],
      [{ file: path.join(home, 'server-auth.json') }, /Maru's data folder/],
      [{ file: '../../../etc/passwd' }, /leads out of this VM's folder/],
      [{ file: '/etc/passwd' }, /does not say the user attached it/],
    ];
    const { services } = createControlServices({ maruHome: home });
    for (const [change, why] of cases) {
      const bytes = await pointDisk(intruder.folder, change);
      const entry = (await lib.list()).find((e) => e.id === intruder.config.id);
      expect(entry, JSON.stringify(change)).toMatchObject({ kind: 'inaccessible', error: expect.stringMatching(why) });
      await expectAppError(lib.show(intruder.config.id), 'INACCESSIBLE', why);
      await expectAppError(services.vm.start(intruder.config.id), 'INACCESSIBLE', why);
      await expectAppError(lib.modify(intruder.config.id, { cpus: 2 }), 'INACCESSIBLE');
      await expectAppError(lib.clone(intruder.config.id, 'stolen'), 'INACCESSIBLE');
      expect(await readFile(path.join(intruder.folder, 'vm.json'))).toEqual(bytes);
    }
    expect(await readFile(victimDisk)).toEqual(victimBytes);
    expect((await stat(victimDisk)).mtimeMs).toBe(victimMtime);
    expect((await lib.list()).map((e) => (e.kind === 'ok' ? e.name : e.id))).toEqual(['victim', intruder.config.id]);
  });

  it("a symlink in the VM's folder into another VM's is refused once followed", async () => {
    const { vm: victim } = await lib.create({ name: 'victim', diskGiB: 1 });
    const { vm: linker } = await lib.create({ name: 'linker', diskGiB: 1 });
    const own = linker.disks[0]!.path;
    await rm(own);
    await symlink(victim.disks[0]!.path, own);
    await expectAppError(lib.show('linker'), 'INACCESSIBLE', /another VM's folder.*resolves to/);
    await expectAppError(lib.clone('linker', 'copy'), 'INACCESSIBLE');
  });

  it('a disk the user attached outside MARU_HOME is used; the same path without the mark is not', async () => {
    const outside = await mkdtemp(path.join(os.tmpdir(), 'maru-attached-'));
    try {
      const disk = path.join(outside, 'mine.qcow2');
      execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '16M']);
      const { vm } = await lib.create({ name: 'attached', diskGiB: 1 });
      await pointDisk(vm.folder, { file: disk, sizeBytes: 16 * MiB, userAttached: true });
      const shown = await lib.show('attached');
      expect(shown.disks[0]).toMatchObject({ path: disk, exists: true, virtualSizeBytes: 16 * MiB });
      // A clone copies it into the clone's own folder, no longer an attachment.
      const copy = await lib.clone('attached', 'attached copy');
      expect(copy.config.disks[0]).not.toHaveProperty('userAttached');
      expect(copy.disks[0]!.path.startsWith(copy.folder + path.sep)).toBe(true);
      await pointDisk(vm.folder, { userAttached: false });
      await expectAppError(lib.show(vm.config.id), 'INACCESSIBLE', /"userAttached": true/);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });
});

describe('resolveMaruHome', () => {
  it('prefers MARU_HOME, then the OS rule', () => {
    const home1 = '/home/ann';
    expect(resolveMaruHome({ env: { MARU_HOME: '/data/maru' }, platform: 'linux', homedir: home1 })).toBe('/data/maru');
    expect(resolveMaruHome({ env: {}, platform: 'linux', homedir: home1 })).toBe('/home/ann/.local/share/maru');
    expect(resolveMaruHome({ env: { XDG_DATA_HOME: '/x' }, platform: 'linux', homedir: home1 })).toBe('/x/maru');
    expect(resolveMaruHome({ env: { XDG_DATA_HOME: 'rel' }, platform: 'linux', homedir: home1 })).toBe(
      '/home/ann/.local/share/maru',
    );
    expect(resolveMaruHome({ env: {}, platform: 'darwin', homedir: '/Users/ann' })).toBe(
      '/Users/ann/Library/Application Support/Maru',
    );
    expect(
      resolveMaruHome({
        env: { APPDATA: 'C:\\Users\\ann\\AppData\\Roaming' },
        platform: 'win32',
        homedir: 'C:\\Users\\ann',
      }),
    ).toBe('C:\\Users\\ann\\AppData\\Roaming\\Maru');
  });
});

describe('writeFileAtomic', () => {
  it('replaces a file whole and leaves no temporary file', async () => {
    const file = path.join(home, 'settings.json');
    await writeFile(file, 'old');
    await writeFileAtomic(file, '{"new":true}\n', { mode: 0o600 });
    expect(await readFile(file, 'utf8')).toBe('{"new":true}\n');
    expect(await readdir(home)).toEqual(['settings.json']);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });
});
