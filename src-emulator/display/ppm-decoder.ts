// Decodes binary PPM (P6, Netpbm) images — what QEMU's `screendump` writes — into RGB bytes.
import type { RawImage } from './png-encoder';

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d || b === 0x0b || b === 0x0c;
}

/** Parses a P6 image with maxval ≤ 255 (16-bit samples are scaled down). Throws on anything else. */
export function decodePpm(bytes: Uint8Array): RawImage {
  let pos = 0;
  const token = (): string => {
    // Skip whitespace and `#` comments between header fields.
    for (;;) {
      while (pos < bytes.length && isSpace(bytes[pos]!)) pos++;
      if (bytes[pos] === 0x23) {
        while (pos < bytes.length && bytes[pos] !== 0x0a && bytes[pos] !== 0x0d) pos++;
        continue;
      }
      break;
    }
    const start = pos;
    while (pos < bytes.length && !isSpace(bytes[pos]!)) pos++;
    if (start === pos) throw new Error('PPM header ends early.');
    return String.fromCharCode(...bytes.subarray(start, pos));
  };
  const magic = token();
  if (magic !== 'P6') throw new Error(`Not a binary PPM image (magic ${JSON.stringify(magic.slice(0, 8))}).`);
  const width = Number(token());
  const height = Number(token());
  const maxval = Number(token());
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`PPM has a bad size ${width}×${height}.`);
  }
  if (!Number.isInteger(maxval) || maxval < 1 || maxval > 65535) throw new Error(`PPM has a bad maxval ${maxval}.`);
  pos++; // the single whitespace byte after maxval
  const samples = width * height * 3;
  const wide = maxval > 255;
  const need = samples * (wide ? 2 : 1);
  if (bytes.length - pos < need) {
    throw new Error(`PPM pixel data is short: ${bytes.length - pos} bytes for ${width}×${height} (need ${need}).`);
  }
  const data = new Uint8Array(samples);
  if (!wide && maxval === 255) {
    data.set(bytes.subarray(pos, pos + samples));
  } else {
    for (let i = 0; i < samples; i++) {
      const s = wide ? (bytes[pos + 2 * i]! << 8) | bytes[pos + 2 * i + 1]! : bytes[pos + i]!;
      data[i] = Math.round((s * 255) / maxval);
    }
  }
  return { width, height, channels: 3, data };
}
