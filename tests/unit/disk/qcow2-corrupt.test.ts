// Damaged and unsupported qcow2 images: each is refused on open (for reading and for writing)
// with a message that says what is wrong, and the file is never modified (bytes and mtime).
import { open as openFile, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Qcow2Image } from '../../../src-emulator/disk/qcow2-image';
import { expectAppError, fingerprint, makeTempDir, qemuImg, qemuIo, removeTempDir } from './qemu-tools';

let dir: string;
beforeEach(async () => {
  dir = await makeTempDir();
});
afterEach(async () => {
  await removeTempDir(dir);
});

const C = 65536;

/**
 * A 4 MiB image with 64 KiB clusters. Layout (as qemu-img 7.2 makes it): cluster 0 header,
 * 1 refcount table, 2 refcount block, 3 L1 table, 4 L2 table, 5-6 data for guest 0-128K,
 * 7 data for guest 1M.
 */
function baseImage(name = 'img.qcow2'): string {
  const p = path.join(dir, name);
  qemuImg('create', '-f', 'qcow2', p, '4M');
  qemuIo(p, 'write -P 0xab 0 128k', 'write -P 0xcd 1M 64k');
  return p;
}

async function patch(file: string, offset: number, bytes: Buffer): Promise<void> {
  const fh = await openFile(file, 'r+');
  try {
    await fh.write(bytes, 0, bytes.length, offset);
  } finally {
    await fh.close();
  }
}

function u64(v: bigint | number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(v));
  return b;
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
}

const COPIED = 1n << 63n;

/** Opens for writing and for reading; both must fail the same way and leave the file as it was. */
async function expectRefused(file: string, code: string, message: RegExp): Promise<void> {
  const before = await fingerprint(file);
  await new Promise((r) => setTimeout(r, 15)); // an accidental write would move mtime visibly
  for (const readOnly of [false, true]) {
    const err = await expectAppError(Qcow2Image.open(file, { readOnly }), code, message);
    expect(err.message).toContain(file);
  }
  const after = await fingerprint(file);
  expect(after.size).toBe(before.size);
  expect(after.mtimeMs).toBe(before.mtimeMs);
  expect(after.bytes.equals(before.bytes)).toBe(true);
}

describe('corrupt and unsupported qcow2 images are refused untouched', () => {
  it('sanity: the base image opens and its layout is what the patches assume', async () => {
    const p = baseImage();
    const img = await Qcow2Image.open(p, { readOnly: true });
    expect(Buffer.from(await img.read(1024 * 1024, 4)).toString('hex')).toBe('cdcdcdcd');
    await img.close();
    const fh = await openFile(p, 'r');
    try {
      const head = Buffer.alloc(104);
      await fh.read(head, 0, 104, 0);
      expect(head.readBigUInt64BE(40)).toBe(3n * BigInt(C)); // L1
      expect(head.readBigUInt64BE(48)).toBe(BigInt(C)); // refcount table
      const l1 = Buffer.alloc(8);
      await fh.read(l1, 0, 8, 3 * C);
      expect(l1.readBigUInt64BE(0)).toBe(COPIED | (4n * BigInt(C)));
      const l2 = Buffer.alloc(8 * 17);
      await fh.read(l2, 0, l2.length, 4 * C);
      expect(l2.readBigUInt64BE(0)).toBe(COPIED | (5n * BigInt(C)));
      expect(l2.readBigUInt64BE(16 * 8)).toBe(COPIED | (7n * BigInt(C)));
    } finally {
      await fh.close();
    }
  });

  it('an empty file, a text file and a bad magic are not qcow2', async () => {
    const empty = path.join(dir, 'empty.qcow2');
    await writeFile(empty, '');
    await expectRefused(empty, 'INVALID_ARGUMENT', /is not a qcow2 image: it does not start with the qcow2 magic/);
    const text = path.join(dir, 'text.qcow2');
    await writeFile(text, 'hello, this is not a disk image\n'.repeat(100));
    await expectRefused(text, 'INVALID_ARGUMENT', /is not a qcow2 image/);
    const p = baseImage();
    await patch(p, 0, Buffer.from('QFI\xfa', 'latin1'));
    await expectRefused(p, 'INVALID_ARGUMENT', /is not a qcow2 image/);
  });

  it('a truncated file', async () => {
    const p = baseImage();
    await truncate(p, 150_000);
    await expectRefused(
      p,
      'INVALID_ARGUMENT',
      /is truncated: L1 table at offset 196608 past end of file \(150000 bytes\)/,
    );
    const q = baseImage('q.qcow2');
    await truncate(q, 6 * C + 100); // the data cluster for guest 1M (cluster 7) is gone
    await expectRefused(
      q,
      'INVALID_ARGUMENT',
      /is truncated: data cluster at offset 458752 \(guest offset 1048576 of the active image\) past end of file \(393316 bytes\)/,
    );
    const h = baseImage('h.qcow2');
    await truncate(h, 50);
    await expectRefused(h, 'INVALID_ARGUMENT', /is truncated: the 72-byte header is past end of file \(50 bytes\)/);
  });

  it('an L1 table offset past the end of the file', async () => {
    const p = baseImage();
    await patch(p, 40, u64(100 * C));
    await expectRefused(p, 'INVALID_ARGUMENT', /is truncated: L1 table at offset 6553600 past end of file/);
  });

  it('an L2 table or data cluster offset past the end of the file', async () => {
    const p = baseImage();
    await patch(p, 4 * C + 8, u64(COPIED | (50n * BigInt(C))));
    await expectRefused(
      p,
      'INVALID_ARGUMENT',
      /is truncated: data cluster at offset 3276800 \(guest offset 65536 of the active image\) past end of file/,
    );
    const q = baseImage('q.qcow2');
    await patch(q, 3 * C, u64(COPIED | (60n * BigInt(C))));
    await expectRefused(
      q,
      'INVALID_ARGUMENT',
      /is truncated: L2 table at offset 3932160 \(guest offset 0 of the active image\) past end of file/,
    );
  });

  it('a refcount table past the end of the file', async () => {
    const p = baseImage();
    await patch(p, 48, u64(80 * C));
    await expectRefused(p, 'INVALID_ARGUMENT', /is truncated: refcount table at offset 5242880 past end of file/);
  });

  it('metadata structures that overlap', async () => {
    // Guest data placed on the L1 table.
    const p = baseImage();
    await patch(p, 4 * C + 8, u64(COPIED | (3n * BigInt(C))));
    await expectRefused(
      p,
      'INVALID_ARGUMENT',
      /refcount overlap: cluster 3 used by both the active L1 table and the data of guest offset 65536/,
    );
    // An L2 table placed on the refcount block.
    const q = baseImage('q.qcow2');
    await patch(q, 3 * C, u64(COPIED | (2n * BigInt(C))));
    await expectRefused(
      q,
      'INVALID_ARGUMENT',
      /refcount overlap: cluster 2 used by both refcount block 0 and the L2 table at offset 131072/,
    );
    // The L1 table placed on the refcount table.
    const r = baseImage('r.qcow2');
    await patch(r, 40, u64(C));
    await expectRefused(
      r,
      'INVALID_ARGUMENT',
      /refcount overlap: cluster 1 used by both the refcount table and the active L1 table/,
    );
  });

  it('a cluster in use whose refcount is 0', async () => {
    const p = baseImage();
    await patch(p, 2 * C + 7 * 2, Buffer.from([0, 0]));
    await expectRefused(
      p,
      'INVALID_ARGUMENT',
      /refcount mismatch: cluster 7 \(the data of guest offset 1048576 of the active image\) is in use but its refcount is 0/,
    );
  });

  it('the dirty bit, the corrupt bit and unknown incompatible features', async () => {
    const dirty = baseImage('dirty.qcow2');
    await patch(dirty, 72, u64(1));
    await expectRefused(
      dirty,
      'INVALID_ARGUMENT',
      /is marked dirty \(incompatible feature bit 0 \("dirty bit"\) is set\).*qemu-img check -r all/,
    );
    const corrupt = baseImage('corrupt.qcow2');
    await patch(corrupt, 72, u64(2));
    await expectRefused(
      corrupt,
      'INVALID_ARGUMENT',
      /is marked corrupt \(incompatible feature bit 1 \("corrupt bit"\) is set\)/,
    );
    const future = baseImage('future.qcow2');
    await patch(future, 72, u64(1n << 10n));
    await expectRefused(
      future,
      'UNSUPPORTED',
      /uses unknown incompatible qcow2 feature bit 10; it was written by a newer QEMU/,
    );
  });

  it('unsupported features: encryption, external data files, odd cluster sizes', async () => {
    const enc = baseImage('enc.qcow2');
    await patch(enc, 32, u32(1));
    await expectRefused(enc, 'UNSUPPORTED', /uses encryption \(crypt_method AES\)/);
    const ext = path.join(dir, 'ext.qcow2');
    qemuImg('create', '-f', 'qcow2', '-o', `data_file=${path.join(dir, 'ext.data')}`, ext, '1M');
    await expectRefused(ext, 'UNSUPPORTED', /uses an external data file/);
    const bits = baseImage('bits.qcow2');
    await patch(bits, 20, u32(30));
    await expectRefused(bits, 'INVALID_ARGUMENT', /is corrupt: its cluster_bits 30 is out of range/);
    const version = baseImage('version.qcow2');
    await patch(version, 4, u32(4));
    await expectRefused(version, 'UNSUPPORTED', /qcow2 version 4 image/);
  });

  it('a snapshot table or snapshot L1 table past the end of the file', async () => {
    const p = baseImage();
    await patch(p, 60, Buffer.concat([u32(1), u64(70 * C)]));
    await expectRefused(p, 'INVALID_ARGUMENT', /is truncated: snapshot table at offset 4587520 past end of file/);
    const q = baseImage('q.qcow2');
    qemuImg('snapshot', '-c', 'snap', q);
    const fh = await openFile(q, 'r');
    const head = Buffer.alloc(72);
    await fh.read(head, 0, 72, 0);
    await fh.close();
    const table = Number(head.readBigUInt64BE(64));
    await patch(q, table, u64(90 * C));
    await expectRefused(
      q,
      'INVALID_ARGUMENT',
      /is truncated: L1 table of snapshot "snap" \(id 1\) at offset 5898240 past end of file/,
    );
  });

  it('a missing file is NOT_FOUND', async () => {
    await expectAppError(Qcow2Image.open(path.join(dir, 'nope.qcow2')), 'NOT_FOUND', /does not exist/);
  });
});
