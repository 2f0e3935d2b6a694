// PNG encoding of RGB/RGBA pixel buffers (PNG spec, ISO/IEC 15948): signature, IHDR, one
// zlib IDAT with per-row adaptive filters, IEND; chunk CRCs computed here.
import { deflateSync } from 'node:zlib';

/** A raw image: `channels` bytes per pixel (3 = RGB, 4 = RGBA), rows top to bottom, no padding. */
export interface RawImage {
  readonly width: number;
  readonly height: number;
  readonly channels: 3 | 4;
  readonly data: Uint8Array;
}

const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

let crcTable: Uint32Array | undefined;

function table(): Uint32Array {
  if (crcTable) return crcTable;
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    // PNG spec annex D: reflected CRC-32, polynomial 0xEDB88320.
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  crcTable = t;
  return t;
}

/** CRC-32 (ISO 3309 / PNG), continuing from `crc` (start with 0). */
export function crc32(bytes: Uint8Array, crc = 0): number {
  const t = table();
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

function chunk(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, body.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(body, 8);
  view.setUint32(8 + body.length, crc32(out.subarray(4, 8 + body.length)));
  return out;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

/**
 * Filters every row with the filter (None, Sub, Up, Average, Paeth) whose output has the
 * smallest sum of absolute values (the spec's recommended heuristic, §12.8).
 */
function filterRows(img: RawImage): Uint8Array {
  const bpp = img.channels;
  const stride = img.width * bpp;
  const out = new Uint8Array((stride + 1) * img.height);
  const candidates = [0, 1, 2, 3, 4].map(() => new Uint8Array(stride));
  const zero = new Uint8Array(stride);
  for (let y = 0; y < img.height; y++) {
    const row = img.data.subarray(y * stride, (y + 1) * stride);
    const prev = y > 0 ? img.data.subarray((y - 1) * stride, y * stride) : zero;
    let best = 0;
    let bestSum = Infinity;
    for (let f = 0; f < 5; f++) {
      const c = candidates[f]!;
      let sum = 0;
      for (let i = 0; i < stride; i++) {
        const x = row[i]!;
        const a = i >= bpp ? row[i - bpp]! : 0;
        const b = prev[i]!;
        const cc = i >= bpp ? prev[i - bpp]! : 0;
        let v: number;
        if (f === 0) v = x;
        else if (f === 1) v = x - a;
        else if (f === 2) v = x - b;
        else if (f === 3) v = x - ((a + b) >> 1);
        else v = x - paeth(a, b, cc);
        v &= 0xff;
        c[i] = v;
        sum += v < 128 ? v : 256 - v;
        if (sum >= bestSum) break;
      }
      if (sum < bestSum) {
        bestSum = sum;
        best = f;
      }
    }
    // Recompute the winner in full (the loop above may have stopped early for it too).
    const c = candidates[best]!;
    for (let i = 0; i < stride; i++) {
      const x = row[i]!;
      const a = i >= bpp ? row[i - bpp]! : 0;
      const b = prev[i]!;
      const cc = i >= bpp ? prev[i - bpp]! : 0;
      const pred = best === 0 ? 0 : best === 1 ? a : best === 2 ? b : best === 3 ? (a + b) >> 1 : paeth(a, b, cc);
      c[i] = (x - pred) & 0xff;
    }
    out[y * (stride + 1)] = best;
    out.set(c, y * (stride + 1) + 1);
  }
  return out;
}

/** Encodes `img` as an 8-bit truecolour PNG (colour type 2 for RGB, 6 for RGBA). */
export function encodePng(img: RawImage, options: { level?: number } = {}): Uint8Array {
  const { width, height, channels, data } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`PNG size must be positive whole numbers, got ${width}×${height}.`);
  }
  if (width > 0x7fffffff || height > 0x7fffffff) throw new RangeError('PNG dimensions exceed 2^31 − 1.');
  if (data.length !== width * height * channels) {
    throw new RangeError(`Pixel buffer has ${data.length} bytes, expected ${width * height * channels}.`);
  }
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = channels === 4 ? 6 : 2; // colour type
  ihdr[10] = 0; // deflate
  ihdr[11] = 0; // adaptive filtering
  ihdr[12] = 0; // no interlace
  const idat = deflateSync(filterRows(img), { level: options.level ?? 6 });
  const parts = [SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
