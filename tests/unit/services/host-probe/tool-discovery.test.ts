// Finding host programs and reading their versions: banner parsing, version order, the
// search folders (and the qemuSearchPath override), executables in real temp folders.
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  compareVersions,
  findExecutable,
  isQemuVersionOk,
  parseToolVersion,
  readToolVersion,
  toolSearchDirs,
  wellKnownToolDirs,
} from '../../../../src-main/services/host-probe/tool-discovery';

describe('parseToolVersion', () => {
  it.each([
    ['QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright (c) 2003-2022', '7.2.22'],
    ['QEMU emulator version 8.2.0 (v8.2.0-12045-g3f5e2ca3e2)', '8.2.0'],
    ['QEMU emulator version 5.2.0', '5.2.0'],
    ['QEMU emulator version 6.2', '6.2'],
    ['qemu-img version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)', '7.2.22'],
    ['TPM emulator version 0.7.1, Copyright (c) 2014-2021 IBM Corp.', '0.7.1'],
  ])('reads %j as %s', (banner, version) => {
    expect(parseToolVersion(banner)).toBe(version);
  });

  it('returns null when there is no version', () => {
    expect(parseToolVersion('')).toBeNull();
    expect(parseToolVersion('qemu-system-x86_64: unknown option')).toBeNull();
  });
});

describe('versions', () => {
  it('compares numerically, missing parts as 0', () => {
    expect(compareVersions('6.2', '6.2.0')).toBe(0);
    expect(compareVersions('6.10', '6.2')).toBe(1);
    expect(compareVersions('5.2.0', '6.2')).toBe(-1);
    expect(compareVersions('10.0.0', '9.2.4')).toBe(1);
  });

  it('wants QEMU ≥ 6.2', () => {
    expect(isQemuVersionOk('6.2.0')).toBe(true);
    expect(isQemuVersionOk('7.2.22')).toBe(true);
    expect(isQemuVersionOk('6.1.1')).toBe(false);
    expect(isQemuVersionOk('5.2.0')).toBe(false);
    expect(isQemuVersionOk(null)).toBe(false);
  });
});

describe('search folders', () => {
  it('uses PATH then the usual install folders', () => {
    expect(toolSearchDirs({ platform: 'linux', pathEnv: '/a:/b::/a' }, true)).toEqual(['/a', '/b']);
    expect(toolSearchDirs({ platform: 'darwin', pathEnv: '/usr/bin' }, true)).toEqual([
      '/usr/bin',
      '/opt/homebrew/bin',
      '/usr/local/bin',
      '/opt/local/bin',
    ]);
    expect(wellKnownToolDirs('win32').some((d) => /Program Files.*qemu$/i.test(d))).toBe(true);
  });

  it('lets qemuSearchPath replace PATH for QEMU programs only', () => {
    const search = { platform: 'linux' as const, pathEnv: '/usr/bin', qemuSearchPath: ['/opt/q'] };
    expect(toolSearchDirs(search, true)).toEqual(['/opt/q']);
    expect(toolSearchDirs(search, false)).toEqual(['/usr/bin']);
  });
});

describe('findExecutable', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'maru-tools-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('finds an executable file and skips a non-executable one', async () => {
    const first = path.join(dir, 'first');
    const second = path.join(dir, 'second');
    await mkdir(first);
    await mkdir(second);
    await writeFile(path.join(first, 'qemu-img'), '#!/bin/sh\n'); // not executable
    await writeFile(path.join(second, 'qemu-img'), '#!/bin/sh\necho "qemu-img version 9.1.0"\n');
    await chmod(path.join(second, 'qemu-img'), 0o755);
    const found = await findExecutable('qemu-img', [path.join(dir, 'missing'), first, second], 'linux');
    expect(found?.path).toBe(path.join(second, 'qemu-img'));
    expect(found?.size).toBeGreaterThan(0);
    expect(await readToolVersion(found?.path ?? '')).toBe('9.1.0');
    expect(await findExecutable('qemu-system-x86_64', [first, second], 'linux')).toBeNull();
  });

  it('reads no version from a program that cannot run', async () => {
    expect(await readToolVersion(path.join(dir, 'nothing-here'))).toBeNull();
  });
});
