// Internal qcow2 snapshots against the real qemu-img: ours must be listed and applied by
// qemu-img, QEMU's must be listed and applied by us, and `qemu-img check` stays clean
// (refcounts exact, COPIED flags right) through create / write / revert / delete.
import { copyFile, stat } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Qcow2Image } from '../../../src-emulator/disk/qcow2-image';
import {
  expectAppError,
  expectCleanCheck,
  expectSameBytes,
  KiB,
  makeTempDir,
  MiB,
  pattern,
  qemuImg,
  qemuIo,
  qemuSnapshots,
  qemuToRaw,
  removeTempDir,
} from './qemu-tools';

let dir: string;
beforeEach(async () => {
  dir = await makeTempDir();
});
afterEach(async () => {
  await removeTempDir(dir);
});

function file(name: string): string {
  return path.join(dir, name);
}

const SIZE = 8 * MiB;

async function freshImage(name: string, clusterSize = 65536): Promise<string> {
  const p = file(name);
  qemuImg('create', '-f', 'qcow2', '-o', `cluster_size=${clusterSize}`, p, String(SIZE));
  return p;
}

describe('qcow2 snapshots', () => {
  it('creates snapshots that qemu-img lists and applies; writes after them copy on write', async () => {
    const p = await freshImage('s.qcow2');
    const img = await Qcow2Image.open(p);
    const v0 = Buffer.alloc(SIZE);
    await img.write(0, pattern(300 * KiB, 1));
    pattern(300 * KiB, 1).copy(v0, 0);
    await img.write(5 * MiB + 3, pattern(1000, 2));
    pattern(1000, 2).copy(v0, 5 * MiB + 3);
    const date = new Date('2025-03-04T05:06:07.891Z');
    const snap = await img.createSnapshot({ name: 'before update', vmClockNs: 1_500_000_000, date });
    expect(snap).toEqual({
      id: '1',
      name: 'before update',
      vmStateSize: 0,
      date,
      vmClockNs: 1_500_000_000,
      diskSize: SIZE,
    });
    // Writes after the snapshot: in shared clusters, partial and whole, and in new ones.
    const v1 = Buffer.from(v0);
    for (const [off, len, seed] of [
      [100, 50, 3],
      [64 * KiB, 64 * KiB, 4],
      [5 * MiB, 10, 5],
      [7 * MiB, 200 * KiB, 6],
    ] as const) {
      const d = pattern(len, seed);
      await img.write(off, d);
      d.copy(v1, off);
    }
    expectSameBytes(await img.read(0, SIZE), v1, 'active after writes');
    await img.close();
    expectCleanCheck(p);

    const listed = qemuSnapshots(p);
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({
      id: '1',
      name: 'before update',
      'vm-state-size': 0,
      'date-sec': Math.floor(date.getTime() / 1000),
      'date-nsec': 891_000_000,
      'vm-clock-sec': 1,
      'vm-clock-nsec': 500_000_000,
    });
    expect(qemuImg('snapshot', '-l', p)).toContain('before update');
    expectSameBytes(await qemuToRaw(p, dir), v1, 'qemu view of active state');

    // qemu-img applies our snapshot and sees the old contents.
    const copy = file('copy.qcow2');
    await copyFile(p, copy);
    qemuImg('snapshot', '-a', 'before update', copy);
    expectCleanCheck(copy);
    expectSameBytes(await qemuToRaw(copy, dir), v0, 'qemu-img snapshot -a');

    // And so do we.
    const again = await Qcow2Image.open(p);
    const applied = await again.applySnapshot('before update');
    expect(applied.id).toBe('1');
    expectSameBytes(await again.read(0, SIZE), v0, 'our revert');
    // Writing after a revert copies on write again (the snapshot still holds the clusters).
    await again.write(10, pattern(10, 7));
    pattern(10, 7).copy(v0, 10);
    await again.close();
    expectCleanCheck(p);
    expectSameBytes(await qemuToRaw(p, dir), v0);
    const copy2 = file('copy2.qcow2');
    await copyFile(p, copy2);
    qemuImg('snapshot', '-a', '1', copy2);
    expectSameBytes(
      (await qemuToRaw(copy2, dir)).subarray(0, 20),
      Buffer.concat([pattern(300 * KiB, 1).subarray(0, 20)]),
    );
  });

  it('deletes snapshots, freeing the clusters only they used', async () => {
    const p = await freshImage('d.qcow2');
    const img = await Qcow2Image.open(p);
    await img.write(0, pattern(2 * MiB, 1));
    await img.createSnapshot({ name: 'a' });
    await img.write(0, pattern(2 * MiB, 2)); // all clusters copied: the snapshot alone holds the old ones
    const active = Buffer.from(await img.read(0, SIZE));
    const sizeBefore = (await stat(p)).size;
    await img.deleteSnapshot('a');
    expect(await img.listSnapshots()).toEqual([]);
    await img.close();
    expectCleanCheck(p);
    expect(qemuSnapshots(p)).toEqual([]);
    expectSameBytes(await qemuToRaw(p, dir), active);
    // Freed clusters are reused: writing 2 MiB of new data does not grow the file.
    const again = await Qcow2Image.open(p);
    await again.write(4 * MiB, pattern(2 * MiB, 3));
    await again.close();
    expect((await stat(p)).size).toBeLessThanOrEqual(sizeBefore);
    expectCleanCheck(p);
  });

  it('reads, applies and deletes snapshots made by qemu-img', async () => {
    const p = await freshImage('q.qcow2');
    qemuIo(p, 'write -P 0x11 0 1M');
    qemuImg('snapshot', '-c', 'one', p);
    qemuIo(p, 'write -P 0x22 512k 1M');
    qemuImg('snapshot', '-c', 'two', p);
    qemuIo(p, 'write -P 0x33 0 64k', 'write -z 1M 64k');
    const copyOne = file('one.qcow2');
    await copyFile(p, copyOne);
    qemuImg('snapshot', '-a', 'one', copyOne);
    const one = await qemuToRaw(copyOne, dir);
    const copyTwo = file('two.qcow2');
    await copyFile(p, copyTwo);
    qemuImg('snapshot', '-a', 'two', copyTwo);
    const two = await qemuToRaw(copyTwo, dir);

    const img = await Qcow2Image.open(p);
    const list = await img.listSnapshots();
    expect(list.map((s) => [s.id, s.name, s.vmStateSize, s.diskSize])).toEqual([
      ['1', 'one', 0, SIZE],
      ['2', 'two', 0, SIZE],
    ]);
    const qemuList = qemuSnapshots(p);
    expect(list.map((s) => Math.floor(s.date.getTime() / 1000))).toEqual(qemuList.map((s) => s['date-sec']));
    await img.applySnapshot('one');
    expectSameBytes(await img.read(0, SIZE), one, 'apply one');
    await img.applySnapshot('2');
    expectSameBytes(await img.read(0, SIZE), two, 'apply two');
    await img.write(100 * KiB, pattern(100 * KiB, 1));
    pattern(100 * KiB, 1).copy(two, 100 * KiB);
    await img.deleteSnapshot('one');
    await img.close();
    expectCleanCheck(p);
    expect(qemuSnapshots(p).map((s) => s.name)).toEqual(['two']);
    expectSameBytes(await qemuToRaw(p, dir), two);
    // Our next snapshot id follows QEMU's numbering.
    const img2 = await Qcow2Image.open(p);
    expect((await img2.createSnapshot({ name: 'three' })).id).toBe('3');
    await img2.deleteSnapshot('two');
    await img2.close();
    expectCleanCheck(p);
    expect(qemuSnapshots(p).map((s) => [s.id, s.name])).toEqual([['3', 'three']]);
  });

  it('snapshots images with compressed clusters and backing files', async () => {
    const base = await freshImage('base.qcow2');
    qemuIo(base, 'write -P 0x44 0 8M');
    const raw = file('c.raw');
    qemuImg('create', '-f', 'raw', raw, String(SIZE));
    qemuImg('convert', '-f', 'qcow2', '-O', 'raw', base, raw);
    const comp = file('c.qcow2');
    qemuImg('convert', '-c', '-O', 'qcow2', raw, comp);
    const overlay = file('o.qcow2');
    qemuImg('create', '-f', 'qcow2', '-b', 'c.qcow2', '-F', 'qcow2', overlay, String(SIZE));
    for (const p of [comp, overlay]) {
      const img = await Qcow2Image.open(p);
      const before = Buffer.from(await img.read(0, SIZE));
      await img.createSnapshot({ name: 'x' });
      await img.write(1000, pattern(70 * KiB, 1));
      await img.close();
      expectCleanCheck(p);
      const again = await Qcow2Image.open(p);
      await again.applySnapshot('x');
      expectSameBytes(await again.read(0, SIZE), before, `revert ${path.basename(p)}`);
      await again.deleteSnapshot('x');
      await again.close();
      expectCleanCheck(p);
      expectSameBytes(await qemuToRaw(p, dir), before);
    }
  });

  it('refuses duplicate names, unknown snapshots, read-only changes and 1-bit refcounts', async () => {
    const p = await freshImage('e.qcow2');
    const img = await Qcow2Image.open(p);
    await img.createSnapshot({ name: 'a' });
    await expectAppError(img.createSnapshot({ name: 'a' }), 'ALREADY_EXISTS', /already has a snapshot named "a"/);
    await expectAppError(img.createSnapshot({ name: '' }), 'INVALID_ARGUMENT');
    await expectAppError(img.applySnapshot('nope'), 'NOT_FOUND', /no snapshot with id or name "nope"/);
    await expectAppError(img.deleteSnapshot('nope'), 'NOT_FOUND');
    // Refused requests did not poison the image.
    await img.write(0, Buffer.alloc(512, 1));
    await img.close();
    expectCleanCheck(p);
    const ro = await Qcow2Image.open(p, { readOnly: true });
    expect((await ro.listSnapshots()).map((s) => s.name)).toEqual(['a']);
    await expectAppError(ro.createSnapshot({ name: 'b' }), 'INVALID_ARGUMENT', /read-only/);
    await ro.close();

    const one = file('one-bit.qcow2');
    qemuImg('create', '-f', 'qcow2', '-o', 'refcount_bits=1', one, '1M');
    const img1 = await Qcow2Image.open(one);
    await expectAppError(img1.createSnapshot({ name: 's' }), 'UNSUPPORTED', /1-bit refcounts/);
    await img1.close();
  });

  it('property: random snapshot / write / revert / delete sequences stay consistent', async () => {
    type Op =
      | { op: 'write'; offset: number; length: number; seed: number }
      | { op: 'snap' }
      | { op: 'apply'; pick: number }
      | { op: 'delete'; pick: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      {
        weight: 4,
        arbitrary: fc.record({
          op: fc.constant('write' as const),
          offset: fc.nat(SIZE - 1),
          length: fc.integer({ min: 1, max: 150 * KiB }),
          seed: fc.nat(),
        }),
      },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('snap' as const) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('apply' as const), pick: fc.nat() }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), pick: fc.nat() }) },
    );
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(512, 4096, 65536),
        fc.array(op, { minLength: 1, maxLength: 14 }),
        async (cs, ops) => {
          const p = await freshImage(`prop-${run++}.qcow2`, cs);
          const img = await Qcow2Image.open(p);
          let model = Buffer.alloc(SIZE);
          const saved = new Map<string, Buffer>();
          let n = 0;
          try {
            for (const o of ops) {
              if (o.op === 'write') {
                const len = Math.min(o.length, SIZE - o.offset);
                const d = pattern(len, o.seed);
                await img.write(o.offset, d);
                d.copy(model, o.offset);
              } else if (o.op === 'snap') {
                const name = `s${n++}`;
                await img.createSnapshot({ name });
                saved.set(name, Buffer.from(model));
              } else if (saved.size > 0) {
                const name = [...saved.keys()][o.pick % saved.size]!;
                if (o.op === 'apply') {
                  await img.applySnapshot(name);
                  model = Buffer.from(saved.get(name)!);
                } else {
                  await img.deleteSnapshot(name);
                  saved.delete(name);
                }
              }
            }
            expectSameBytes(await img.read(0, SIZE), model, 'active state');
          } finally {
            await img.close();
          }
          expectCleanCheck(p);
          expect(qemuSnapshots(p).map((s) => s.name)).toEqual([...saved.keys()]);
          expectSameBytes(await qemuToRaw(p, dir), model, 'qemu view');
          // Spot-check one snapshot through qemu-img.
          const [name, content] = [...saved.entries()][0] ?? [];
          if (name && content) {
            qemuImg('snapshot', '-a', name, p);
            expectSameBytes(await qemuToRaw(p, dir), content, `qemu-img snapshot -a ${name}`);
          }
        },
      ),
      { numRuns: 30 },
    );
  }, 120_000);
});
