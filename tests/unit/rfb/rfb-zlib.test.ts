// The zlib encoding's stream: a viewer inflates every rectangle with one inflater for the
// whole connection, whether a rectangle was compressed inline or (after a slow one) on the
// thread pool.
import { randomBytes } from 'node:crypto';
import { createInflate, constants } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ZlibStream } from '../../../src-emulator/rfb/rfb-zlib';

/** One inflater fed part after part, as noVNC does; returns each part's output. */
async function inflateParts(parts: readonly Buffer[]): Promise<Buffer[]> {
  const inflater = createInflate();
  const outputs: Buffer[] = [];
  for (const part of parts) {
    const chunks: Buffer[] = [];
    const onData = (c: Buffer): void => void chunks.push(c);
    inflater.on('data', onData);
    inflater.write(part);
    await new Promise<void>((resolve) => inflater.flush(constants.Z_SYNC_FLUSH, () => resolve()));
    await new Promise((r) => setImmediate(r));
    inflater.off('data', onData);
    outputs.push(Buffer.concat(chunks));
  }
  inflater.destroy();
  return outputs;
}

describe('ZlibStream', () => {
  it('makes one zlib stream of many rectangles: header once, each part inflates on its own', async () => {
    const z = new ZlibStream(1);
    const inputs = [Buffer.alloc(4096, 7), Buffer.from('pixels '.repeat(500)), Buffer.alloc(1, 1)];
    const parts = [];
    for (const i of inputs) parts.push(await z.compress(i));
    expect(parts[0]!.subarray(0, 2)).toEqual(Buffer.from([0x78, 0x01]));
    expect(parts[1]![0]).not.toBe(0x78);
    for (const p of parts) expect(p.subarray(-4)).toEqual(Buffer.from([0, 0, 0xff, 0xff]));
    expect(await inflateParts(parts)).toEqual(inputs);
  });

  it('moves to the thread pool after a slow compression and the stream still inflates in order', async () => {
    const z = new ZlibStream(9);
    const noisy = randomBytes(8 * 1024 * 1024); // level 9 on 8 MiB of noise: far beyond the inline budget
    const inputs = [noisy, Buffer.alloc(1000, 3), randomBytes(5000), Buffer.alloc(70_000, 9)];
    const parts = [];
    for (const i of inputs) parts.push(await z.compress(i));
    const out = await inflateParts(parts);
    expect(out.map((b) => b.length)).toEqual(inputs.map((b) => b.length));
    out.forEach((b, i) => expect(b.equals(inputs[i]!), `part ${i}`).toBe(true));
  });

  it('refuses work once disposed', async () => {
    const z = new ZlibStream();
    z.dispose();
    await expect(z.compress(Buffer.alloc(10))).rejects.toThrow('zlib stream closed');
  });
});
