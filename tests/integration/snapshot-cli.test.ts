// `maru snapshot VM take | list | restore | delete | edit` as a user runs it: the built CLI in a
// child process, a temp MARU_HOME, a v86 VM with a small qcow2 disk whose contents (written with
// qemu-io) and settings come back on restore; qemu-img check finds no errors and no leaks after.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SnapshotInfo, SnapshotRestoreResult, SnapshotTree } from '../../src-shared/contracts/snapshots';
import { imageCheckCounts } from './qemu/qemu-test-kit';

const CLI = path.resolve('dist/cli/maru.js');
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

function json<T>(...args: string[]): T {
  return JSON.parse(ok(...args, '--json')) as T;
}

/** Writes `pattern` over the disk's first 64 KiB, as a guest would. */
function writeDisk(disk: string, pattern: number): void {
  const r = spawnSync('qemu-io', ['-c', `write -P ${pattern} 0 64k`, disk], { encoding: 'utf8' });
  expect(r.status, r.stderr + r.stdout).toBe(0);
}

/** Whether the disk's first 64 KiB hold `pattern` (0 = never written). */
function diskHolds(disk: string, pattern: number): boolean {
  return spawnSync('qemu-io', ['-r', '-c', `read -P ${pattern} 0 64k`, disk], { encoding: 'utf8' }).status === 0;
}

interface ShowJson {
  config: { id: string; memoryMiB: number };
  disks: { path: string }[];
  folder: string;
}

beforeAll(() => {
  // The CLI under test is the bundle users run.
  const b = spawnSync(process.execPath, ['scripts/build.mjs', '--node-only', '--quiet'], { encoding: 'utf8' });
  if (b.status !== 0) throw new Error(`build failed: ${b.stderr}`);
  home = mkdtempSync(path.join(os.tmpdir(), 'maru-snapshot-cli-'));
});

afterAll(() => {
  // Leave nothing running: force off whatever a failed test left.
  if (home) {
    maru('stop', 'snapvm', '--force');
    rmSync(home, { recursive: true, force: true });
  }
});

describe('maru snapshot on a powered-off v86 VM', () => {
  let vm: ShowJson;
  let disk: string;
  const ids = { a: '', b: '', a2: '' };

  it('takes disk-only snapshots A then B and lists them as a tree with B current', () => {
    ok('create', '--name', 'snapvm', '--os', 'dos', '--engine', 'v86', '--memory', '32', '--disk', '0.1');
    vm = json<ShowJson>('show', 'snapvm');
    disk = vm.disks[0]!.path;

    expect(ok('snapshot', 'snapvm', 'list')).toMatch(/has no snapshots.*maru snapshot "snapvm" take/);
    expect(json<SnapshotTree>('snapshot', 'snapvm', 'list')).toMatchObject({ snapshots: [], currentId: null });

    // A: the empty disk, 32 MiB; the text names it, its id and kind; progress goes to stderr
    const takeA = maru('snapshot', 'snapvm', 'take', 'A');
    expect(takeA.code, takeA.err).toBe(0);
    const m = /^Took disk-only snapshot "A" \(([0-9a-f-]{36})\) of VM "snapvm"\./.exec(takeA.out);
    expect(m, takeA.out).not.toBeNull();
    ids.a = m![1]!;
    expect(takeA.err).toMatch(/^save: \d+%$/m);

    // B: after the guest wrote the disk and the settings changed
    writeDisk(disk, 0xaa);
    ok('modify', 'snapvm', '--memory', '64');
    const b = json<SnapshotInfo>('snapshot', 'snapvm', 'take', 'B', '--description', 'after the first write');
    expect(b).toMatchObject({
      name: 'B',
      kind: 'disk',
      parentId: ids.a,
      description: 'after the first write',
      stateBytes: 0,
    });
    ids.b = b.id;

    const tree = json<SnapshotTree>('snapshot', 'snapvm', 'list');
    expect(tree.damaged).toBeNull();
    expect(tree.currentId).toBe(ids.b);
    expect(tree.snapshots.map((s) => [s.name, s.kind, s.parentId])).toEqual([
      ['A', 'disk', null],
      ['B', 'disk', ids.a],
    ]);

    // the text tree: B indented under A, the current state marked after B, short ids
    const lines = ok('snapshot', 'snapvm', 'list').trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+KIND\s+CREATED\s+NAME$/);
    expect(lines[1]).toMatch(
      new RegExp(`^${ids.a.slice(0, 8)}\\s+disk\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d  A$`),
    );
    expect(lines[2]).toMatch(
      new RegExp(`^${ids.b.slice(0, 8)}\\s+disk\\s+\\S+ \\S+    B  — after the first write  \\* \\(current state\\)$`),
    );
  });

  it('takes a second "A" but refuses to restore the ambiguous name, listing both ids', () => {
    writeDisk(disk, 0xbb);
    const a2 = json<SnapshotInfo>('snapshot', 'snapvm', 'take', 'A');
    expect(a2).toMatchObject({ name: 'A', parentId: ids.b, kind: 'disk' });
    ids.a2 = a2.id;

    const r = maru('snapshot', 'snapvm', 'restore', 'A');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/2 snapshots named "A"/);
    expect(r.err).toContain(ids.a);
    expect(r.err).toContain(ids.a2);
    // nothing moved
    expect(json<SnapshotTree>('snapshot', 'snapvm', 'list').currentId).toBe(ids.a2);
    expect(diskHolds(disk, 0xbb)).toBe(true);
  });

  it('restores by id: the disk contents and settings come back and the current state moves', () => {
    const out = ok('snapshot', 'snapvm', 'restore', ids.a);
    expect(out).toMatch(/back at snapshot "A".*off/);
    expect(out).toMatch(/^State: off$/m);
    expect(json<SnapshotTree>('snapshot', 'snapvm', 'list').currentId).toBe(ids.a);
    expect(diskHolds(disk, 0)).toBe(true);
    expect(json<ShowJson>('show', 'snapvm').config.memoryMiB).toBe(32);
    expect(ok('snapshot', 'snapvm', 'list')).toMatch(/ {2}A {2}\* \(current state\)\n/);

    const r = json<SnapshotRestoreResult>('snapshot', 'snapvm', 'restore', ids.b);
    expect(r.state).toBe('off');
    expect(r.tree.currentId).toBe(ids.b);
    expect(diskHolds(disk, 0xaa)).toBe(true);
    expect(json<ShowJson>('show', 'snapvm').config.memoryMiB).toBe(64);
  });

  it("clones at snapshot A: the copy holds A's disk and settings, the source stays at B", () => {
    expect(ok('clone', 'snapvm', 'at-a', '--snapshot', ids.a)).toMatch(/^Cloned to "at-a" \(.+\) at snapshot /m);
    const clone = json<ShowJson>('show', 'at-a');
    expect(clone.config.memoryMiB).toBe(32);
    expect(diskHolds(clone.disks[0]!.path, 0)).toBe(true);
    expect(json<SnapshotTree>('snapshot', 'at-a', 'list').currentId).toBe(ids.a);
    expect(imageCheckCounts(clone.disks[0]!.path)).toEqual({ errors: 0, leaks: 0 });
    // The source did not move.
    expect(diskHolds(disk, 0xaa)).toBe(true);
    expect(json<ShowJson>('show', 'snapvm').config.memoryMiB).toBe(64);
    expect(json<SnapshotTree>('snapshot', 'snapvm', 'list').currentId).toBe(ids.b);
    // A linked clone of an older snapshot is refused with what to do instead; nothing is made.
    const linked = maru('clone', 'snapvm', 'linked-a', '--linked', '--snapshot', ids.a);
    expect(linked.code).toBe(1);
    expect(linked.err).toMatch(/linked clone is made of the VM's current state.*leave out --linked/);
    expect(maru('show', 'linked-a').code).toBe(1);
    ok('delete', 'at-a', '--delete-disks');
  });

  it('edits a name and a description; refuses an edit with nothing to change', () => {
    const edited = json<SnapshotInfo>('snapshot', 'snapvm', 'edit', 'B', '--name', 'Bee', '--description', 'renamed');
    expect(edited).toMatchObject({ id: ids.b, name: 'Bee', description: 'renamed' });
    expect(ok('snapshot', 'snapvm', 'edit', ids.b, '--description', 'renamed again')).toMatch(
      /name "Bee", description "renamed again"/,
    );
    const tree = json<SnapshotTree>('snapshot', 'snapvm', 'list');
    expect(tree.snapshots.find((s) => s.id === ids.b)).toMatchObject({ name: 'Bee', description: 'renamed again' });
    expect(ok('snapshot', 'snapvm', 'list')).toMatch(/ {2}Bee {2}— renamed again {2}\* \(current state\)/);

    const none = maru('snapshot', 'snapvm', 'edit', 'Bee');
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/nothing to change/);
  });

  it('deletes the middle snapshot: its child moves under its parent, the current state under A', () => {
    const out = ok('snapshot', 'snapvm', 'delete', 'Bee');
    expect(out).toContain(`Deleted snapshot "Bee" (${ids.b}) of VM "snapvm".`);
    expect(out).toMatch(/Its child moved under "A"\./);
    const tree = json<SnapshotTree>('snapshot', 'snapvm', 'list');
    expect(tree.snapshots.map((s) => [s.id, s.parentId])).toEqual([
      [ids.a, null],
      [ids.a2, ids.a],
    ]);
    expect(tree.currentId).toBe(ids.a);
    // the disk stays as it was (B's contents), only B's snapshot is gone from the image
    expect(diskHolds(disk, 0xaa)).toBe(true);
    const tags = spawnSync('qemu-img', ['snapshot', '-l', disk], { encoding: 'utf8' }).stdout;
    expect(tags).toContain(ids.a);
    expect(tags).toContain(ids.a2);
    expect(tags).not.toContain(ids.b);
  });

  it('repairs images that disagree with the list: a stray tag goes, a snapshot missing from its disk leaves the list', () => {
    expect(ok('snapshot', 'snapvm', 'repair')).toMatch(/agree: nothing to repair/);
    const img = (...a: string[]) => expect(spawnSync('qemu-img', a, { encoding: 'utf8' }).status).toBe(0);
    img('snapshot', '-c', 'maru-snap-stray', disk);
    img('snapshot', '-d', `maru-snap-${ids.a2}`, disk);
    const listed = maru('snapshot', 'snapvm', 'list');
    expect(listed.err).toMatch(/holds a snapshot \(maru-snap-stray\) the list does not know/);
    expect(listed.err).toMatch(/Snapshot "A" is not in .*cannot be restored/);

    const r = maru('snapshot', 'snapvm', 'repair');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^Removed snapshot "A" from the list: it was not in .*, so it could not be restored\.$/m);
    expect(r.out).toMatch(/^Deleted maru-snap-stray from .*: the list did not know it\.$/m);
    const tree = json<SnapshotTree>('snapshot', 'snapvm', 'list');
    expect(tree.problems).toEqual([]);
    expect(tree.snapshots.map((x) => x.id)).toEqual([ids.a]);
    expect(tree.currentId).toBe(ids.a);
    const tags = spawnSync('qemu-img', ['snapshot', '-l', disk], { encoding: 'utf8' }).stdout;
    expect(tags).not.toContain('maru-snap-stray');
    expect(tags).toContain(ids.a);
    expect(imageCheckCounts(disk)).toEqual({ errors: 0, leaks: 0 });
  });

  it('answers an unknown snapshot or VM with a clear error and changes nothing', () => {
    const before = readFileSync(path.join(vm.folder, 'snapshots.json'), 'utf8');
    for (const verb of [['restore'], ['delete'], ['edit', '--name', 'X']]) {
      const [v, ...opts] = verb;
      const r = maru('snapshot', 'snapvm', v!, 'nope', ...opts);
      expect(r.code, v).toBe(1);
      expect(r.err, v).toMatch(/^maru snapshot: VM "snapvm" has no snapshot "nope"\.$/m);
    }
    const noVm = maru('snapshot', 'no-such-vm', 'list');
    expect(noVm.code).toBe(1);
    expect(noVm.err).toMatch(/no-such-vm/);
    expect(readFileSync(path.join(vm.folder, 'snapshots.json'), 'utf8')).toBe(before);
  });

  it('leaves a clean qcow2: no errors, no leaks', () => {
    expect(imageCheckCounts(disk)).toEqual({ errors: 0, leaks: 0 });
  });

  it('takes a live snapshot of the running VM', () => {
    ok('start', 'snapvm', '--headless');
    try {
      const live = json<SnapshotInfo>('snapshot', 'snapvm', 'take', 'running');
      expect(live).toMatchObject({ name: 'running', kind: 'live', parentId: ids.a });
      const tree = json<SnapshotTree>('snapshot', 'snapvm', 'list');
      expect(tree.currentId).toBe(live.id);
      expect(tree.snapshots.at(-1)).toMatchObject({ id: live.id, kind: 'live' });
      expect(ok('snapshot', 'snapvm', 'list')).toMatch(/\s+live\s+.*running {2}\* \(current state\)/);
    } finally {
      ok('stop', 'snapvm', '--force');
    }
    expect(imageCheckCounts(disk)).toEqual({ errors: 0, leaks: 0 });
  }, 180_000);
});

describe('maru snapshot refusals', () => {
  it('says what is wrong with the command line (exit 2)', () => {
    ok('create', '--name', 'other', '--os', 'dos', '--engine', 'v86', '--memory', '32', '--disk', '0.05');
    const cases: [string[], RegExp][] = [
      [[], /missing VM/],
      [['list'], /the VM comes first/],
      [['other'], /missing the verb/],
      [['other', 'frob'], /"frob" is not a snapshot verb/],
      [['take', 'other'], /"other" is not a snapshot verb.*The VM comes first/],
      [['other', 'restore'], /restore: missing SNAPSHOT/],
      [['other', 'take', 'two', 'words'], /unexpected argument "words".*quotes/],
      [['other', 'take', '--name', 'X'], /give the name as NAME/],
      [['other', 'list', '--description', 'x'], /list takes no --description/],
      [['other', 'take', '   '], /cannot be empty/],
      [['other', 'take', 'x'.repeat(129)], /at most 128 characters/],
    ];
    for (const [args, why] of cases) {
      const r = maru('snapshot', ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toMatch(why);
      expect(r.err, args.join(' ')).toContain('Usage: maru snapshot VM take');
    }
    expect(json<SnapshotTree>('snapshot', 'other', 'list').snapshots).toEqual([]);
  });

  it('shows a damaged snapshot list as an error (exit 1) and leaves the file as it is', () => {
    const folder = json<ShowJson>('show', 'other').folder;
    ok('snapshot', 'other', 'take', 'kept');
    const file = path.join(folder, 'snapshots.json');
    const damaged = JSON.stringify({ version: 99, snapshots: 'lost' });
    writeFileSync(file, damaged);

    const text = maru('snapshot', 'other', 'list');
    expect(text.code).toBe(1);
    expect(text.err).toMatch(/^maru snapshot: The snapshot list of VM "other" .*cannot be read/m);
    expect(text.err).toContain(file);
    const asJson = maru('snapshot', 'other', 'list', '--json');
    expect(asJson.code).toBe(1);
    expect((JSON.parse(asJson.out) as SnapshotTree).damaged).toMatch(/cannot be read/);
    // an operation on it is refused and writes nothing
    const take = maru('snapshot', 'other', 'take', 'more');
    expect(take.code).toBe(1);
    expect(take.err).toMatch(/cannot be read/);
    expect(readFileSync(file, 'utf8')).toBe(damaged);

    // Not JSON at all (cut off by hand): the same — never read as an empty list and overwritten.
    const cut = damaged.slice(0, 10);
    writeFileSync(file, cut);
    const listed = maru('snapshot', 'other', 'list', '--json');
    expect(listed.code).toBe(1);
    expect((JSON.parse(listed.out) as SnapshotTree).damaged).toMatch(/not valid JSON/);
    expect(maru('snapshot', 'other', 'take', 'more').code).toBe(1);
    expect(readFileSync(file, 'utf8')).toBe(cut);
  });

  it('a take that fails leaves nothing behind (no "cut short" note later)', () => {
    ok('create', '--name', 'diskless', '--os', 'dos', '--engine', 'v86', '--disk', '0');
    const r = maru('snapshot', 'diskless', 'take');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/has no disk/);
    const tree = JSON.parse(ok('snapshot', 'diskless', 'list', '--json')) as SnapshotTree;
    expect(tree.recovered).toBeNull();
    expect(tree.snapshots).toEqual([]);
  });
});
