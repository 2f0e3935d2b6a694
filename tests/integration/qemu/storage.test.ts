// Storage settings through the real CLI and real QEMU (TCG): a q35 VM with disks on SATA,
// virtio-scsi and NVMe plus a floppy drive (an isa-fdc: q35 has no floppy controller) boots the
// test ISO, and the guest lists every device with its size (serial markers MARU-DISK / MARU-FLOPPY);
// a floppy is swapped and ejected while it runs; a PC boots from a floppy; bad input is refused.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, TestHome, canRun, expectNothingLeft, statusOf } from './qemu-test-kit';

// MARU_TEST_FIXTURES: test media built elsewhere (MARU_FIXTURES_OUT=… scripts/build-fixtures.sh).
const fixtures = process.env.MARU_TEST_FIXTURES ?? FIXTURES;
const ISO = path.join(fixtures, 'maru-test-bios-uefi.iso');
const STORM = path.join(FIXTURES, 'storm-640x480.img');
// The guest reports floppy drives once its initramfs has the floppy driver (scripts/build-fixtures.sh).
const storageOrder = path.join(fixtures, 'parts', 'kernel-amd64', 'storage.order');
const guestHasFloppy = existsSync(storageOrder) && readFileSync(storageOrder, 'utf8').split('\n').includes('floppy');

const MiB = 1024 * 1024;

/** The disks the guest listed: name → sectors (and removable). */
function guestDisks(log: string): Map<string, { sectors: number; removable: boolean }> {
  const out = new Map<string, { sectors: number; removable: boolean }>();
  for (const m of log.matchAll(/MARU-DISK:(\S+) sectors=(\d+) removable=(\d)/g)) {
    out.set(m[1]!, { sectors: Number(m[2]), removable: m[3] === '1' });
  }
  return out;
}

/** Writes a FAT volume label into a floppy image's boot sector (offset 43, 11 bytes). */
function label(file: string, text: string): void {
  const b = readFileSync(file);
  b.write(text.padEnd(11, ' '), 43, 'latin1');
  writeFileSync(file, b);
}

describe.skipIf(!canRun || !existsSync(ISO))('storage: several controllers and a floppy (real QEMU, TCG)', () => {
  let t: TestHome;
  let id = '';
  let floppyA = '';
  let floppyB = '';

  beforeAll(async () => {
    t = await TestHome.create();
    id = await t.createVm('stor', [
      '--os',
      'linux64',
      '--firmware',
      'bios',
      '--cpus',
      '1',
      '--memory',
      '256',
      '--disk',
      '1',
      '--disk-bus',
      'sata',
      '--iso',
      ISO,
    ]);
    floppyA = path.join(t.root, 'a.img');
    floppyB = path.join(t.root, 'b.img');
  });
  afterAll(async () => {
    await t?.dispose();
  });

  it('attaches a virtio-scsi and an NVMe disk, a formatted floppy in a new drive A:, and lists where each sits', async () => {
    await t.ok(['storage', 'stor', 'attach', '--type', 'hdd', '--bus', 'virtio-scsi', '--create', '64M']);
    await t.ok(['storage', 'stor', 'attach', '--type', 'hdd', '--bus', 'nvme', '--create', '32M']);
    expect(await t.ok(['floppy', 'create', floppyA])).toMatch(/an empty 1\.44M floppy \(FAT12, 1474560 bytes\)/);
    await t.ok(['floppy', 'create', floppyB, '--size', '720K']);
    label(floppyA, 'MARU-A');
    label(floppyB, 'MARU-B');
    const fd = JSON.parse(
      await t.ok(['storage', 'stor', 'attach', '--type', 'fdd', '--medium', floppyA, '--json']),
    ) as {
      drive: { id: string; slot: string };
    };
    expect(fd.drive).toMatchObject({ id: 'fd0', slot: 'floppy A:' });

    const list = JSON.parse(await t.ok(['storage', 'stor', 'list', '--json'])) as {
      drives: { id: string; bus: string; slot: string; sizeBytes?: number }[];
      qemuProblems: string[];
    };
    expect(list.drives.map((d) => [d.id, d.bus, d.slot, d.sizeBytes])).toEqual([
      ['disk0', 'ahci', 'SATA port 0', 1024 * MiB],
      ['disk1', 'virtio-scsi', 'virtio-scsi controller', 64 * MiB],
      ['disk2', 'nvme', 'own NVMe controller', 32 * MiB],
      ['cd0', 'ahci', 'SATA port 1', undefined],
      ['fd0', 'fdc', 'floppy A:', undefined],
    ]);
    expect(list.qemuProblems).toEqual([]);
    const shown = await t.ok(['show', 'stor']);
    expect(shown).toMatch(/Disk disk2: .*disk2\.qcow2 \(NVMe, 32 MiB virtual/);
    expect(shown).toMatch(/Floppy fd0: .*a\.img \(A:\)/);
  });

  it('boots the test ISO and the guest sees every disk on its controller, the CD and the floppy', async () => {
    await t.ok(['start', 'stor', '--headless']);
    const log = await t.waitForSerial(id, 'MARU-DISKS=', 150_000);
    const disks = guestDisks(log);
    // SATA and virtio-scsi disks are SCSI disks to Linux (sdX); NVMe is nvme0n1.
    const sd = [...disks].filter(([n]) => n.startsWith('sd')).map(([, d]) => d.sectors);
    expect(sd.sort((a, b) => a - b)).toEqual([(64 * MiB) / 512, (1024 * MiB) / 512]);
    expect(disks.get('nvme0n1')).toEqual({ sectors: (32 * MiB) / 512, removable: false });
    expect(disks.get('sr0')?.removable).toBe(true);
    expect(guestHasFloppy, `${storageOrder} lacks the floppy driver: rebuild the test media ("npm run fixtures")`).toBe(
      true,
    );
    expect(disks.get('fd0')).toEqual({ sectors: 2880, removable: true });
    expect(log).toContain('MARU-FLOPPY:fd0 label=MARU-A');
  });

  it('swaps the floppy while it runs (the guest reads the new one after a reset) and ejects it; a wrong image changes nothing', async () => {
    const big = path.join(t.root, 'big.img');
    writeFileSync(big, Buffer.alloc(1_000_000));
    const bad = await t.maru(['floppy', 'stor', 'insert', big]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/is not a floppy image: it is 1000000 bytes/);
    const media = async () =>
      ((await statusOf(t, id)) as unknown as { media: { id: string; kind: string; medium: string | null }[] }).media;
    expect(await media()).toContainEqual({ id: 'fd0', kind: 'floppy', medium: floppyA });

    expect(await t.ok(['floppy', 'stor', 'insert', floppyB])).toMatch(
      /Inserted .*b\.img into floppy drive fd0 of "stor" \(for this run\)/,
    );
    expect(await media()).toContainEqual({ id: 'fd0', kind: 'floppy', medium: floppyB });
    await t.ok(['reset', 'stor']);
    const log = await t.waitForSerial(id, 'MARU-DISKS=', 150_000, 2);
    const second = log.slice(log.indexOf('MARU-DISKS=') + 1);
    expect(second).toContain('MARU-DISK:fd0 sectors=1440 removable=1');
    expect(second).toContain('MARU-FLOPPY:fd0 label=MARU-B');
    expect(await t.ok(['floppy', 'stor', 'eject'])).toMatch(
      /Ejected the floppy from drive fd0 of "stor" \(for this run\)/,
    );
    expect(await media()).toContainEqual({ id: 'fd0', kind: 'floppy', medium: null });
    // The drive is still there: a floppy goes back in.
    await t.ok(['floppy', 'stor', 'insert', floppyA]);
    expect(await media()).toContainEqual({ id: 'fd0', kind: 'floppy', medium: floppyA });

    // Drives cannot change while it runs; the config keeps the floppy it was started with.
    const busy = await t.maru(['storage', 'stor', 'attach', '--type', 'hdd', '--create', '8M']);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(/is running; stop it to add a drive to it/);
    await t.ok(['stop', 'stor', '--force']);
    await expectNothingLeft(t, id);
    const config = JSON.parse(await t.ok(['show', 'stor', '--json'])) as { config: { floppies: unknown[] } };
    expect(config.config.floppies).toEqual([{ id: 'fd0', image: floppyA }]);
    // Every disk is a clean qcow2 after the run.
    for (const d of ['disk0', 'disk1', 'disk2']) {
      expect(spawnSync('qemu-img', ['check', path.join(t.vmFolder(id), 'disks', `${d}.qcow2`)]).status).toBe(0);
    }
  });

  it('refuses a disk attached twice and a fifth IDE drive, writing nothing', async () => {
    const file = path.join(t.vmFolder(id), 'vm.json');
    const before = readFileSync(file);
    const twice = await t.maru([
      'storage',
      'stor',
      'attach',
      '--type',
      'hdd',
      '--medium',
      path.join(t.vmFolder(id), 'disks', 'disk1.qcow2'),
    ]);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/is already attached to VM "stor" as disk disk1/);
    const xp = await t.createVm('xp', ['--os', 'windowsxp', '--disk', '0.01']);
    for (let i = 0; i < 2; i++) await t.ok(['storage', 'xp', 'attach', '--type', 'hdd', '--create', '1M']);
    const xpFile = path.join(t.vmFolder(xp), 'vm.json');
    const xpBefore = readFileSync(xpFile);
    const fifth = await t.maru(['storage', 'xp', 'attach', '--type', 'dvd', '--medium', 'emptydrive']);
    expect(fifth.code).toBe(1);
    expect(fifth.stderr).toMatch(/two IDE channels hold 4 devices .* 5 IDE drives/);
    expect(readFileSync(xpFile)).toEqual(xpBefore);
    expect(readFileSync(file)).toEqual(before);
  });
});

describe.skipIf(!canRun || !existsSync(STORM))('storage: booting from a floppy (real QEMU, TCG)', () => {
  let t: TestHome;
  afterAll(async () => {
    await t?.dispose();
  });

  it.each(['pc', 'q35'] as const)('a %s boots the floppy in drive A: first in its boot order', async (chipset) => {
    t ??= await TestHome.create();
    const name = `boot-${chipset}`;
    // linux32 is a pc; linux64 (with BIOS) a q35, whose floppy drive sits on the isa-fdc Maru adds.
    const id = await t.createVm(name, [
      '--os',
      chipset === 'pc' ? 'linux32' : 'linux64',
      '--firmware',
      'bios',
      '--memory',
      '64',
      '--cpus',
      '1',
      '--disk',
      '0',
    ]);
    const floppy = path.join(t.root, `${name}.img`);
    copyFileSync(STORM, floppy);
    await t.ok(['storage', name, 'attach', '--type', 'fdd', '--medium', floppy]);
    await t.ok(['modify', name, '--boot-order', 'floppy,cdrom,disk']);
    await t.ok(['start', name, '--headless']);
    // The storm guest prints each frame's number on COM1: it booted from the floppy.
    await t.waitForSerial(id, /F[0-9A-F]{8}/, 120_000, 3);
    await t.ok(['stop', name, '--force']);
    await expectNothingLeft(t, id);
  });
});
