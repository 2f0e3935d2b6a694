// A VM's storage settings through the library on real files: schema 2 → 3 migration (read in
// memory, written only on the next change), presets' drives, attaching and detaching disks
// (new, existing, imported), CD/DVD and floppy drives, media of a stored VM — and every bad
// input refused with a clear error and nothing written.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createControlServices } from '../../../src-main/services/control-services';
import { Library } from '../../../src-main/services/library/library-service';
import type { HostLimits } from '../../../src-main/services/library/host-limits';
import { createQcow2 } from '../../../src-emulator/disk/qcow2-create';
import { createFloppyImage } from '../../../src-emulator/media/floppy-image';
import { AppError } from '../../../src-shared/errors';

const GiB = 1024 ** 3;
const HOST: HostLimits = { totalMemoryBytes: 8 * GiB, cores: 4 };

let home: string;
let lib: Library;
beforeEach(async () => {
  home = await mkdtemp(path.join(os.tmpdir(), 'maru-storage-'));
  lib = new Library({ maruHome: home, hostLimits: HOST });
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

async function refused(p: Promise<unknown>, code: string, text: RegExp): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the call should have been refused').toBeInstanceOf(AppError);
  expect((err as AppError).code).toBe(code);
  expect((err as AppError).message).toMatch(text);
}

/** vm.json's bytes and the VM folder's files: what "nothing written" compares. */
async function snapshotOf(folder: string): Promise<{ json: Buffer; files: string[] }> {
  const files = (await readdir(folder, { recursive: true })).map(String).sort();
  return { json: await readFile(path.join(folder, 'vm.json')), files };
}

function qemuImg(...args: string[]): string {
  return execFileSync('qemu-img', args, { encoding: 'utf8' });
}

describe('schema 2 → 3', () => {
  it('reads a version 2 vm.json with its one CD/DVD drive as cdroms[0]; the file is unchanged until a change is saved', async () => {
    const id = randomUUID();
    const folder = path.join(home, 'vms', id);
    await mkdir(folder, { recursive: true });
    const v2 = {
      schemaVersion: 2,
      id,
      name: 'Old Linux',
      os: 'linux64',
      engine: 'auto',
      cpus: 1,
      memoryMiB: 1024,
      chipset: 'q35',
      firmware: 'bios',
      secureBoot: false,
      tpm: false,
      disks: [],
      cdrom: { iso: '/isos/debian.iso' },
      bootOrder: ['cdrom', 'disk'],
      network: { enabled: true, model: 'virtio-net', portForwards: [] },
      display: { vga: 'std' },
      description: '',
      createdAt: '2025-03-01T10:00:00.000Z',
      modifiedAt: '2025-03-01T10:00:00.000Z',
    };
    const file = path.join(folder, 'vm.json');
    await writeFile(file, JSON.stringify(v2, null, 2));
    const bytes = await readFile(file);
    const mtime = (await stat(file)).mtimeMs;

    const shown = await lib.show(id);
    expect(shown.migratedFrom).toBe(2);
    expect(shown.config.schemaVersion).toBe(4);
    expect(shown.config.cdroms).toEqual([{ id: 'cd0', iso: '/isos/debian.iso', bus: 'ahci' }]);
    expect(shown.config.floppies).toEqual([]);
    expect((await lib.storage(id)).drives).toEqual([
      { id: 'cd0', type: 'dvd', bus: 'ahci', slot: 'SATA port 0', medium: '/isos/debian.iso', exists: false },
    ]);
    expect(await readFile(file)).toEqual(bytes);
    expect((await stat(file)).mtimeMs).toBe(mtime);

    // The first change writes version 3 and keeps the version 2 file beside it.
    await lib.attachStorage(id, { type: 'fdd', medium: null });
    expect(await readFile(`${file}.v2.bak`)).toEqual(bytes);
    const now = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    expect(now).toMatchObject({ schemaVersion: 4, floppies: [{ id: 'fd0', image: null }] });
    expect(now).not.toHaveProperty('cdrom');
    expect((await lib.show(id)).migratedFrom).toBeUndefined();
  });
});

describe('presets', () => {
  it('DOS, Windows 98 and XP get an IDE disk and floppy drive A: (booted first); Windows 11 may take NVMe', async () => {
    for (const os of ['dos', 'windows98', 'windowsxp'] as const) {
      const { vm } = await lib.create({ name: `p-${os}`, os, diskGiB: 0.01 });
      expect(vm.config.disks[0]!.bus).toBe('ide');
      expect(vm.config.cdroms).toEqual([{ id: 'cd0', iso: null, bus: 'ide' }]);
      expect(vm.config.floppies).toEqual([{ id: 'fd0', image: null }]);
      expect(vm.config.bootOrder).toEqual(['floppy', 'disk', 'cdrom']);
    }
    const { vm: linux } = await lib.create({ name: 'p-linux', os: 'linux64', diskGiB: 0.01 });
    expect([linux.config.disks[0]!.bus, linux.config.floppies]).toEqual(['virtio', []]);
    const { vm: win11 } = await lib.create({ name: 'p-w11', os: 'windows11', diskGiB: 0.01, diskBus: 'nvme' });
    expect(win11.config.disks[0]!.bus).toBe('nvme');
    expect((await lib.storage('p-w11')).drives[0]!.slot).toBe('own NVMe controller');
  });
});

describe('attachStorage / detachStorage', () => {
  it('adds a new disk on virtio-scsi, an existing qcow2 from outside, an imported one (moved in), a second CD/DVD and floppy drives', async () => {
    const { vm } = await lib.create({ name: 'box', os: 'linux64', diskGiB: 0.01 });
    const created = await lib.attachStorage('box', { type: 'hdd', bus: 'virtio-scsi', createBytes: 64 * 1024 * 1024 });
    expect(created.drive).toMatchObject({ id: 'disk1', type: 'hdd', bus: 'virtio-scsi', sizeBytes: 64 * 1024 * 1024 });
    expect(JSON.parse(qemuImg('info', '--output=json', created.drive.medium!))).toMatchObject({
      format: 'qcow2',
      'virtual-size': 64 * 1024 * 1024,
    });

    const outside = await mkdtemp(path.join(os.tmpdir(), 'maru-outside-'));
    try {
      const own = path.join(outside, 'data.qcow2');
      await createQcow2(own, 32 * 1024 * 1024);
      const attached = await lib.attachStorage('box', { type: 'hdd', bus: 'ahci', medium: own });
      expect(attached.drive).toMatchObject({ id: 'disk2', bus: 'ahci', medium: own, exists: true });
      expect(attached.vm.config.disks[2]).toMatchObject({ file: own, userAttached: true });

      await mkdir(path.join(home, 'disks'), { recursive: true });
      const imported = path.join(home, 'disks', 'old-server.qcow2');
      await createQcow2(imported, 16 * 1024 * 1024);
      const moved = await lib.attachStorage('box', { type: 'hdd', bus: 'nvme', medium: imported });
      expect(moved.vm.config.disks[3]).toMatchObject({ id: 'disk3', file: 'disks/old-server.qcow2', bus: 'nvme' });
      expect(existsSync(imported)).toBe(false);
      expect(existsSync(path.join(vm.folder, 'disks', 'old-server.qcow2'))).toBe(true);
      expect(moved.warnings.join(' ')).toMatch(/was moved into the VM's folder/);

      const cd = await lib.attachStorage('box', { type: 'dvd', medium: null });
      expect(cd.drive).toMatchObject({ id: 'cd1', type: 'dvd', bus: 'ahci', slot: 'SATA port 2', medium: null });
      const floppy = path.join(outside, 'boot.img');
      await createFloppyImage(floppy, '1.44M');
      const fd = await lib.attachStorage('box', { type: 'fdd', medium: floppy });
      expect(fd.drive).toMatchObject({ id: 'fd0', type: 'fdd', slot: 'floppy A:', medium: floppy });

      const listed = await lib.storage('box');
      expect(listed.drives.map((d) => `${d.id}:${d.slot}`)).toEqual([
        'disk0:virtio-blk',
        'disk1:virtio-scsi controller',
        'disk2:SATA port 0',
        'disk3:own NVMe controller',
        'cd0:SATA port 1',
        'cd1:SATA port 2',
        'fd0:floppy A:',
      ]);
      expect(listed.qemuProblems).toEqual([]);
      expect(listed.v86Problems.join(' ')).toMatch(/disk disk0 is on virtio/);

      // Detaching keeps the file and says where it is.
      const detached = await lib.detachStorage('box', 'disk2');
      expect(detached.keptFile).toBe(own);
      expect(existsSync(own)).toBe(true);
      expect(detached.vm.config.disks.map((d) => d.id)).toEqual(['disk0', 'disk1', 'disk3']);
      await refused(
        lib.detachStorage('box', 'disk9'),
        'NOT_FOUND',
        /has no drive "disk9" \(it has disk0, disk1, disk3, cd0, cd1, fd0\)/,
      );
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it("refuses a disk attached twice, another VM's disk, a non-qcow2 image, a fifth IDE drive, a wrong-size floppy, a third floppy drive and NVMe on v86 — writing nothing", async () => {
    const { vm } = await lib.create({ name: 'xp', os: 'windowsxp', diskGiB: 0.01 });
    const { vm: other } = await lib.create({ name: 'other', os: 'linux64', diskGiB: 0.01 });
    const before = await snapshotOf(vm.folder);

    await refused(
      lib.attachStorage('xp', { type: 'hdd', medium: path.join(vm.folder, 'disks', 'disk0.qcow2') }),
      'ALREADY_EXISTS',
      /is already attached to VM "xp" as disk disk0/,
    );
    await refused(
      lib.attachStorage('xp', { type: 'hdd', medium: path.join(other.folder, 'disks', 'disk0.qcow2') }),
      'BUSY',
      /is disk disk0 of VM "other" \(off\); two VMs writing one disk would corrupt it/,
    );
    const raw = path.join(home, 'plain.img');
    await writeFile(raw, Buffer.alloc(1024 * 1024));
    await refused(
      lib.attachStorage('xp', { type: 'hdd', medium: raw }),
      'INVALID_ARGUMENT',
      /not a usable qcow2 image.*maru disk import/,
    );
    expect(await snapshotOf(vm.folder)).toEqual(before);

    // A PC's IDE: disk0 + cd0 + two more = 4; a fifth is refused and names every drive.
    await lib.attachStorage('xp', { type: 'hdd', createBytes: 1024 * 1024 });
    await lib.attachStorage('xp', { type: 'dvd', medium: null });
    const four = await snapshotOf(vm.folder);
    await refused(
      lib.attachStorage('xp', { type: 'hdd', createBytes: 1024 * 1024 }),
      'INVALID_ARGUMENT',
      /two IDE channels hold 4 devices .* 5 IDE drives \(disk disk0, disk disk1, disk disk2, CD\/DVD drive cd0 and CD\/DVD drive cd1\)/,
    );
    expect(await snapshotOf(vm.folder)).toEqual(four);
    expect(existsSync(path.join(vm.folder, 'disks', 'disk2.qcow2'))).toBe(false);
    await refused(
      lib.attachStorage('xp', { type: 'dvd', bus: 'ide', medium: null }),
      'INVALID_ARGUMENT',
      /5 IDE drives/,
    );

    const notFloppy = path.join(home, 'big.img');
    await writeFile(notFloppy, Buffer.alloc(1_500_000));
    await refused(
      lib.attachStorage('xp', { type: 'fdd', medium: notFloppy }),
      'INVALID_ARGUMENT',
      /is not a floppy image: it is 1500000 bytes/,
    );
    await refused(lib.changeMedium('xp', 'floppy', notFloppy), 'INVALID_ARGUMENT', /is not a floppy image/);
    await lib.attachStorage('xp', { type: 'fdd', medium: null });
    const two = await snapshotOf(vm.folder);
    await refused(
      lib.attachStorage('xp', { type: 'fdd', medium: null }),
      'INVALID_ARGUMENT',
      /two floppy drives \(A: and B:\) .* has both \(fd0, fd1\)/,
    );
    expect(await snapshotOf(vm.folder)).toEqual(two);

    // v86: IDE only.
    const { vm: dos } = await lib.create({ name: 'dos', os: 'dos', engine: 'v86', diskGiB: 0.01 });
    const dosBefore = await snapshotOf(dos.folder);
    await refused(
      lib.attachStorage('dos', { type: 'hdd', bus: 'nvme', createBytes: 1024 * 1024 }),
      'INVALID_ARGUMENT',
      /set to the v86 engine, which cannot attach these drives: v86 has IDE disks only and disk disk1 is on NVMe/,
    );
    await refused(
      lib.attachStorage('dos', { type: 'dvd', medium: null }),
      'INVALID_ARGUMENT',
      /v86 has one CD\/DVD drive and the VM has 2/,
    );
    expect(await snapshotOf(dos.folder)).toEqual(dosBefore);
    // …and a VM with an NVMe disk cannot be switched to v86.
    await refused(
      lib.modify('other', { engine: 'v86', cpus: 1, memoryMiB: 512, firmware: 'bios' }),
      'INVALID_ARGUMENT',
      /v86/,
    );
  });

  it('an auto VM whose preset prefers v86 is told it will run on QEMU once it has a drive v86 cannot attach', async () => {
    await lib.create({ name: 'dos auto', os: 'dos', diskGiB: 0.01 });
    const r = await lib.attachStorage('dos auto', { type: 'hdd', bus: 'ahci', createBytes: 1024 * 1024 });
    expect(r.warnings.join(' ')).toMatch(/this VM will run on QEMU/);
  });

  it('refuses to change drives while the VM has a saved state; media of a stored VM change in its config', async () => {
    const { vm } = await lib.create({ name: 'saved', os: 'dos', diskGiB: 0.01 });
    const floppy = path.join(home, 'disk1.img');
    await createFloppyImage(floppy, '720K');
    const stored = await lib.changeMedium('saved', 'floppy', floppy);
    expect(stored).toMatchObject({ drive: 'fd0', kind: 'floppy', medium: floppy });
    expect((await lib.show('saved')).config.floppies).toEqual([{ id: 'fd0', image: floppy }]);
    await refused(lib.changeMedium('saved', 'disk0', null), 'NOT_FOUND', /disk0 is a hard disk/);

    await writeFile(path.join(vm.folder, 'saved-state'), '');
    await refused(
      lib.attachStorage('saved', { type: 'fdd', medium: null }),
      'BUSY',
      /has a saved state, which only fits its current drives/,
    );
    await refused(lib.detachStorage('saved', 'fd0'), 'BUSY', /saved state/);
  });
});

describe('snapshot lists from before schema 3', () => {
  it('a snapshot whose saved settings are schema 2 is listed, and restoring it gives the VM schema 3 settings', async () => {
    const host = createControlServices({ maruHome: home });
    try {
      const { snapshots } = host.services;
      const { vm } = await lib.create({ name: 'snappy', os: 'linux64', diskGiB: 0.01 });
      await snapshots.take('snappy', { name: 'before' });
      // Rewrite the list as Maru ≤ schema 2 kept it: the snapshot's settings with one `cdrom`.
      const file = path.join(vm.folder, 'snapshots.json');
      const list = JSON.parse(await readFile(file, 'utf8')) as { snapshots: { config: Record<string, unknown> }[] };
      const {
        cdroms,
        floppies: _f,
        nics,
        ...rest
      } = list.snapshots[0]!.config as {
        cdroms: { iso: string | null }[];
        floppies: unknown;
        nics: { model: string; portForwards: unknown[] }[];
      };
      // (and, as before schema 4, one adapter: `network`)
      const network = { enabled: true, model: nics[0]!.model, portForwards: nics[0]!.portForwards };
      list.snapshots[0]!.config = { ...rest, schemaVersion: 2, cdrom: { iso: cdroms[0]!.iso }, network };
      await writeFile(file, JSON.stringify(list));

      const tree = await snapshots.list('snappy');
      expect(tree.damaged).toBeNull();
      expect(tree.snapshots.map((s) => s.name)).toEqual(['before']);
      await snapshots.restore('snappy', tree.snapshots[0]!.id);
      const after = await lib.show('snappy');
      expect(after.config.schemaVersion).toBe(4);
      expect(after.config.cdroms).toEqual([{ id: 'cd0', iso: null, bus: 'ahci' }]);
    } finally {
      host.dispose();
    }
  });
});
