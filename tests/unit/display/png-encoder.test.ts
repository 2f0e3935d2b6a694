// The PNG encoder (CRC-32, chunks, adaptive filters) round-tripped through an independent
// reader, and the PPM decoder QEMU's screendump output goes through first.
import { describe, expect, it } from 'vitest';
import { crc32, encodePng } from '../../../src-emulator/display/png-encoder';
import { decodePpm } from '../../../src-emulator/display/ppm-decoder';
import { decodePngForTest } from './png-codec-kit';

function image(width: number, height: number, channels: 3 | 4, fill: (x: number, y: number, c: number) => number) {
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      for (let c = 0; c < channels; c++) data[(y * width + x) * channels + c] = fill(x, y, c) & 0xff;
  return { width, height, channels, data } as const;
}

describe('crc32', () => {
  it('matches the standard check values', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(Buffer.from('IEND'))).toBe(0xae426082);
    expect(crc32(new Uint8Array(0))).toBe(0);
    // Continuing a CRC equals computing it over the concatenation.
    expect(crc32(Buffer.from('6789'), crc32(Buffer.from('12345')))).toBe(0xcbf43926);
  });
});

describe('encodePng', () => {
  it('writes signature, IHDR, IDAT, IEND with valid CRCs, and the pixels survive', () => {
    const img = image(37, 23, 3, (x, y, c) => x * 7 + y * 13 + c * 91 + ((x * y) % 5));
    const png = encodePng(img);
    const d = decodePngForTest(png);
    expect(d.chunkTypes).toEqual(['IHDR', 'IDAT', 'IEND']);
    expect([d.width, d.height, d.bitDepth, d.colorType]).toEqual([37, 23, 8, 2]);
    expect(Buffer.from(d.pixels).equals(Buffer.from(img.data))).toBe(true);
  });

  it('encodes RGBA as colour type 6', () => {
    const img = image(5, 4, 4, (x, y, c) => (c === 3 ? 128 : x * 50 + y * 3));
    const d = decodePngForTest(encodePng(img));
    expect(d.colorType).toBe(6);
    expect(Buffer.from(d.pixels).equals(Buffer.from(img.data))).toBe(true);
  });

  it('round-trips random noise and flat areas (every filter gets used)', () => {
    let seed = 7;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
    const img = image(64, 48, 3, (x, y) => (y < 16 ? rand() : y < 32 ? 40 : x * 4));
    const png = encodePng(img);
    expect(Buffer.from(decodePngForTest(png).pixels).equals(Buffer.from(img.data))).toBe(true);
    // The flat lower part compresses: far smaller than the raw bytes.
    expect(png.length).toBeLessThan(img.data.length);
  });

  it('refuses sizes that do not match the buffer', () => {
    expect(() => encodePng({ width: 2, height: 2, channels: 3, data: new Uint8Array(11) })).toThrow(/expected 12/);
    expect(() => encodePng({ width: 0, height: 2, channels: 3, data: new Uint8Array(0) })).toThrow(RangeError);
  });
});

describe('decodePpm', () => {
  it('reads a P6 image with comments in the header', () => {
    const header = Buffer.from('P6\n# written by QEMU\n3 2\n255\n', 'latin1');
    const pixels = Buffer.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const img = decodePpm(Buffer.concat([header, pixels]));
    expect([img.width, img.height, img.channels]).toEqual([3, 2, 3]);
    expect(Buffer.from(img.data).equals(pixels)).toBe(true);
  });

  it('scales maxval other than 255 and 16-bit samples', () => {
    const small = decodePpm(Buffer.concat([Buffer.from('P6 1 1 15\n'), Buffer.from([15, 0, 5])]));
    expect([...small.data]).toEqual([255, 0, 85]);
    const wide = decodePpm(Buffer.concat([Buffer.from('P6 1 1 65535\n'), Buffer.from([0xff, 0xff, 0, 0, 0x80, 0])]));
    expect([...wide.data]).toEqual([255, 0, 128]);
  });

  it('refuses other formats and short data', () => {
    expect(() => decodePpm(Buffer.from('P3 1 1 255\n0 0 0\n'))).toThrow(/binary PPM/);
    expect(() => decodePpm(Buffer.concat([Buffer.from('P6 2 2 255\n'), Buffer.alloc(5)]))).toThrow(/short/);
    expect(() => decodePpm(Buffer.from('P6 2'))).toThrow();
  });
});
