// RFB pixel formats (RFC 6143 §7.4): the 16-byte wire struct, validation, and conversion of
// RGBA framebuffer rectangles into whatever true-colour format a viewer asked for.
import type { Rect } from './framebuffer';

/** RFC 6143 §7.4 PIXEL_FORMAT. */
export interface PixelFormat {
  readonly bitsPerPixel: number;
  readonly depth: number;
  readonly bigEndian: boolean;
  readonly trueColour: boolean;
  readonly redMax: number;
  readonly greenMax: number;
  readonly blueMax: number;
  readonly redShift: number;
  readonly greenShift: number;
  readonly blueShift: number;
}

/**
 * The server's own format: 32 bpp little-endian with red in the low byte — RGBA bytes in
 * memory, what noVNC asks for, so its updates need no conversion.
 */
export const NATIVE_PIXEL_FORMAT: PixelFormat = {
  bitsPerPixel: 32,
  depth: 24,
  bigEndian: false,
  trueColour: true,
  redMax: 255,
  greenMax: 255,
  blueMax: 255,
  redShift: 0,
  greenShift: 8,
  blueShift: 16,
};

export const PIXEL_FORMAT_BYTES = 16;

/** The 16-byte wire form. */
export function encodePixelFormat(pf: PixelFormat): Uint8Array {
  const b = new Uint8Array(PIXEL_FORMAT_BYTES);
  const v = new DataView(b.buffer);
  v.setUint8(0, pf.bitsPerPixel);
  v.setUint8(1, pf.depth);
  v.setUint8(2, pf.bigEndian ? 1 : 0);
  v.setUint8(3, pf.trueColour ? 1 : 0);
  v.setUint16(4, pf.redMax);
  v.setUint16(6, pf.greenMax);
  v.setUint16(8, pf.blueMax);
  v.setUint8(10, pf.redShift);
  v.setUint8(11, pf.greenShift);
  v.setUint8(12, pf.blueShift);
  return b;
}

/** Reads the 16-byte wire form at `offset`. */
export function decodePixelFormat(bytes: Uint8Array, offset = 0): PixelFormat {
  const v = new DataView(bytes.buffer, bytes.byteOffset + offset, PIXEL_FORMAT_BYTES);
  return {
    bitsPerPixel: v.getUint8(0),
    depth: v.getUint8(1),
    bigEndian: v.getUint8(2) !== 0,
    trueColour: v.getUint8(3) !== 0,
    redMax: v.getUint16(4),
    greenMax: v.getUint16(6),
    blueMax: v.getUint16(8),
    redShift: v.getUint8(10),
    greenShift: v.getUint8(11),
    blueShift: v.getUint8(12),
  };
}

function bitsOf(max: number): number {
  return 32 - Math.clz32(max);
}

/** Why this server cannot produce `pf`, or undefined when it can. */
export function pixelFormatProblem(pf: PixelFormat): string | undefined {
  if (![8, 16, 32].includes(pf.bitsPerPixel)) return `${pf.bitsPerPixel} bits per pixel (8, 16 or 32 are valid)`;
  if (!pf.trueColour) return 'a colour-map pixel format (only true-colour formats are served)';
  for (const [name, max, shift] of [
    ['red', pf.redMax, pf.redShift],
    ['green', pf.greenMax, pf.greenShift],
    ['blue', pf.blueMax, pf.blueShift],
  ] as const) {
    if (max === 0 || (max & (max + 1)) !== 0) return `${name}-max ${max} (must be 2^n - 1)`;
    if (shift + bitsOf(max) > pf.bitsPerPixel) return `${name} channel (max ${max}, shift ${shift}) outside the pixel`;
  }
  return undefined;
}

function sameLayout(a: PixelFormat, b: PixelFormat): boolean {
  return (
    a.bitsPerPixel === b.bitsPerPixel &&
    a.bigEndian === b.bigEndian &&
    a.redMax === b.redMax &&
    a.greenMax === b.greenMax &&
    a.blueMax === b.blueMax &&
    a.redShift === b.redShift &&
    a.greenShift === b.greenShift &&
    a.blueShift === b.blueShift
  );
}

/** Bytes per pixel of `pf`. */
export function bytesPerPixel(pf: PixelFormat): number {
  return pf.bitsPerPixel >> 3;
}

/**
 * Copies `rect` out of an RGBA framebuffer (`srcWidth` pixels wide) in pixel format `pf`,
 * rows packed without padding (the raw encoding's layout, RFC 6143 §7.7.1).
 */
export function convertRect(src: Uint8Array, srcWidth: number, rect: Rect, pf: PixelFormat): Uint8Array {
  const bpp = bytesPerPixel(pf);
  const out = new Uint8Array(rect.width * rect.height * bpp);
  const rowBytes = rect.width * 4;
  if (sameLayout(pf, NATIVE_PIXEL_FORMAT)) {
    for (let y = 0; y < rect.height; y++) {
      const s = ((rect.y + y) * srcWidth + rect.x) * 4;
      out.set(src.subarray(s, s + rowBytes), y * rowBytes);
    }
    return out;
  }
  // 32 bpp with byte-aligned 8-bit channels (BGRX, XRGB, …): place bytes directly.
  if (
    bpp === 4 &&
    pf.redMax === 255 &&
    pf.greenMax === 255 &&
    pf.blueMax === 255 &&
    pf.redShift % 8 === 0 &&
    pf.greenShift % 8 === 0 &&
    pf.blueShift % 8 === 0
  ) {
    const at = (shift: number): number => (pf.bigEndian ? 3 - shift / 8 : shift / 8);
    const r = at(pf.redShift);
    const g = at(pf.greenShift);
    const b = at(pf.blueShift);
    let o = 0;
    for (let y = 0; y < rect.height; y++) {
      let s = ((rect.y + y) * srcWidth + rect.x) * 4;
      for (let x = 0; x < rect.width; x++, s += 4, o += 4) {
        out[o + r] = src[s]!;
        out[o + g] = src[s + 1]!;
        out[o + b] = src[s + 2]!;
      }
    }
    return out;
  }
  // General true colour: scale each channel to its max, shift, write bpp bytes in order.
  const rb = 8 - bitsOf(pf.redMax);
  const gb = 8 - bitsOf(pf.greenMax);
  const bb = 8 - bitsOf(pf.blueMax);
  let o = 0;
  for (let y = 0; y < rect.height; y++) {
    let s = ((rect.y + y) * srcWidth + rect.x) * 4;
    for (let x = 0; x < rect.width; x++, s += 4) {
      const v =
        (((src[s]! >> rb) << pf.redShift) |
          ((src[s + 1]! >> gb) << pf.greenShift) |
          ((src[s + 2]! >> bb) << pf.blueShift)) >>>
        0;
      if (bpp === 1) {
        out[o++] = v & 0xff;
      } else if (bpp === 2) {
        if (pf.bigEndian) {
          out[o++] = (v >> 8) & 0xff;
          out[o++] = v & 0xff;
        } else {
          out[o++] = v & 0xff;
          out[o++] = (v >> 8) & 0xff;
        }
      } else if (pf.bigEndian) {
        out[o++] = (v >>> 24) & 0xff;
        out[o++] = (v >> 16) & 0xff;
        out[o++] = (v >> 8) & 0xff;
        out[o++] = v & 0xff;
      } else {
        out[o++] = v & 0xff;
        out[o++] = (v >> 8) & 0xff;
        out[o++] = (v >> 16) & 0xff;
        out[o++] = (v >>> 24) & 0xff;
      }
    }
  }
  return out;
}
