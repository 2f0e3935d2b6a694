// QEMU's stream netdev framing (src-emulator/network/frame-stream.ts): frames come out whole
// however the bytes are split, a 0 or oversized length is a protocol error that sticks.
import { describe, expect, it } from 'vitest';
import {
  FrameDecoder,
  FrameProtocolError,
  MAX_FRAME_BYTES,
  encodeFrame,
  frameHeader,
} from '../../../src-emulator/network/frame-stream';

function frame(n: number, fill: number): Buffer {
  return Buffer.alloc(n, fill);
}

function decodeAll(chunks: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  const d = new FrameDecoder((f) => out.push(Buffer.from(f)));
  for (const c of chunks) d.push(c);
  return out;
}

describe('FrameDecoder', () => {
  const frames = [frame(60, 1), frame(1514, 2), frame(14, 3), frame(9000, 4)];
  const stream = Buffer.concat(frames.map(encodeFrame));

  it('decodes several frames from one chunk', () => {
    expect(decodeAll([stream])).toEqual(frames);
  });

  it('decodes the same frames whatever the split (headers and frames cut anywhere)', () => {
    for (const cut of [1, 2, 3, 4, 5, 13, 63, 64, 65, 1000, 1581]) {
      expect(decodeAll([stream.subarray(0, cut), stream.subarray(cut)])).toEqual(frames);
    }
    // one byte at a time
    expect(decodeAll([...stream].map((b) => Buffer.of(b)))).toEqual(frames);
  });

  it('hands whole frames inside a chunk on without copying', () => {
    const seen: Buffer[] = [];
    new FrameDecoder((f) => seen.push(f)).push(stream);
    expect(seen[0]!.buffer).toBe(stream.buffer);
  });

  it('accepts the largest frame QEMU sends and refuses a larger one or an empty one, for good', () => {
    expect(decodeAll([encodeFrame(frame(MAX_FRAME_BYTES, 7))])[0]!.length).toBe(MAX_FRAME_BYTES);
    for (const bad of [0, MAX_FRAME_BYTES + 1, 0xffffffff]) {
      const d = new FrameDecoder(() => undefined);
      expect(() => d.push(Buffer.concat([encodeFrame(frame(60, 1)), frameHeader(bad)]))).toThrow(FrameProtocolError);
      // the stream cannot be trusted afterwards: a good frame is refused too
      expect(() => d.push(encodeFrame(frame(60, 1)))).toThrow(/frame length of \d+ bytes is not allowed/);
    }
  });
});
