// The ISO detector against real media: the fixture ISOs from scripts/build-fixtures.sh (built
// by .ci/run), ISOs mastered here with xorriso and genisoimage (Windows with UDF, XP, FreeDOS,
// plain data), and broken inputs (truncated, empty, not an ISO). Files are never modified.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../../../src-shared/errors';
import { detectIso } from '../../../../src-main/services/iso-detect/detect-iso';
import { hasTool, udfIso, wimStub, windowsXml, writeTree, xorrisoIso } from './iso-builders';
import { declaredIsoSizeMiB } from '../../../fixtures/iso-facts';

const FIXTURES = path.resolve('tests/fixtures/build');
const fixture = (name: string) => path.join(FIXTURES, name);
const haveFixtures = existsSync(fixture('maru-test-bios-uefi.iso'));
const haveXorriso = hasTool('xorriso');
const haveGenisoimage = hasTool('genisoimage');

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'maru-iso-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

async function expectError(p: Promise<unknown>, re: RegExp): Promise<AppError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  expect((err as AppError).message).toMatch(re);
  return err as AppError;
}

function sha(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** A boot image for El Torito entries (xorriso does not look inside it). */
const BOOT_IMG = Buffer.alloc(2048, 0x90);

// Fixture ISOs are built by `npm run fixtures` (scripts/build-fixtures.sh), which .ci/run runs first.
describe.skipIf(!haveFixtures)('fixture ISOs (scripts/build-fixtures.sh; .ci/run builds them)', () => {
  it('maru-test-bios-uefi.iso: Linux 64-bit from .disk/info, BIOS + UEFI boot, labels, few bytes read', async () => {
    const file = fixture('maru-test-bios-uefi.iso');
    const before = { hash: sha(file), mtime: statSync(file).mtimeMs };
    const stats = { bytesRead: 0 };
    const d = await detectIso(file, stats);
    expect(d.preset).toBe('linux64');
    expect(d.confidence).toBe('high');
    expect(d.label).toBe('MARU_TEST');
    expect(d.labels).toEqual({ iso9660: 'MARU_TEST', joliet: 'MARU_TEST', udf: null });
    expect(d.filesystems).toEqual(expect.arrayContaining(['iso9660', 'rock-ridge', 'joliet']));
    expect(d.boot).toEqual({ bios: true, uefi: true });
    expect(d.osName).toMatch(/^Maru test medium maru-test-bios-uefi \(amd64/);
    const codes = d.reasons.map((r) => r.code);
    expect(codes).toEqual(
      expect.arrayContaining(['linux-disk-info', 'linux-layout', 'arch', 'boot-bios', 'boot-uefi']),
    );
    expect(d.reasons.find((r) => r.code === 'linux-layout')?.params.dirs).toMatch(/isolinux\/.*boot\/grub\//);
    // A 19 MiB image: the detector reads descriptors, a few folders and .disk/info only.
    expect(stats.bytesRead).toBeLessThan(128 * 1024);
    expect({ hash: sha(file), mtime: statSync(file).mtimeMs }).toEqual(before);
  });

  it('maru-test-i386.iso: Linux 32-bit, BIOS only', async () => {
    const d = await detectIso(fixture('maru-test-i386.iso'));
    expect(d.preset).toBe('linux32');
    expect(d.label).toBe('MARU_TEST_I386');
    expect(d.boot).toEqual({ bios: true, uefi: false });
    expect(d.reasons.find((r) => r.code === 'arch')?.params).toEqual({ arch: 'i386', source: '.disk/info' });
  });

  it('maru-test-secureboot.iso: UEFI-only El Torito (platform 0xEF)', async () => {
    const d = await detectIso(fixture('maru-test-secureboot.iso'));
    expect(d.preset).toBe('linux64');
    expect(d.label).toBe('MARU_TEST_SB');
    expect(d.boot).toEqual({ bios: false, uefi: true });
  });

  it('truncated.iso: says it is truncated, with both sizes', async () => {
    const declared = declaredIsoSizeMiB(fixture('truncated.iso')).replace('.', '\\.');
    await expectError(
      detectIso(fixture('truncated.iso')),
      new RegExp(
        `truncated\\.iso is truncated: its volume descriptor says the image holds ${declared}, but the file has only 40\\.0 KiB`,
      ),
    );
  });

  it('not-an-iso.bin: no CD001 signature at byte 32769', async () => {
    const err = await expectError(
      detectIso(fixture('not-an-iso.bin')),
      /not-an-iso\.bin is not an ISO image \(no CD001 signature at byte 32769\)/,
    );
    expect(err.code).toBe('INVALID_ARGUMENT');
  });
});

describe('broken inputs', () => {
  it('a zero-length file', async () => {
    const f = path.join(tmp, 'empty.iso');
    writeFileSync(f, '');
    await expectError(detectIso(f), /empty\.iso is empty \(0 bytes\): it is not an ISO image/);
  });

  it('a file too short to hold volume descriptors, with what it looks like', async () => {
    const f = path.join(tmp, 'small.iso');
    writeFileSync(f, Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(100)]));
    await expectError(
      detectIso(f),
      /small\.iso is not an ISO image \(it has only 104 bytes; an ISO image keeps its volume descriptors at byte 32768\); it looks like a ZIP archive/,
    );
  });

  it('a qcow2 disk image named .iso', async () => {
    const f = path.join(tmp, 'disk.iso');
    writeFileSync(f, Buffer.concat([Buffer.from('QFI\xfb', 'latin1'), Buffer.alloc(64 * 1024)]));
    await expectError(detectIso(f), /no CD001 signature at byte 32769\); it looks like a qcow2 disk image/);
  });

  it('a missing file and a folder', async () => {
    const missing = await expectError(detectIso(path.join(tmp, 'nope.iso')), /does not exist/);
    expect(missing.code).toBe('NOT_FOUND');
    await expectError(detectIso(tmp), /is a folder, not an ISO image/);
  });

  it.skipIf(!haveXorriso)('an ISO cut short inside its directory data', async () => {
    const dir = writeTree(path.join(tmp, 'cut'), { 'big.bin': Buffer.alloc(3 * 1024 * 1024, 1), 'a/b.txt': 'x' });
    const full = xorrisoIso(path.join(tmp, 'cut-full.iso'), 'CUT', dir);
    const cut = path.join(tmp, 'cut.iso');
    writeFileSync(cut, readFileSync(full).subarray(0, 1024 * 1024));
    await expectError(detectIso(cut), /cut\.iso is truncated: .* but the file has only 1\.0 MiB/);
  });
});

describe.skipIf(!haveXorriso)('ISOs mastered with xorriso (package xorriso)', () => {
  it('Windows 11 installer: sources/install.wim naming build 22631', async () => {
    const dir = writeTree(path.join(tmp, 'win11'), {
      'sources/install.wim': wimStub(windowsXml('Windows 11 Pro', 22631), 1),
      'sources/boot.wim': wimStub(windowsXml('Microsoft Windows Setup (amd64)', 22631), 2),
      'setup.exe': 'MZ',
      'efi/boot/bootx64.efi': 'MZ',
      'boot/etfsboot.com': BOOT_IMG,
      'efi/microsoft/boot/efisys.bin': BOOT_IMG,
    });
    const iso = xorrisoIso(path.join(tmp, 'win11.iso'), 'CCCOMA_X64FRE_EN-US_DV9', dir, [
      '-c',
      'boot/boot.cat',
      '-b',
      'boot/etfsboot.com',
      '-no-emul-boot',
      '-boot-load-size',
      '4',
      '-eltorito-alt-boot',
      '-e',
      'efi/microsoft/boot/efisys.bin',
      '-no-emul-boot',
    ]);
    const d = await detectIso(iso);
    expect(d.preset).toBe('windows11');
    expect(d.confidence).toBe('high');
    expect(d.osName).toBe('Windows 11 Pro');
    expect(d.boot).toEqual({ bios: true, uefi: true });
    expect(d.reasons[0]).toMatchObject({ code: 'windows-installer', params: { file: 'sources/install.wim' } });
    expect(d.reasons[1]).toMatchObject({
      code: 'windows-image-info',
      params: { build: '22631', name: 'Windows 11 Pro' },
    });
  });

  it('Windows 10 (install.esd, build 19045) and Windows 7 (idwbinfo branch, unreadable image)', async () => {
    const w10 = writeTree(path.join(tmp, 'win10'), {
      'sources/install.esd': wimStub(windowsXml('Windows 10 Home', 19045), 1),
    });
    const d10 = await detectIso(xorrisoIso(path.join(tmp, 'win10.iso'), 'CCCOMA_X64FRE_EN-US_DV9', w10));
    expect(d10.preset).toBe('windows10');
    expect(d10.reasons[0]?.params.file).toBe('sources/install.esd');

    const w7 = writeTree(path.join(tmp, 'win7'), {
      'sources/install.wim': Buffer.alloc(8192, 7),
      'sources/idwbinfo.txt': '[BUILDINFO]\r\nBuildArch=amd64\r\nBuildBranch=win7sp1_rtm\r\nBuildType=fre\r\n',
    });
    const d7 = await detectIso(xorrisoIso(path.join(tmp, 'win7.iso'), 'GRMCULFRER_EN_DVD', w7));
    expect(d7.preset).toBe('windows7');
    expect(d7.reasons.map((r) => r.code)).toContain('windows-build-branch');
    expect(d7.boot).toEqual({ bios: false, uefi: false });
    expect(d7.reasons.map((r) => r.code)).toContain('no-boot');
  });

  it('Windows media known only by label: consumer media label → Windows 11 preset, low confidence', async () => {
    const dir = writeTree(path.join(tmp, 'winlabel'), { 'sources/install.swm': Buffer.alloc(100) });
    const d = await detectIso(xorrisoIso(path.join(tmp, 'winlabel.iso'), 'CCCOMA_X64FRE_EN-US_DV9', dir));
    expect(d.preset).toBe('windows11');
    expect(d.confidence).toBe('low');
    expect(d.reasons.map((r) => r.code)).toEqual(expect.arrayContaining(['windows-installer', 'windows-label']));
  });

  it('Windows XP: I386 folder with TXTSETUP.SIF and WIN51 in the root', async () => {
    const dir = writeTree(path.join(tmp, 'xp'), {
      'I386/TXTSETUP.SIF': '[Version]',
      WIN51: '',
      WIN51IP: '',
      'SETUP.EXE': 'MZ',
    });
    const d = await detectIso(xorrisoIso(path.join(tmp, 'xp.iso'), 'WXPFPP_EN', dir));
    expect(d.preset).toBe('windowsxp');
    expect(d.confidence).toBe('high');
  });

  it('FreeDOS: FREEDOS folder, FD13 label, BIOS El Torito', async () => {
    const dir = writeTree(path.join(tmp, 'fd'), {
      'FREEDOS/PACKAGES/BASE/COMMAND.ZIP': 'PK',
      'ISOLINUX/ISOLINUX.BIN': BOOT_IMG,
      'SETUP.BAT': '@echo off',
    });
    const d = await detectIso(
      xorrisoIso(path.join(tmp, 'fd.iso'), 'FD13-LIVE', dir, [
        '-c',
        'ISOLINUX/BOOT.CAT',
        '-b',
        'ISOLINUX/ISOLINUX.BIN',
        '-no-emul-boot',
        '-boot-load-size',
        '4',
      ]),
    );
    expect(d.preset).toBe('dos');
    expect(d.osName).toBe('FreeDOS');
    expect(d.boot).toEqual({ bios: true, uefi: false });
  });

  it('a live Linux medium without .disk/info: casper + a 64-bit EFI loader', async () => {
    const dir = writeTree(path.join(tmp, 'live'), {
      'casper/vmlinuz': 'k',
      'EFI/BOOT/BOOTX64.EFI': 'MZ',
      'boot/grub/grub.cfg': '',
    });
    const d = await detectIso(xorrisoIso(path.join(tmp, 'live.iso'), 'Ubuntu 24.04 LTS amd64', dir));
    expect(d.preset).toBe('linux64');
    expect(d.reasons.find((r) => r.code === 'linux-layout')?.params.dirs).toBe('casper/, boot/grub/');
  });

  it('a data disc: no known files, not bootable → other, low', async () => {
    const dir = writeTree(path.join(tmp, 'data'), { 'photos/a.jpg': 'x', 'readme.txt': 'hello' });
    const d = await detectIso(xorrisoIso(path.join(tmp, 'data.iso'), 'HOLIDAY', dir));
    expect(d).toMatchObject({
      preset: 'other',
      confidence: 'low',
      label: 'HOLIDAY',
      boot: { bios: false, uefi: false },
    });
    expect(d.reasons.map((r) => r.code)).toEqual(['unknown', 'no-boot']);
  });

  it('Joliet keeps long, mixed-case names and the Unicode label', async () => {
    const dir = writeTree(path.join(tmp, 'joliet'), {
      '.disk/info': 'Debian GNU/Linux 12.4.0 "Bookworm" - Official i386 NETINST',
    });
    const d = await detectIso(xorrisoIso(path.join(tmp, 'joliet.iso'), '데비안 12.4 i386 설치', dir));
    // Joliet's volume id is 16 UCS-2 characters (32 bytes); the PVD's keeps only a-characters.
    expect(d.labels.joliet).toBe('데비안 12.4 i386 설치');
    expect(d.label).toBe(d.labels.joliet);
    expect(d.preset).toBe('linux32');
    expect(d.osName).toBe('Debian GNU/Linux 12.4.0 "Bookworm" - Official i386 NETINST');
  });
});

describe.skipIf(!haveGenisoimage)('UDF media mastered with genisoimage -udf (package genisoimage)', () => {
  it('Windows files only in the UDF tree: found through UDF, UDF label reported', async () => {
    const dir = writeTree(path.join(tmp, 'udf'), {
      'sources/install.wim': wimStub(windowsXml('Windows 11 Enterprise', 26100), 1),
      'sources/idwbinfo.txt': '[BUILDINFO]\nBuildBranch=ge_release\n',
      'README.TXT': 'This disc contains a "UDF" file system.',
    });
    // -hide removes the files from the ISO 9660 tree: only the UDF tree holds them (as on real Windows media).
    const iso = udfIso(path.join(tmp, 'udf.iso'), 'CCCOMA_X64FRE_EN-US_DV9', dir, [
      '-hide',
      'install.wim',
      '-hide',
      'idwbinfo.txt',
    ]);
    const d = await detectIso(iso);
    expect(d.filesystems).toContain('udf');
    expect(d.labels.udf).toBe('CCCOMA_X64FRE_EN-US_DV9');
    expect(d.preset).toBe('windows11');
    expect(d.osName).toBe('Windows 11 Enterprise');
    expect(d.reasons[1]?.params.build).toBe('26100');
  });
});
