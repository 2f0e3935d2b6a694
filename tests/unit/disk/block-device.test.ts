// The v86 block device adapter over real qcow2 and raw files: the callback contract v86 uses
// (load → onload, get/set with callbacks, abort signals, get_state/set_state), copies of
// written buffers, read-only ISOs, and images that still check clean afterwards.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openV86BlockDevice, V86BlockDevice } from '../../../src-emulator/disk/block-device';
import { Qcow2Image } from '../../../src-emulator/disk/qcow2-image';
import { RawImage } from '../../../src-emulator/disk/raw-image';
import {
  expectCleanCheck,
  expectSameBytes,
  fingerprint,
  KiB,
  makeTempDir,
  MiB,
  pattern,
  qemuImg,
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

function get(dev: V86BlockDevice, start: number, len: number): Promise<Uint8Array> {
  return new Promise((resolve) => dev.get(start, len, resolve));
}

function set(dev: V86BlockDevice, start: number, data: Uint8Array): Promise<void> {
  return new Promise((resolve) => dev.set(start, data, resolve));
}

function loaded(dev: V86BlockDevice): Promise<object> {
  return new Promise((resolve) => {
    dev.onload = resolve;
    dev.load();
  });
}

describe('V86BlockDevice', () => {
  it('serves a qcow2 hard disk the way v86 calls it', async () => {
    const p = path.join(dir, 'hd.qcow2');
    qemuImg('create', '-f', 'qcow2', p, '32M');
    const errors: Error[] = [];
    const dev = await openV86BlockDevice(p, { format: 'qcow2', onError: (e) => errors.push(e) });
    expect(dev.byteLength).toBe(32 * MiB);
    // onload is called after load() returns, not inside it.
    let sync = true;
    const ready = loaded(dev).then(() => sync);
    sync = false;
    expect(await ready).toBe(false);

    const model = Buffer.alloc(32 * MiB);
    // v86 reuses its buffers: the adapter must copy before set() returns.
    const buf = new Uint8Array(4096);
    buf.set(pattern(4096, 1));
    const done = set(dev, 512, buf);
    model.set(buf, 512);
    buf.fill(0xee); // after the call: must not reach the disk
    await done;
    // Back-to-back requests, as the IDE DMA path issues them, keep their order.
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) {
      const d = pattern(8 * 512, 100 + i);
      const at = (i * 7 * 512) % (1 * MiB);
      writes.push(set(dev, at, d));
      d.copy(model, at);
    }
    const afterWrites = get(dev, 0, 2 * MiB);
    await Promise.all(writes);
    const got = await afterWrites;
    expectSameBytes(got, model.subarray(0, 2 * MiB));
    // What v86 gets owns its whole ArrayBuffer.
    const small = await get(dev, 512, 512);
    expect(small.byteOffset).toBe(0);
    expect(small.buffer.byteLength).toBe(512);
    expect(dev.get_state()).toEqual([32 * MiB]);
    dev.set_state([32 * MiB]);
    expect(() => dev.set_state([16 * MiB])).toThrow(/expects a 16777216-byte disk/);
    await dev.close();
    expect(errors).toEqual([]);
    expectCleanCheck(p);
    expectSameBytes(await qemuToRaw(p, dir), model);
  });

  it('drops reads whose signal was aborted (IDE reset) and drains pending requests', async () => {
    const p = path.join(dir, 'hd.qcow2');
    qemuImg('create', '-f', 'qcow2', p, '4M');
    const dev = new V86BlockDevice(await Qcow2Image.open(p));
    const abort = new AbortController();
    let called = false;
    dev.get(0, 64 * KiB, () => (called = true), { signal: abort.signal });
    abort.abort();
    let wrote = false;
    dev.set(0, new Uint8Array(512).fill(1), () => (wrote = true));
    await dev.drain();
    expect(called).toBe(false);
    expect(wrote).toBe(true);
    await dev.close();
  });

  it('serves a raw ISO read-only as a CD-ROM and reports writes as errors', async () => {
    const iso = path.join(dir, 'disc.iso');
    const content = pattern(3 * 2048 * 100, 5);
    await writeFile(iso, content);
    const before = await fingerprint(iso);
    const errors: Error[] = [];
    const dev = await openV86BlockDevice(iso, { format: 'raw', readOnly: true, onError: (e) => errors.push(e) });
    await loaded(dev);
    expect(dev.byteLength).toBe(content.length);
    expectSameBytes(await get(dev, 2048 * 16, 2048 * 4), content.subarray(2048 * 16, 2048 * 20));
    let wrote = false;
    dev.set(0, new Uint8Array(2048), () => (wrote = true));
    await dev.drain();
    expect(wrote).toBe(false);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/read-only/);
    await dev.close();
    const after = await fingerprint(iso);
    expect(after.mtimeMs).toBe(before.mtimeMs);
    expect(after.bytes.equals(before.bytes)).toBe(true);
  });

  it('writes a raw disk in place', async () => {
    const p = path.join(dir, 'flat.img');
    await writeFile(p, Buffer.alloc(1 * MiB));
    const dev = new V86BlockDevice(await RawImage.open(p));
    await set(dev, 1024, pattern(1024, 9));
    expectSameBytes(await get(dev, 1024, 1024), pattern(1024, 9));
    const errors: Error[] = [];
    const bad = new V86BlockDevice(dev.image, { onError: (e) => errors.push(e) });
    bad.get(1 * MiB - 512, 1024, () => undefined);
    await bad.drain();
    expect(errors[0]?.message).toMatch(/past the end/);
    await dev.close();
    const expected = Buffer.alloc(1 * MiB);
    pattern(1024, 9).copy(expected, 1024);
    expectSameBytes(await qemuToRaw(p, dir, 'raw'), expected);
  });
});
