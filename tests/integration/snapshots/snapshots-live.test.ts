// Snapshots on real guests, both engines, through the same services every front end calls: a
// marker the guest keeps in RAM after snapshot A is gone after restoring A and back after
// restoring the later snapshot B; restore while running and while off (the next start resumes
// at the snapshot); disk-only snapshots while off; delete re-parents; qemu-img check finds no
// errors and no leaks after the operations.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createControlServices, type ControlHost } from '../../../src-main/services/control-services';
import type { CreateVmArgs } from '../../../src-shared/contracts/library';
import { ensureBuilt, FIXTURES, imageCheckCounts } from '../qemu/qemu-test-kit';

const ENGINES: { engine: 'qemu' | 'v86'; args: CreateVmArgs; iso: string }[] = [
  {
    engine: 'qemu',
    iso: path.join(FIXTURES, 'maru-test-i386.iso'),
    args: { name: 'snap-qemu', os: 'linux32', engine: 'qemu', cpus: 1, memoryMiB: 256, diskGiB: 1 },
  },
  {
    engine: 'v86',
    iso: path.join(FIXTURES, 'maru-v86-install.iso'),
    args: { name: 'snap-v86', os: 'linux32', engine: 'v86', memoryMiB: 128, diskGiB: 1 },
  },
];

/** Waits for `re` in the serial log after byte `from`; returns the log's length after the match. */
async function waitForSerial(file: string, re: RegExp, from: number, ms = 180_000): Promise<number> {
  const end = Date.now() + ms;
  for (;;) {
    const text = existsSync(file) ? readFileSync(file, 'latin1') : '';
    const m = re.exec(text.slice(from));
    if (m) return from + m.index + m[0].length;
    if (Date.now() > end) throw new Error(`no ${re} in ${file} after byte ${from}:\n${text.slice(from).slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.each(ENGINES)('snapshots on $engine', ({ engine, args, iso }) => {
  let home: string;
  let host: ControlHost;
  let id: string;
  let serialLog: string;
  let disk: string;
  let at = 0;

  const s = () => host.services;
  async function mark(value: string): Promise<void> {
    await s().vm.sendSerial(id, `mark=${value}`);
    at = await waitForSerial(serialLog, new RegExp(`MARU-ECHO:mark=${value}`), at);
  }
  async function markIs(value: string): Promise<void> {
    await s().vm.sendSerial(id, 'mark?');
    at = await waitForSerial(serialLog, /MARU-MARK=(\S*)/, at);
    const text = readFileSync(serialLog, 'latin1').slice(0, at);
    expect(/MARU-MARK=(\S*)\s*$/.exec(text)?.[1]).toBe(value);
  }
  async function started(): Promise<void> {
    const r = await s().vm.start(id);
    serialLog = r.status.serialLog!;
  }

  beforeAll(async () => {
    ensureBuilt();
    home = mkdtempSync(path.join(os.tmpdir(), `maru-snap-${engine}-`));
    host = createControlServices({ maruHome: home, env: { ...process.env, MARU_HOME: home } });
    const created = await s().library.create({ ...args, iso });
    id = created.vm.config.id;
    disk = created.vm.disks[0]!.path;
    await started();
    at = await waitForSerial(serialLog, /MARU-READY/, 0);
  }, 240_000);

  afterAll(async () => {
    await s()
      .vm.stop(id, { force: true })
      .catch(() => undefined);
    host.dispose();
    rmSync(home, { recursive: true, force: true });
  });

  it('live: RAM follows the snapshot restored, running or off', async () => {
    await mark('alpha');
    const a = await s().snapshots.take(id, { name: 'A' });
    expect(a.kind).toBe('live');
    expect(a.hasThumbnail).toBe(true);
    expect((await s().snapshots.thumbnail(id, a.id))?.png.length).toBeGreaterThan(100);
    await mark('beta');
    const b = await s().snapshots.take(id, { name: 'B', description: 'after beta' });
    expect(b.parentId).toBe(a.id);

    // Running: back to A (QEMU in place, v86 by restarting from it).
    const toA = await s().snapshots.restore(id, 'A');
    expect(toA.state).toBe('running');
    expect(toA.tree.currentId).toBe(a.id);
    serialLog = (await s().vm.status(id))!.serialLog!;
    // v86 restarted from A: a new run, a fresh serial log.
    if (engine === 'v86') at = 0;
    await markIs('alpha');

    // The library row: the live screen while it runs, the last screen once it is off.
    expect((await s().vm.thumbnail(id))?.live).toBe(true);
    // Off: restore B, then the next start resumes at B.
    await s().vm.stop(id, { force: true });
    const kept = await s().vm.thumbnail(id);
    expect(kept?.live).toBe(false);
    expect(kept?.pngBase64.length).toBeGreaterThan(100);
    const toB = await s().snapshots.restore(id, b.id);
    expect(toB.state).toBe('saved');
    expect((await s().library.show(id)).state).toBe('saved');
    await started();
    at = 0; // each start begins a fresh serial log (the last one is rotated)
    await markIs('beta');
    // Resuming from a snapshot keeps it: it can be restored again.
    expect((await s().snapshots.list(id)).snapshots.map((x) => x.name)).toEqual(['A', 'B']);
  }, 600_000);

  it('disk-only while off; delete re-parents; images stay clean', async () => {
    await s().vm.stop(id, { force: true });
    const tree0 = await s().snapshots.list(id);
    const c = await s().snapshots.take(id, { name: 'C' });
    expect(c.kind).toBe('disk');
    expect(c.hasThumbnail).toBe(true); // the screen the VM showed when it was stopped
    expect(c.parentId).toBe(tree0.currentId);
    const a = tree0.snapshots.find((x) => x.name === 'A')!;
    const b = tree0.snapshots.find((x) => x.name === 'B')!;
    // Delete A (B's parent): B moves to the root; the current state stays under C.
    const afterDelete = await s().snapshots.delete(id, a.id);
    expect(afterDelete.snapshots.map((x) => x.name)).toEqual(['B', 'C']);
    expect(afterDelete.snapshots.find((x) => x.id === b.id)!.parentId).toBeNull();
    expect(afterDelete.currentId).toBe(c.id);
    // The disk-only snapshot restores while off and the VM stays off.
    const back = await s().snapshots.restore(id, 'C');
    expect(back.state).toBe('off');
    // A full clone has the tree and its own images: restoring there never touches ours.
    const copy = await s().library.clone(id, `${args.name}-copy`);
    expect((await s().snapshots.list(copy.config.id)).snapshots.map((x) => x.name)).toEqual(['B', 'C']);
    const ours = statSync(disk).mtimeMs;
    expect((await s().snapshots.restore(copy.config.id, 'C')).state).toBe('off');
    expect(statSync(disk).mtimeMs).toBe(ours);
    expect(imageCheckCounts(copy.disks[0]!.path)).toEqual({ errors: 0, leaks: 0 });
    await s().library.delete(copy.config.id, { deleteDisks: true });
    const edited = await s().snapshots.edit(id, 'C', { name: 'C2', description: 'renamed' });
    expect(edited.name).toBe('C2');
    // An image changed behind Maru's back: the list says where it disagrees, and restoring refuses.
    expect((await s().snapshots.list(id)).problems).toEqual([]);
    expect(spawnSync('qemu-img', ['snapshot', '-d', `maru-snap-${c.id}`, disk]).status).toBe(0);
    const problems = (await s().snapshots.list(id)).problems;
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/Snapshot "C2" is not in .*disk0\.qcow2/);
    await expect(s().snapshots.restore(id, 'C2')).rejects.toThrow(/is not in .* current disk/);
    await s().snapshots.delete(id, 'B');
    await s().snapshots.delete(id, 'C2');
    expect((await s().snapshots.list(id)).snapshots).toEqual([]);
    expect(imageCheckCounts(disk)).toEqual({ errors: 0, leaks: 0 });
    const tags = spawnSync('qemu-img', ['snapshot', '-l', disk], { encoding: 'utf8' }).stdout;
    expect(tags).not.toMatch(/maru-snap-/);
  }, 300_000);
});
