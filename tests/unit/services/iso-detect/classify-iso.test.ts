// The pure parts of detection: El Torito catalogs (valid, bad checksum, UEFI sections), and
// the label / build-branch rules for Windows media.
import { describe, expect, it } from 'vitest';
import { parseBootCatalog } from '../../../../src-main/services/iso-detect/iso9660';
import { windowsByBranch, windowsByLabel } from '../../../../src-main/services/iso-detect/classify-iso';
import { parseWimXml, wimXmlLocation } from '../../../../src-main/services/iso-detect/wim-info';
import { wimStub, windowsXml } from './iso-builders';

/** A catalog: validation entry for `platform`, a default entry, then optional sections. */
function catalog(platform: number, defaultBootable: boolean, sections: { platform: number; bootable: boolean[] }[]) {
  const buf = Buffer.alloc(2048);
  buf[0] = 1;
  buf[1] = platform;
  buf[30] = 0x55;
  buf[31] = 0xaa;
  let sum = 0;
  for (let i = 0; i < 32; i += 2) sum = (sum + buf.readUInt16LE(i)) & 0xffff;
  buf.writeUInt16LE((0x10000 - sum) & 0xffff, 28);
  buf[32] = defaultBootable ? 0x88 : 0;
  let off = 64;
  sections.forEach((s, i) => {
    buf[off] = i === sections.length - 1 ? 0x91 : 0x90;
    buf[off + 1] = s.platform;
    buf.writeUInt16LE(s.bootable.length, off + 2);
    off += 32;
    for (const b of s.bootable) {
      buf[off] = b ? 0x88 : 0;
      off += 32;
    }
  });
  return buf;
}

describe('El Torito boot catalog', () => {
  it('BIOS default entry + UEFI section', () => {
    expect(parseBootCatalog(catalog(0, true, [{ platform: 0xef, bootable: [true] }]))).toEqual({
      bios: true,
      uefi: true,
      platforms: [0, 0xef],
    });
  });
  it('UEFI only (validation platform 0xEF)', () => {
    expect(parseBootCatalog(catalog(0xef, true, []))).toMatchObject({ bios: false, uefi: true });
  });
  it('non-bootable entries do not count', () => {
    expect(parseBootCatalog(catalog(0, false, [{ platform: 0xef, bootable: [false] }]))).toMatchObject({
      bios: false,
      uefi: false,
    });
  });
  it('a bad checksum or key is no catalog', () => {
    const c = catalog(0, true, []);
    c[28] = (c[28]! + 1) & 0xff;
    expect(parseBootCatalog(c)).toBeNull();
    const d = catalog(0, true, []);
    d[31] = 0;
    expect(parseBootCatalog(d)).toBeNull();
  });
});

describe('Windows rules', () => {
  it('labels', () => {
    expect(windowsByLabel('Win11_23H2_English_x64')).toEqual({ preset: 'windows11', confidence: 'medium' });
    expect(windowsByLabel('WIN10_22H2')).toEqual({ preset: 'windows10', confidence: 'medium' });
    expect(windowsByLabel('GSP1RMCULFRER_EN_DVD')).toEqual({ preset: 'windows7', confidence: 'medium' });
    expect(windowsByLabel('CCCOMA_X64FRE_EN-US_DV9')).toEqual({ preset: 'windows11', confidence: 'low' });
    expect(windowsByLabel('UBUNTU')).toBeNull();
  });
  it('build branches', () => {
    expect(windowsByBranch('ni_release')).toBe('windows11');
    expect(windowsByBranch('ge_release')).toBe('windows11');
    expect(windowsByBranch('vb_release')).toBe('windows10');
    expect(windowsByBranch('rs5_release')).toBe('windows10');
    expect(windowsByBranch('win7sp1_rtm')).toBe('windows7');
    expect(windowsByBranch('winblue_rtm')).toBe('windows10');
    expect(windowsByBranch('mystery')).toBeNull();
  });
  it('WIM header and XML', () => {
    const stub = wimStub(windowsXml('Windows 10 Pro', 19045, 0), 3);
    const loc = wimXmlLocation(stub.subarray(0, 208));
    expect(loc).toMatchObject({ offset: 208, imageCount: 3 });
    const xml = stub.subarray(loc!.offset + 2, loc!.offset + loc!.size).toString('utf16le');
    expect(parseWimXml(xml, 3)).toEqual({
      imageCount: 3,
      names: ['Windows 10 Pro'],
      major: 10,
      minor: 0,
      build: 19045,
      arch: 'x86',
    });
    expect(wimXmlLocation(Buffer.alloc(208))).toBeNull();
  });
});
