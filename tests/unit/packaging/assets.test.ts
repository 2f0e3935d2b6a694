// The committed assets: every app icon electron-builder.yml names exists in the format its
// installer needs, and every OS family the library can show has its drawing in assets/os,
// which the renderer's one sprite is built from.
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { createElement, type ComponentType } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { PRESET_IDS, type PresetId } from '../../../src-shared/os-presets';

const require = createRequire(import.meta.url);
const yaml = require('js-yaml') as { load(text: string): unknown };
const config = yaml.load(readFileSync('electron-builder.yml', 'utf8')) as {
  directories?: { buildResources?: string };
  linux?: { icon?: string };
  mac?: { icon?: string };
  win?: { icon?: string };
};

/** Where electron-builder finds a configured resource: under buildResources first, else the project. */
function resourcePath(p: string | undefined): string {
  expect(p, 'an icon key in electron-builder.yml is unset').toBeTypeOf('string');
  const underResources = path.resolve(config.directories?.buildResources ?? 'build', p as string);
  return existsSync(underResources) ? underResources : path.resolve(p as string);
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Width and height from a PNG's IHDR chunk (PNG spec §11.2.2), after checking the signature. */
function pngSize(data: Buffer, what: string): { width: number; height: number } {
  expect(data.subarray(0, 8).equals(PNG_SIGNATURE), `${what} has no PNG signature`).toBe(true);
  expect(data.toString('latin1', 12, 16), `${what}: first chunk is not IHDR`).toBe('IHDR');
  return { width: data.readUInt32BE(16), height: data.readUInt32BE(20) };
}

const JP2_SIGNATURE = Buffer.from([0, 0, 0, 0x0c, 0x6a, 0x50, 0x20, 0x20, 0x0d, 0x0a, 0x87, 0x0a]);

/** Size of an icns element's image: PNG, or JPEG 2000 as png2icns writes (ISO 15444-1 §I.5.3.1 ihdr). */
function imageSize(data: Buffer, what: string): { width: number; height: number } {
  if (!data.subarray(0, 12).equals(JP2_SIGNATURE)) return pngSize(data, what);
  const ihdr = data.indexOf('ihdr', 12, 'latin1');
  expect(ihdr, `${what}: JPEG 2000 image without an ihdr box`).toBeGreaterThan(0);
  return { width: data.readUInt32BE(ihdr + 8), height: data.readUInt32BE(ihdr + 4) };
}

describe('app icons referenced by electron-builder.yml', () => {
  it('linux.icon is a folder of square PNGs named for their size, 16 up to 512', () => {
    const dir = resourcePath(config.linux?.icon);
    expect(statSync(dir).isDirectory()).toBe(true);
    const sizes: number[] = [];
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.png'))) {
      const m = /^(\d+)x(\d+)\.png$/.exec(name);
      expect(m, `${name}: electron-builder reads Linux icon sizes from names like 64x64.png`).not.toBeNull();
      const { width, height } = pngSize(readFileSync(path.join(dir, name)), name);
      expect({ width, height }, name).toEqual({ width: Number(m?.[1]), height: Number(m?.[2]) });
      expect(width).toBe(height);
      sizes.push(width);
    }
    expect(sizes.sort((a, b) => a - b)).toEqual(expect.arrayContaining([16, 24, 32, 48, 64, 128, 256, 512]));
  });

  it('win.icon is an ICO holding 16, 24, 32, 48, 64, 128 and 256, each entry inside the file', () => {
    const file = resourcePath(config.win?.icon);
    expect(file.endsWith('.ico')).toBe(true);
    const data = readFileSync(file);
    // ICONDIR: reserved 0, type 1 (icon), count; then 16-byte ICONDIRENTRYs.
    expect(data.readUInt16LE(0)).toBe(0);
    expect(data.readUInt16LE(2)).toBe(1);
    const count = data.readUInt16LE(4);
    const sizes: number[] = [];
    for (let i = 0; i < count; i++) {
      const e = 6 + i * 16;
      const width = data[e] || 256; // 0 means 256
      const height = data[e + 1] || 256;
      const bytes = data.readUInt32LE(e + 8);
      const offset = data.readUInt32LE(e + 12);
      expect(offset + bytes, `ICO entry ${width}x${height} runs past the file`).toBeLessThanOrEqual(data.length);
      const image = data.subarray(offset, offset + bytes);
      // Each image is a PNG or a BMP without its file header (BITMAPINFOHEADER, 40 bytes).
      if (image.subarray(0, 8).equals(PNG_SIGNATURE)) {
        expect(pngSize(image, `ICO entry ${width}`)).toEqual({ width, height });
      } else {
        expect(image.readUInt32LE(0), `ICO entry ${width}x${height} is neither PNG nor BMP`).toBe(40);
        expect(image.readInt32LE(4)).toBe(width);
      }
      expect(width).toBe(height);
      sizes.push(width);
    }
    expect(sizes.sort((a, b) => a - b)).toEqual([16, 24, 32, 48, 64, 128, 256]);
  });

  it('mac.icon is an icns whose length matches the file and which holds 256 and 512 images', () => {
    const file = resourcePath(config.mac?.icon);
    const data = readFileSync(file);
    expect(data.toString('latin1', 0, 4)).toBe('icns');
    expect(data.readUInt32BE(4)).toBe(data.length);
    const types: string[] = [];
    for (let at = 8; at < data.length;) {
      const len = data.readUInt32BE(at + 4);
      expect(len, 'an icns element has a bad length').toBeGreaterThanOrEqual(8);
      types.push(data.toString('latin1', at, at + 4));
      const type = types.at(-1) ?? '';
      if (type === 'ic08' || type === 'ic09') {
        const want = type === 'ic08' ? 256 : 512;
        expect(imageSize(data.subarray(at + 8, at + len), type)).toEqual({ width: want, height: want });
      }
      at += len;
    }
    expect(types).toEqual(expect.arrayContaining(['ic08', 'ic09']));
  });

  it('the committed icons stay small (under 300 KB together)', () => {
    const dir = path.resolve('assets/icons');
    const files = [
      ...readdirSync(path.join(dir, 'png')).map((n) => path.join(dir, 'png', n)),
      ...readdirSync(dir)
        .filter((n) => /\.(ico|icns|png)$/.test(n))
        .map((n) => path.join(dir, n)),
    ];
    const total = files.reduce((sum, f) => sum + statSync(f).size, 0);
    expect(total).toBeLessThan(300 * 1024);
  });
});

interface OsIconModule {
  osIconOf(os: PresetId | null): string;
  OsIconSprite: ComponentType;
}

describe('OS logos in assets/os', () => {
  // A computed specifier: the tests' tsconfig has no JSX or Vite types, and Vitest (Vite)
  // compiles the component and its `?raw` imports itself.
  const load = async () =>
    (await import(/* @vite-ignore */ '../../../src-renderer/components/' + 'OsIcon.tsx')) as OsIconModule;

  it('every family the library and wizard can show has an SVG drawing with a viewBox', async () => {
    const { osIconOf } = await load();
    const families = new Set([...PRESET_IDS, null].map((os) => osIconOf(os)));
    expect(families.size).toBeGreaterThanOrEqual(5);
    for (const family of families) {
      const file = path.resolve('assets/os', `${family}.svg`);
      expect(existsSync(file), `${family} has no assets/os/${family}.svg`).toBe(true);
      const svg = readFileSync(file, 'utf8');
      expect(svg).toMatch(/<svg\b[^>]*\bviewBox="[^"]+"/);
      // One page-wide sprite: ids would collide, and nothing may run or load from elsewhere.
      expect(svg).not.toMatch(/<script|\son\w+=|\bid=|href=|url\(/i);
    }
  });

  it("the page's sprite has one symbol per family, drawn from its assets/os file", async () => {
    const { osIconOf, OsIconSprite } = await load();
    const html = renderToStaticMarkup(createElement(OsIconSprite));
    for (const family of new Set([...PRESET_IDS, null].map((os) => osIconOf(os)))) {
      const symbol = new RegExp(`<symbol id="os-${family}" viewBox="([^"]+)">([\\s\\S]*?)</symbol>`).exec(html);
      expect(symbol, `no symbol os-${family} in the sprite`).not.toBeNull();
      const svg = readFileSync(path.resolve('assets/os', `${family}.svg`), 'utf8');
      expect(svg).toContain(`viewBox="${symbol?.[1]}"`);
      // Every shape of the file is in the symbol (the file is the one source of the drawing).
      const shapes = svg.match(/<(rect|path|circle|ellipse|polygon|line)\b[^>]*\/>/g) ?? [];
      expect(shapes.length).toBeGreaterThan(0);
      for (const shape of shapes) expect(symbol?.[2]).toContain(shape);
    }
  });
});
