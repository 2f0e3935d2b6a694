// Damage regions (bounded, merged, taken by area) and pixel-format conversion, alone.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DamageRegion, intersectRect } from '../../../src-emulator/rfb/framebuffer';
import {
  NATIVE_PIXEL_FORMAT,
  convertRect,
  decodePixelFormat,
  encodePixelFormat,
  pixelFormatProblem,
} from '../../../src-emulator/rfb/pixel-format';

describe('DamageRegion', () => {
  it('merges touching rectangles, drops contained ones, keeps distant ones apart', () => {
    const d = new DamageRegion(8);
    d.add({ x: 0, y: 0, width: 10, height: 10 });
    d.add({ x: 2, y: 2, width: 3, height: 3 });
    d.add({ x: 10, y: 0, width: 5, height: 10 });
    d.add({ x: 100, y: 100, width: 1, height: 1 });
    d.add({ x: 5, y: 5, width: 0, height: 9 });
    expect(d.peek()).toEqual([
      { x: 0, y: 0, width: 15, height: 10 },
      { x: 100, y: 100, width: 1, height: 1 },
    ]);
  });

  it('never holds more than its limit, and still covers every pixel added', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            x: fc.integer({ min: 0, max: 200 }),
            y: fc.integer({ min: 0, max: 200 }),
            width: fc.integer({ min: 1, max: 30 }),
            height: fc.integer({ min: 1, max: 30 }),
          }),
          { maxLength: 80 },
        ),
        fc.integer({ min: 1, max: 10 }),
        (rects, max) => {
          const d = new DamageRegion(max);
          for (const r of rects) d.add(r);
          const held = d.peek();
          expect(held.length).toBeLessThanOrEqual(max);
          for (const r of rects) {
            for (const [px, py] of [
              [r.x, r.y],
              [r.x + r.width - 1, r.y + r.height - 1],
            ] as const) {
              expect(held.some((h) => px >= h.x && py >= h.y && px < h.x + h.width && py < h.y + h.height)).toBe(true);
            }
          }
        },
      ),
    );
  });

  it('takes what lies in an area, clipped, and keeps what lies partly outside', () => {
    const d = new DamageRegion();
    d.add({ x: 0, y: 0, width: 10, height: 10 });
    d.add({ x: 50, y: 50, width: 10, height: 10 });
    const taken = d.take({ x: 0, y: 0, width: 55, height: 55 });
    expect(taken).toEqual([
      { x: 0, y: 0, width: 10, height: 10 },
      { x: 50, y: 50, width: 5, height: 5 },
    ]);
    expect(d.peek()).toEqual([{ x: 50, y: 50, width: 10, height: 10 }]);
    expect(intersectRect({ x: 0, y: 0, width: 1, height: 1 }, { x: 1, y: 0, width: 1, height: 1 })).toBeUndefined();
  });
});

describe('pixel formats', () => {
  it('round-trips the 16-byte wire form', () => {
    const pf = { ...NATIVE_PIXEL_FORMAT, bigEndian: true, redShift: 24, greenShift: 16, blueShift: 8 };
    expect(decodePixelFormat(encodePixelFormat(pf))).toEqual(pf);
  });

  it('explains what it cannot produce', () => {
    expect(pixelFormatProblem(NATIVE_PIXEL_FORMAT)).toBeUndefined();
    expect(pixelFormatProblem({ ...NATIVE_PIXEL_FORMAT, bitsPerPixel: 24 })).toMatch(/24 bits per pixel/);
    expect(pixelFormatProblem({ ...NATIVE_PIXEL_FORMAT, redMax: 200 })).toMatch(/red-max 200/);
    expect(pixelFormatProblem({ ...NATIVE_PIXEL_FORMAT, bitsPerPixel: 16, redShift: 12 })).toMatch(/outside the pixel/);
  });

  it('converts big-endian XRGB and copies the native format row by row from inside a wider buffer', () => {
    const width = 4;
    const src = new Uint8Array(width * 2 * 4);
    for (let i = 0; i < width * 2; i++) src.set([i * 10, i * 10 + 1, i * 10 + 2, 255], i * 4);
    const rect = { x: 1, y: 1, width: 2, height: 1 };
    expect([...convertRect(src, width, rect, NATIVE_PIXEL_FORMAT)]).toEqual([50, 51, 52, 255, 60, 61, 62, 255]);
    const xrgbBE = { ...NATIVE_PIXEL_FORMAT, bigEndian: true, redShift: 16, greenShift: 8, blueShift: 0 };
    expect([...convertRect(src, width, rect, xrgbBE)]).toEqual([0, 50, 51, 52, 0, 60, 61, 62]);
  });
});

it('keeps any RGB through BGRX conversion', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 12, maxLength: 12 }), (bytes) => {
      const src = new Uint8Array(16);
      for (let i = 0; i < 4; i++) src.set([bytes[i * 3]!, bytes[i * 3 + 1]!, bytes[i * 3 + 2]!, 0], i * 4);
      const bgrx = { ...NATIVE_PIXEL_FORMAT, redShift: 16, blueShift: 0 };
      const out = convertRect(src, 4, { x: 0, y: 0, width: 4, height: 1 }, bgrx);
      for (let i = 0; i < 4; i++) {
        expect([out[i * 4 + 2], out[i * 4 + 1], out[i * 4]]).toEqual([...src.subarray(i * 4, i * 4 + 3)]);
      }
    }),
  );
});
