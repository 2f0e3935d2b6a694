// Floppies on the v86 engine through the real CLI: a DOS-preset VM (floppy drive A: first in its
// boot order) passes over a data floppy Maru formatted and boots the i386 test ISO, whose guest
// lists the floppy with its size and volume label (MARU-DISK / MARU-FLOPPY on serial); a floppy is
// swapped and ejected while it runs; a VM boots from a floppy; and what v86 cannot attach (NVMe,
// a second CD/DVD drive, a floppy of the wrong size) is refused with the reason and nothing written.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForLog } from './v86-test-kit';

const CLI = path.resolve('dist/cli/maru.js');
const FIXTURES = path.resolve('tests/fixtures/build');
// MARU_TEST_FIXTURES: test media built elsewhere (MARU_FIXTURES_OUT=… scripts/build-fixtures.sh).
const fixtures = process.env.MARU_TEST_FIXTURES ?? FIXTURES;
const ISO = path.join(fixtures, 'maru-test-i386.iso');
const STORM = path.join(FIXTURES, 'storm-640x480.img');
const storageOrder = path.join(fixtures, 'parts', 'kernel-i386', 'storage.order');
const guestHasFloppy = existsSync(storageOrder) && readFileSync(storageOrder, 'utf8').split('\n').includes('floppy');
const BOOT_MS = 240_000;
let home: string;

function maru(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    env: { ...process.env, MARU_HOME: home },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function ok(args: string[]): string {
  const r = maru(args);
  expect(r.code, `maru ${args.join(' ')}: ${r.err}`).toBe(0);
  return r.out;
}

function label(file: string, text: string): void {
  const b = readFileSync(file);
  b.write(text.padEnd(11, ' '), 43, 'latin1');
  writeFileSync(file, b);
}

beforeAll(() => {
  const b = spawnSync(process.execPath, ['scripts/build.mjs', '--node-only', '--quiet'], { encoding: 'utf8' });
  if (b.status !== 0) throw new Error(`build failed: ${b.stderr}`);
  home = mkdtempSync(path.join(os.tmpdir(), 'maru-v86-floppy-'));
});

afterAll(() => {
  for (const vm of ['dosfd', 'stormy']) maru(['stop', vm, '--force']);
  if (home) rmSync(home, { recursive: true, force: true });
});

describe.skipIf(!existsSync(ISO))('v86 floppies through the CLI', () => {
  it('passes over a data floppy in A:, boots the CD, and the guest sees the floppy; a swap while running reaches it', async () => {
    const a = path.join(home, 'a.img');
    const b = path.join(home, 'b.img');
    ok(['floppy', 'create', a]);
    ok(['floppy', 'create', b, '--size', '720K']);
    label(a, 'MARU-V86-A');
    label(b, 'MARU-V86-B');
    const created = JSON.parse(
      ok([
        'create',
        '--name',
        'dosfd',
        '--os',
        'dos',
        '--engine',
        'v86',
        '--memory',
        '128',
        '--disk',
        '0',
        '--iso',
        ISO,
        '--json',
      ]),
    ) as { vm: { config: { bootOrder: string[]; floppies: unknown[]; cdroms: unknown[] } } };
    expect(created.vm.config.bootOrder).toEqual(['floppy', 'cdrom', 'disk']);
    expect(created.vm.config.floppies).toEqual([{ id: 'fd0', image: null }]);
    expect(ok(['floppy', 'dosfd', 'insert', a])).toMatch(/will start with .*a\.img in floppy drive fd0/);

    const started = JSON.parse(ok(['start', 'dosfd', '--headless', '--json'])) as {
      status: { engine: string; serialLog: string; media: { id: string; kind: string; medium: string | null }[] };
    };
    expect(started.status.engine).toBe('v86');
    expect(started.status.media).toEqual([
      { id: 'cd0', kind: 'cdrom', medium: ISO },
      { id: 'fd0', kind: 'floppy', medium: a },
    ]);
    const serial = started.status.serialLog;
    const first = await waitForLog(serial, /MARU-DISKS=/, BOOT_MS);
    expect(first).toContain('MARU-BOOT-OK');
    expect(guestHasFloppy, `${storageOrder} lacks the floppy driver: rebuild the test media ("npm run fixtures")`).toBe(
      true,
    );
    expect(first).toMatch(/MARU-DISK:fd0 sectors=2880 removable=1/);
    expect(first).toContain('MARU-FLOPPY:fd0 label=MARU-V86-A');

    // Swapped while running: v86 tells the guest the medium changed; after a reset it reads the new one.
    const bad = path.join(home, 'big.img');
    writeFileSync(bad, Buffer.alloc(2_000_000));
    const refused = maru(['floppy', 'dosfd', 'insert', bad]);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/is not a floppy image: it is 2000000 bytes/);
    expect(ok(['floppy', 'dosfd', 'insert', b])).toMatch(
      /Inserted .*b\.img into floppy drive fd0 of "dosfd" \(for this run\)/,
    );
    ok(['reset', 'dosfd']);
    const second = await waitForLog(serial, /MARU-DISKS=[\s\S]*MARU-DISKS=/, BOOT_MS);
    const after = second.slice(second.indexOf('MARU-DISKS=') + 1);
    // The guest reads the new floppy's boot sector. (Its size shows as 2880 sectors: v86's controller
    // does not check the data rate, so Linux's format probing takes the 720K medium for 1.44M.)
    expect(after).toMatch(/MARU-DISK:fd0 sectors=\d+ removable=1/);
    expect(after).toContain('MARU-FLOPPY:fd0 label=MARU-V86-B');
    expect(ok(['floppy', 'dosfd', 'eject'])).toMatch(/Ejected the floppy from drive fd0 of "dosfd" \(for this run\)/);
    const status = JSON.parse(ok(['status', 'dosfd', '--json'])) as { media: { id: string; medium: string | null }[] };
    expect(status.media.find((m) => m.id === 'fd0')?.medium).toBeNull();
    ok(['stop', 'dosfd', '--force']);
    // Nothing wrote to the floppies: the files are as they were (and as long as a floppy is).
    expect(readFileSync(a).subarray(43, 54).toString('latin1')).toBe('MARU-V86-A ');
    expect(readFileSync(b).length).toBe(737_280);
  });

  it('refuses what v86 cannot attach, and says so in "maru show" for an auto VM that cannot use v86 any more', () => {
    maru(['stop', 'dosfd', '--force']); // left running when the test before failed
    const vm = JSON.parse(ok(['show', 'dosfd', '--json'])) as { folder: string };
    const before = readFileSync(path.join(vm.folder, 'vm.json'));
    const nvme = maru(['storage', 'dosfd', 'attach', '--type', 'hdd', '--bus', 'nvme', '--create', '1M']);
    expect(nvme.code).toBe(1);
    expect(nvme.err).toMatch(
      /set to the v86 engine, which cannot attach these drives: v86 has IDE disks only and disk disk0 is on NVMe/,
    );
    const cd = maru(['storage', 'dosfd', 'attach', '--type', 'dvd', '--medium', 'emptydrive']);
    expect(cd.code).toBe(1);
    expect(cd.err).toMatch(/v86 has one CD\/DVD drive and the VM has 2/);
    expect(readFileSync(path.join(vm.folder, 'vm.json'))).toEqual(before);

    ok(['create', '--name', 'dosauto', '--os', 'dos', '--disk', '0.01']);
    const sata = maru(['storage', 'dosauto', 'attach', '--type', 'hdd', '--bus', 'sata', '--create', '1M']);
    expect(sata.code).toBe(0);
    expect(sata.err).toMatch(/v86 cannot attach these drives .*: this VM will run on QEMU/);
    expect(ok(['show', 'dosauto'])).toMatch(
      /v86 engine: +cannot run these drives: v86 has IDE disks only and disk disk1 is on SATA/,
    );
    const toV86 = maru(['modify', 'dosauto', '--engine', 'v86']);
    expect(toV86.code).toBe(1);
    expect(toV86.err).toMatch(/v86/);
  });
});

describe.skipIf(!existsSync(STORM))('v86 boots from a floppy', () => {
  it('a VM with the storm floppy in A: boots it (boot order from the config)', async () => {
    const floppy = path.join(home, 'storm.img');
    copyFileSync(STORM, floppy);
    ok(['create', '--name', 'stormy', '--os', 'dos', '--engine', 'v86', '--memory', '32', '--disk', '0']);
    ok(['floppy', 'stormy', 'insert', floppy]);
    const started = JSON.parse(ok(['start', 'stormy', '--headless', '--json'])) as { status: { serialLog: string } };
    await waitForLog(started.status.serialLog, /F[0-9A-F]{8}[\s\S]*F[0-9A-F]{8}/, 120_000);
    ok(['stop', 'stormy', '--force']);
    expect(readFileSync(floppy)).toEqual(readFileSync(STORM));
  });
});
