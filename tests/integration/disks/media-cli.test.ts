// `maru media list | release | remove` — the media manager as a user runs it: the built CLI
// against a temp MARU_HOME with real images (qemu-img), a real ISO and floppy, a disk-only
// snapshot, a linked clone, an imported disk and a deleted VM's kept disk.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MediaInventory, MediumEntry, MediumReleaseResult } from '../../../src-shared/contracts/media';
import { ensureBuilt, REPO } from '../qemu/qemu-test-kit';

const CLI = path.join(REPO, 'dist/cli/maru.js');
const ISO = path.join(REPO, 'tests/fixtures/build/maru-test-i386.iso');
const haveTools = spawnSync('which', ['qemu-img']).status === 0 && existsSync(ISO);
let root: string;
let home: string;

function maru(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    env: { ...process.env, MARU_HOME: home },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function ok(...args: string[]): string {
  const r = maru(...args);
  expect(r.code, `maru ${args.join(' ')}: ${r.err}`).toBe(0);
  return r.out;
}

function list(): MediaInventory {
  return JSON.parse(ok('media', 'list', '--json')) as MediaInventory;
}

function entry(inv: MediaInventory, file: string): MediumEntry {
  const e = inv.media.find((m) => m.path === file);
  expect(e, `${file} in ${inv.media.map((m) => m.path).join(', ')}`).toBeDefined();
  return e!;
}

function sha(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function diskOf(vm: string): string {
  return (JSON.parse(ok('show', vm, '--json')) as { disks: { path: string }[] }).disks[0]!.path;
}

describe.skipIf(!haveTools)('maru media', () => {
  let iso: string;
  let floppy: string;
  let boxDisk: string;
  let imported: string;

  beforeAll(() => {
    ensureBuilt();
    root = mkdtempSync(path.join(os.tmpdir(), 'maru-media-cli-'));
    home = path.join(root, 'home');
    iso = path.join(root, 'install.iso');
    copyFileSync(ISO, iso);
    floppy = path.join(root, 'boot.img');
    const vmOpts = ['--os', 'linux64', '--engine', 'qemu', '--memory', '256', '--disk', '0.0625'];
    ok('create', '--name', 'box', ...vmOpts);
    ok('attach-iso', 'box', iso);
    ok('floppy', 'create', floppy);
    ok('storage', 'box', 'attach', '--type', 'fdd', '--medium', floppy);
    ok('snapshot', 'box', 'take', 'before');
    boxDisk = diskOf('box');
    ok('create', '--name', 'base', ...vmOpts);
    ok('clone', 'base', 'kid', '--linked');
    ok('create', '--name', 'gone', ...vmOpts);
    ok('delete', 'gone');
    const q = path.join(root, 'src.qcow2');
    spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', q, '16M']);
    ok('disk', 'import', q, '--name', 'spare');
    imported = path.join(home, 'disks', 'spare.qcow2');
  });

  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('lists every disk, ISO and floppy with who uses it, snapshots, linked-clone bases and orphans', () => {
    const inv = list();
    const disk = entry(inv, boxDisk);
    expect(disk).toMatchObject({ type: 'hdd', format: 'qcow2', location: 'vm', exists: true, orphan: false });
    expect(disk.virtualSizeBytes).toBe(64 * 2 ** 20);
    expect(disk.usedBy.map((u) => [u.vmName, u.driveId, u.snapshot?.name ?? null])).toEqual([
      ['box', 'disk0', null],
      ['box', 'disk0', 'before'],
    ]);
    expect(entry(inv, iso)).toMatchObject({ type: 'dvd', format: 'iso', location: 'outside', exists: true });
    expect(entry(inv, iso).usedBy.map((u) => u.vmName)).toContain('box');
    expect(entry(inv, floppy)).toMatchObject({ type: 'fdd', virtualSizeBytes: 1_474_560 });
    expect(entry(inv, floppy).usedBy[0]).toMatchObject({ vmName: 'box', driveId: 'fd0', snapshot: null });

    // The linked clone: both VMs' disks are overlays on one frozen base, which both use through them.
    const baseOverlay = entry(inv, diskOf('base'));
    const kidOverlay = entry(inv, diskOf('kid'));
    expect(baseOverlay.backingFile).toBe(kidOverlay.backingFile);
    const frozen = entry(inv, baseOverlay.backingFile!);
    expect(frozen.orphan).toBe(false);
    expect(frozen.usedBy.map((u) => [u.vmName, u.via])).toEqual(
      expect.arrayContaining([
        ['base', baseOverlay.path],
        ['kid', kidOverlay.path],
      ]),
    );

    expect(entry(inv, imported)).toMatchObject({ location: 'imported', orphan: true, usedBy: [] });
    const kept = inv.media.filter((m) => m.location === 'orphaned');
    expect(kept).toHaveLength(1);
    expect(kept[0]).toMatchObject({ type: 'hdd', orphan: true, exists: true });
    expect(kept[0]!.path).toContain(path.join(home, 'orphaned-disks', 'gone-'));

    const text = ok('media', 'list');
    expect(text).toMatch(/^Hard disks:$/m);
    expect(text).toMatch(/^Optical discs:$/m);
    expect(text).toMatch(/^Floppy images:$/m);
    expect(text).toContain('"box" snapshot "before"');
    const orphans = JSON.parse(ok('media', 'list', '--orphans', '--json')) as MediaInventory;
    expect(orphans.media.map((m) => m.path).sort()).toEqual([imported, kept[0]!.path].sort());
  });

  it('says which VM refers to a missing image', () => {
    const moved = `${iso}.away`;
    copyFileSync(iso, moved);
    rmSync(iso);
    try {
      const missing = JSON.parse(ok('media', 'list', '--missing', '--json')) as MediaInventory;
      expect(missing.media.map((m) => m.path)).toEqual([iso]);
      expect(missing.media[0]!.problem).toBe('The file is missing; it is used by "box" and its snapshot "before".');
      expect(ok('media', 'list')).toMatch(/install\.iso +MISSING/);
    } finally {
      copyFileSync(moved, iso);
    }
  });

  it("remove deletes an orphan, and refuses (file untouched) what is used or not Maru's", () => {
    const before = sha(boxDisk);
    const busy = maru('media', 'remove', boxDisk);
    expect(busy.code).toBe(1);
    expect(busy.err).toMatch(/in use by VM "box" \(drive disk0\) and 1 more; release it .* Nothing was deleted\./);
    expect(sha(boxDisk)).toBe(before);

    const frozen = entry(list(), entry(list(), diskOf('kid')).backingFile!).path;
    expect(maru('media', 'remove', frozen).err).toMatch(/in use by VM "(base|kid)" \(the base of its disk disk0\)/);
    expect(existsSync(frozen)).toBe(true);

    expect(maru('media', 'remove', path.join(root, 'nothing.qcow2')).err).toMatch(/is not a medium Maru knows/);

    const kept = list().media.find((m) => m.location === 'orphaned')!;
    expect(ok('media', 'remove', kept.path)).toBe(`Deleted ${kept.path}.\n`);
    expect(existsSync(kept.path)).toBe(false);
    expect(existsSync(path.dirname(kept.path))).toBe(false); // the deleted VM's folder of kept disks
    expect(list().media.some((m) => m.path === kept.path)).toBe(false);
  });

  it("release ejects an ISO and a floppy and detaches a disk; snapshots keep theirs; the user's own files stay", () => {
    const r = JSON.parse(ok('media', 'release', iso, '--json')) as MediumReleaseResult;
    expect(r.released).toEqual([expect.objectContaining({ vmName: 'box', driveId: 'cd0' })]);
    ok('media', 'release', floppy);
    const storage = JSON.parse(ok('storage', 'box', 'list', '--json')) as {
      drives: { type: string; medium: string | null }[];
    };
    expect(storage.drives.filter((d) => d.type !== 'hdd').every((d) => d.medium === null)).toBe(true);
    expect(existsSync(iso) && existsSync(floppy)).toBe(true);

    // The snapshot taken with the ISO in the drive still holds it.
    const held = maru('media', 'remove', iso);
    expect(held.code).toBe(1);
    expect(held.err).toMatch(/in use by snapshot "before" of VM "box"; release it \(and delete the snapshots/);
    expect(existsSync(iso)).toBe(true);
    expect(entry(list(), floppy).usedBy.map((u) => u.snapshot?.name)).toEqual(['before']);

    const text = ok('media', 'release', boxDisk);
    expect(text).toMatch(/^Released .* from "box" \(disk0\)\.$/m);
    expect(text).toMatch(/Snapshots still hold it: "box" \("before"\)/);
    expect((JSON.parse(ok('show', 'box', '--json')) as { disks: unknown[] }).disks).toHaveLength(0);
    const after = entry(list(), boxDisk);
    expect(after.usedBy.map((u) => u.snapshot?.name)).toEqual(['before']);
    expect(maru('media', 'remove', boxDisk).err).toMatch(/in use by snapshot "before" of VM "box"/);
  });
});
