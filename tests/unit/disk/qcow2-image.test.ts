// Qcow2Image against the real qemu-img / qemu-io: what we write must check clean and convert to
// the same bytes as an in-memory model; what QEMU writes (backing files, compressed and zero
// clusters, v2 images, other refcount widths) must read the same through our code.
import { copyFile, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createQcow2 } from '../../../src-emulator/disk/qcow2-create';
import { Qcow2Image } from '../../../src-emulator/disk/qcow2-image';
import {
  expectAppError,
  expectCleanCheck,
  expectSameBytes,
  fingerprint,
  GiB,
  KiB,
  makeTempDir,
  MiB,
  pattern,
  prng,
  qemuImg,
  qemuIo,
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

/** Applies writes to both the image and a Buffer model. */
async function writeBoth(img: Qcow2Image, model: Buffer, offset: number, data: Buffer): Promise<void> {
  await img.write(offset, data);
  data.copy(model, offset);
}

describe('Qcow2Image writes', () => {
  it('random unaligned writes across clusters and L2 tables check clean and convert to the model', async () => {
    const img0 = file('a.qcow2');
    // 4 KiB clusters: one L2 table maps 2 MiB, so 64 MiB spans 32 L2 tables.
    qemuImg('create', '-f', 'qcow2', '-o', 'cluster_size=4096', img0, '64M');
    const model = Buffer.alloc(64 * MiB);
    const img = await Qcow2Image.open(img0);
    expect(img.virtualSize).toBe(64 * MiB);
    expect(img.clusterSize).toBe(4096);
    const rnd = prng(1);
    const cases: [number, number][] = [
      [0, 512],
      [4095, 2], // across a cluster boundary
      [2 * MiB - 100, 300], // across an L2 boundary
      [6 * MiB - 3, 3 * MiB + 7], // many clusters and two L2 boundaries
      [64 * MiB - 1000, 1000], // the very end
      [100, 10], // rewrite inside an allocated cluster (in place)
    ];
    for (let i = 0; i < 60; i++) {
      const len = 1 + Math.floor(rnd() * 20000);
      cases.push([Math.floor(rnd() * (64 * MiB - len)), len]);
    }
    let seed = 10;
    for (const [off, len] of cases) await writeBoth(img, model, off, pattern(len, seed++));
    // Read back through our code before closing.
    for (const [off, len] of cases)
      expectSameBytes(await img.read(off, len), model.subarray(off, off + len), `read ${off}`);
    await img.close();
    expectCleanCheck(img0);
    expectSameBytes(await qemuToRaw(img0, dir), model, 'qemu-img convert');
  });

  it('writes through createQcow2 images (64 KiB clusters) and persists across reopen', async () => {
    const p = file('b.qcow2');
    await createQcow2(p, 64 * MiB);
    const model = Buffer.alloc(64 * MiB);
    let img = await Qcow2Image.open(p);
    await writeBoth(img, model, 65536 - 7, pattern(70000, 1));
    await writeBoth(img, model, 10 * MiB, pattern(MiB, 2));
    await img.flush();
    await img.close();
    expectCleanCheck(p);
    img = await Qcow2Image.open(p);
    await writeBoth(img, model, 10 * MiB + 4096, pattern(4096, 3)); // in place
    await writeBoth(img, model, 20 * MiB + 1, pattern(1, 4));
    expectSameBytes(await img.read(0, 64 * MiB), model);
    await img.close();
    expectCleanCheck(p);
    expectSameBytes(await qemuToRaw(p, dir), model);
  });

  it('writes at the end of a multi-GiB disk', async () => {
    const p = file('big.qcow2');
    const size = 20 * GiB + 512;
    qemuImg('create', '-f', 'qcow2', p, String(size));
    const img = await Qcow2Image.open(p);
    const writes: [number, Buffer][] = [
      [size - 512, pattern(512, 1)],
      [size - 4 * MiB - 5, pattern(3 * MiB, 2)],
      [4 * GiB - 10, pattern(20, 3)], // across the 32-bit boundary
      [8 * GiB + 12345, pattern(70000, 4)],
    ];
    for (const [off, d] of writes) await img.write(off, d);
    for (const [off, d] of writes) expectSameBytes(await img.read(off, d.length), d, `read ${off}`);
    expectSameBytes(await img.read(GiB, 4096), Buffer.alloc(4096));
    await img.close();
    expectCleanCheck(p);
    // Compare through qemu-io's own reads of a few ranges: convert to a sparse raw file and look.
    const raw = file('big.raw');
    qemuImg('convert', '-O', 'raw', p, raw);
    const { open } = await import('node:fs/promises');
    const fh = await open(raw, 'r');
    try {
      for (const [off, d] of writes) {
        const buf = Buffer.alloc(d.length);
        await fh.read(buf, 0, d.length, off);
        expectSameBytes(buf, d, `qemu view at ${off}`);
      }
      const zeros = Buffer.alloc(65536);
      await fh.read(zeros, 0, 65536, 12 * GiB);
      expectSameBytes(zeros, Buffer.alloc(65536), 'zeros');
    } finally {
      await fh.close();
    }
    // Sparse: a few MiB written, the file stays small.
    expect((await stat(p)).size).toBeLessThan(16 * MiB);
  });

  it('grows the refcount table and allocates refcount blocks (512-byte clusters)', async () => {
    const p = file('small-clusters.qcow2');
    // 512-byte clusters, 16-bit refcounts: a block covers 256 clusters (128 KiB), one table
    // cluster 64 blocks (8 MiB of file); writing 12 MiB forces the table to move.
    qemuImg('create', '-f', 'qcow2', '-o', 'cluster_size=512', p, '16M');
    const model = Buffer.alloc(16 * MiB);
    const tableOffset = async (): Promise<bigint> => (await readFile(p)).readBigUInt64BE(48);
    const before = await tableOffset();
    const img = await Qcow2Image.open(p);
    for (let off = 0; off < 12 * MiB; off += 256 * KiB)
      await writeBoth(img, model, off + 17, pattern(256 * KiB - 17, off));
    await img.close();
    expect(await tableOffset()).not.toBe(before);
    expectCleanCheck(p);
    expectSameBytes(await qemuToRaw(p, dir), model);
  });

  it.each([
    ['1-bit', 1],
    ['8-bit', 8],
    ['64-bit', 64],
  ])('handles %s refcounts', async (_label, bits) => {
    const p = file('rc.qcow2');
    qemuImg('create', '-f', 'qcow2', '-o', `refcount_bits=${bits},cluster_size=4096`, p, '8M');
    const model = Buffer.alloc(8 * MiB);
    const img = await Qcow2Image.open(p);
    const rnd = prng(bits);
    for (let i = 0; i < 40; i++) {
      const len = 1 + Math.floor(rnd() * 30000);
      await writeBoth(img, model, Math.floor(rnd() * (8 * MiB - len)), pattern(len, i));
    }
    await img.close();
    expectCleanCheck(p);
    expectSameBytes(await qemuToRaw(p, dir), model);
  });

  it('reads and writes version 2 (compat=0.10) images', async () => {
    const p = file('v2.qcow2');
    qemuImg('create', '-f', 'qcow2', '-o', 'compat=0.10', p, '16M');
    qemuIo(p, 'write -P 0x11 0 100k');
    const model = await qemuToRaw(p, dir);
    const img = await Qcow2Image.open(p);
    expect(img.version).toBe(2);
    expectSameBytes(await img.read(0, 16 * MiB), model);
    await writeBoth(img, model, 50 * KiB, pattern(200 * KiB, 9));
    await img.close();
    expectCleanCheck(p);
    expectSameBytes(await qemuToRaw(p, dir), model);
  });

  it.each(['metadata', 'falloc'])('writes into images preallocated with preallocation=%s', async (mode) => {
    const p = file('pre.qcow2');
    qemuImg('create', '-f', 'qcow2', '-o', `preallocation=${mode},cluster_size=4096`, p, '4M');
    const model = Buffer.alloc(4 * MiB);
    const img = await Qcow2Image.open(p);
    expectSameBytes(await img.read(0, 4 * MiB), model, 'preallocated zeros');
    const sizeBefore = (await stat(p)).size;
    await writeBoth(img, model, 1000, pattern(10000, 1));
    await writeBoth(img, model, 3 * MiB + 7, pattern(300 * KiB, 2));
    await img.close();
    // Preallocated clusters are written in place: the file does not grow.
    expect((await stat(p)).size).toBe(sizeBefore);
    expectCleanCheck(p);
    expectSameBytes(await qemuToRaw(p, dir), model);
  });

  it('serializes overlapping concurrent writes in issue order; reads see earlier writes', async () => {
    const p = file('conc.qcow2');
    qemuImg('create', '-f', 'qcow2', '-o', 'cluster_size=4096', p, '4M');
    const img = await Qcow2Image.open(p);
    const model = Buffer.alloc(4 * MiB);
    const rnd = prng(7);
    const ops: Promise<unknown>[] = [];
    const checks: Promise<void>[] = [];
    for (let i = 0; i < 200; i++) {
      const len = 1 + Math.floor(rnd() * 9000);
      const off = Math.floor(rnd() * (64 * KiB));
      const d = pattern(len, 1000 + i);
      ops.push(img.write(off, d));
      d.copy(model, off);
      if (i % 10 === 0) {
        const expected = Buffer.from(model.subarray(0, 80 * KiB));
        checks.push(img.read(0, 80 * KiB).then((got) => expectSameBytes(got, expected, `read after write ${i}`)));
      }
    }
    await Promise.all([...ops, ...checks]);
    await img.close();
    expectCleanCheck(p);
    expectSameBytes(await qemuToRaw(p, dir), model);
  });

  it('keeps memory bounded with a tiny L2 cache (evictions stay correct)', async () => {
    const p = file('cache.qcow2');
    qemuImg('create', '-f', 'qcow2', '-o', 'cluster_size=4096', p, '64M'); // 32 L2 tables
    const img = await Qcow2Image.open(p, { l2CacheTables: 4 });
    const model = Buffer.alloc(64 * MiB);
    for (let i = 0; i < 32; i++) await writeBoth(img, model, i * 2 * MiB + 1000 * i, pattern(5000, i));
    for (let i = 31; i >= 0; i--) {
      const off = i * 2 * MiB + 1000 * i;
      expectSameBytes(await img.read(off, 5000), model.subarray(off, off + 5000));
    }
    await img.close();
    expectCleanCheck(p);
    expectSameBytes(await qemuToRaw(p, dir), model);
  });

  it('refuses writes when read-only and leaves the file untouched', async () => {
    const p = file('ro.qcow2');
    qemuImg('create', '-f', 'qcow2', p, '1M');
    const before = await fingerprint(p);
    const img = await Qcow2Image.open(p, { readOnly: true });
    await expectAppError(img.write(0, Buffer.alloc(512)), 'INVALID_ARGUMENT', /read-only/);
    await expectAppError(img.read(1 * MiB - 1, 2), 'INVALID_ARGUMENT', /past the end/);
    await img.close();
    const after = await fingerprint(p);
    expect(after.mtimeMs).toBe(before.mtimeMs);
    expect(after.bytes.equals(before.bytes)).toBe(true);
  });

  it('property: random write patterns match a model and check clean', async () => {
    const size = 2 * MiB;
    const write = fc.record({
      offset: fc.integer({ min: 0, max: size - 1 }),
      length: fc.integer({ min: 1, max: 40 * KiB }),
      seed: fc.integer({ min: 0, max: 1e9 }),
    });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(512, 4096, 65536),
        fc.array(write, { minLength: 1, maxLength: 25 }),
        async (cs, writes) => {
          const p = file(`prop-${run++}.qcow2`);
          qemuImg('create', '-f', 'qcow2', '-o', `cluster_size=${cs}`, p, String(size));
          const model = Buffer.alloc(size);
          const img = await Qcow2Image.open(p);
          try {
            await Promise.all(
              writes.map((w) => {
                const len = Math.min(w.length, size - w.offset);
                const d = pattern(len, w.seed);
                d.copy(model, w.offset);
                return img.write(w.offset, d);
              }),
            );
            expectSameBytes(await img.read(0, size), model, 'our read');
          } finally {
            await img.close();
          }
          expectCleanCheck(p);
          expectSameBytes(await qemuToRaw(p, dir), model, 'qemu-img convert');
        },
      ),
      { numRuns: 40 },
    );
  }, 120_000);
});

describe('Qcow2Image reads what QEMU wrote', () => {
  it('matches qemu-img convert for data and zero clusters written by qemu-io', async () => {
    const p = file('q.qcow2');
    qemuImg('create', '-f', 'qcow2', p, '64M');
    qemuIo(
      p,
      'write -P 0xab 0 1M',
      'write -P 0xcd 1000000 123457',
      'write -P 0x01 63M 1M',
      'write -z 128k 64k', // zero flag, cluster stays allocated
      'write -z -u 192k 64k', // zero flag, cluster unmapped
      'write -z 5M 64k', // zero flag on a never-written cluster
    );
    const expected = await qemuToRaw(p, dir);
    const img = await Qcow2Image.open(p, { readOnly: true });
    expectSameBytes(await img.read(0, 64 * MiB), expected);
    expectSameBytes(await img.read(1000000 - 3, 10), expected.subarray(1000000 - 3, 1000000 + 7));
    await img.close();
  });

  it('writes over zero clusters (allocated and not) and releases the old clusters', async () => {
    const p = file('z.qcow2');
    qemuImg('create', '-f', 'qcow2', p, '8M');
    qemuIo(p, 'write -P 0xab 0 1M', 'write -z 128k 64k', 'write -z -u 256k 64k');
    const model = await qemuToRaw(p, dir);
    const img = await Qcow2Image.open(p);
    await writeBoth(img, model, 128 * KiB + 100, pattern(100, 1));
    await writeBoth(img, model, 256 * KiB + 100, pattern(100, 2));
    await img.close();
    expectCleanCheck(p);
    expectSameBytes(await qemuToRaw(p, dir), model);
  });

  it.each(['qcow2', 'raw'])('reads and copies on write from a %s backing file', async (format) => {
    const base = file(`base.${format}`);
    if (format === 'qcow2') {
      qemuImg('create', '-f', 'qcow2', base, '32M');
      qemuIo(base, 'write -P 0x5a 0 4M', 'write -P 0x6b 10M 100k', 'write -P 0x7c 32505856 262144');
    } else {
      await writeFile(base, pattern(32 * MiB, 99));
    }
    const overlay = file('overlay.qcow2');
    // The overlay is larger than its backing file: past 32 MiB reads as zeros.
    qemuImg('create', '-f', 'qcow2', '-b', path.basename(base), '-F', format, overlay, '48M');
    qemuIo(overlay, 'write -P 0x99 1M 64k', 'write -P 0x98 33M 4k');
    const model = await qemuToRaw(overlay, dir);
    const img = await Qcow2Image.open(overlay);
    expect(img.backingFile).toBe(path.basename(base));
    expectSameBytes(await img.read(0, 48 * MiB), model, 'read before writes');
    // Partial-cluster writes copy the rest of the cluster from the backing file.
    await writeBoth(img, model, 2 * MiB + 3, pattern(1000, 1));
    await writeBoth(img, model, 10 * MiB + 60 * KiB, pattern(10 * KiB, 2)); // across a cluster boundary
    await writeBoth(img, model, 32 * MiB - 512, pattern(1024, 3)); // across the backing file's end
    await writeBoth(img, model, 1 * MiB + 5, pattern(5, 4)); // in place
    await img.close();
    expectCleanCheck(overlay);
    expectSameBytes(await qemuToRaw(overlay, dir), model, 'after our writes');
    // The backing file is untouched.
    const baseView = await qemuToRaw(base, dir, format);
    expectSameBytes(model.subarray(3 * MiB, 3 * MiB + 4096), baseView.subarray(3 * MiB, 3 * MiB + 4096));
  });

  it('follows openBacking to find a moved backing file', async () => {
    const base = file('base.qcow2');
    qemuImg('create', '-f', 'qcow2', base, '4M');
    qemuIo(base, 'write -P 0x42 0 4M');
    const overlay = file('ov.qcow2');
    qemuImg('create', '-f', 'qcow2', '-b', '/nonexistent/base.qcow2', '-F', 'qcow2', '-u', overlay, '4M');
    await expectAppError(Qcow2Image.open(overlay, { readOnly: true }), 'NOT_FOUND', /backing file/);
    const img = await Qcow2Image.open(overlay, { readOnly: true, openBacking: () => base });
    expectSameBytes(await img.read(4 * MiB - 10, 10), Buffer.alloc(10, 0x42));
    await img.close();
  });

  it('refuses a backing chain that loops', async () => {
    const a = file('a.qcow2');
    const b = file('b.qcow2');
    qemuImg('create', '-f', 'qcow2', a, '1M');
    qemuImg('create', '-f', 'qcow2', '-b', 'a.qcow2', '-F', 'qcow2', b, '1M');
    qemuImg('rebase', '-u', '-b', 'b.qcow2', '-F', 'qcow2', a);
    await expectAppError(Qcow2Image.open(b, { readOnly: true }), 'INVALID_ARGUMENT', /loops/);
  });

  it('reads compressed clusters and copies on write out of them', async () => {
    const raw = file('src.raw');
    const data = Buffer.alloc(16 * MiB);
    // Compressible but not trivial content, plus some incompressible clusters.
    for (let i = 0; i < data.length; i += 4) data.writeUInt32BE(Math.floor(i / 4096) * 7 + (i % 13), i);
    pattern(256 * KiB, 5).copy(data, 5 * MiB);
    await writeFile(raw, data);
    const comp = file('comp.qcow2');
    qemuImg('convert', '-c', '-O', 'qcow2', raw, comp);
    const report = JSON.parse(qemuImg('check', '--output=json', comp)) as { 'compressed-clusters'?: number };
    expect(report['compressed-clusters']).toBeGreaterThan(100);
    const img = await Qcow2Image.open(comp);
    expectSameBytes(await img.read(0, 16 * MiB), data, 'compressed read');
    expectSameBytes(await img.read(3 * MiB + 1, 100), data.subarray(3 * MiB + 1, 3 * MiB + 101));
    const model = Buffer.from(data);
    await writeBoth(img, model, 100, pattern(100, 1)); // partial: inflate, merge, write a new cluster
    await writeBoth(img, model, 64 * KiB, pattern(64 * KiB, 2)); // full cluster replaces a compressed one
    await writeBoth(img, model, 7 * MiB - 10, pattern(20, 3));
    await img.close();
    expectCleanCheck(comp);
    expectSameBytes(await qemuToRaw(comp, dir), model);
    await copyFile(comp, file('copy.qcow2'));
    expect((await readFile(file('copy.qcow2'))).length).toBeGreaterThan(0);
  });
});
