// Firmware lookup: QEMU share folders per OS, QEMU firmware descriptors (real files in a
// temp folder), and what this host has.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  findFirmware,
  firmwarePaths,
  pairsFromDescriptors,
  qemuShareDirs,
} from '../../../../src-main/services/host-probe/firmware-discovery';

describe('qemuShareDirs', () => {
  it('looks next to the QEMU binaries and in the OS folders', () => {
    expect(qemuShareDirs('darwin', ['/opt/homebrew/bin/qemu-system-x86_64'])).toEqual([
      '/opt/homebrew/share/qemu',
      '/usr/local/share/qemu',
    ]);
    expect(qemuShareDirs('win32', ['C:\\Program Files\\qemu\\qemu-system-x86_64.exe'])).toEqual([
      'C:\\Program Files\\qemu\\share',
    ]);
    expect(qemuShareDirs('linux', [])).toEqual(['/usr/share/qemu', '/usr/local/share/qemu']);
  });
});

describe('firmware descriptors', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'maru-fw-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const descriptor = (code: string, vars: string, features: string[], arch = 'x86_64', format = 'raw') =>
    JSON.stringify({
      'interface-types': ['uefi'],
      mapping: {
        device: 'flash',
        executable: { filename: code, format },
        'nvram-template': { filename: vars, format },
      },
      targets: [{ architecture: arch, machines: ['pc-q35-*'] }],
      features,
    });

  it('sorts Secure Boot from plain builds and skips foreign ones', async () => {
    const fw = path.join(dir, 'firmware');
    await mkdir(fw);
    await writeFile(
      path.join(fw, '40-secure.json'),
      descriptor('/s/code', '/s/vars', ['secure-boot', 'enrolled-keys', 'requires-smm']),
    );
    await writeFile(
      path.join(fw, '50-secure-empty.json'),
      descriptor('/e/code', '/e/vars', ['secure-boot', 'requires-smm']),
    );
    await writeFile(path.join(fw, '60-plain.json'), descriptor('/p/code', '/p/vars', ['acpi-s3', 'amd-sev']));
    await writeFile(path.join(fw, '70-sev-es.json'), descriptor('/x/code', '/x/vars', ['amd-sev-es']));
    await writeFile(path.join(fw, '80-aarch64.json'), descriptor('/a/code', '/a/vars', [], 'aarch64'));
    await writeFile(path.join(fw, '90-qcow2.json'), descriptor('/q/code', '/q/vars', [], 'x86_64', 'qcow2'));
    await writeFile(path.join(fw, '95-broken.json'), '{ not json');
    const found = await pairsFromDescriptors([fw, path.join(dir, 'missing')]);
    expect(found.secure).toEqual([{ code: '/s/code', vars: '/s/vars' }]);
    expect(found.plain).toEqual([{ code: '/p/code', vars: '/p/vars' }]);
  });

  it('uses QEMU’s bundled edk2 files from a share folder', async () => {
    for (const name of ['edk2-x86_64-code.fd', 'edk2-x86_64-secure-code.fd', 'edk2-i386-vars.fd', 'bios-256k.bin']) {
      await writeFile(path.join(dir, name), 'x');
    }
    const found = await findFirmware('darwin', [dir]);
    expect(found.ovmf).toEqual({
      code: path.join(dir, 'edk2-x86_64-code.fd'),
      vars: path.join(dir, 'edk2-i386-vars.fd'),
    });
    expect(found.ovmfSecureBoot?.code).toBe(path.join(dir, 'edk2-x86_64-secure-code.fd'));
    expect(found.seabios).toEqual({ bios: path.join(dir, 'bios-256k.bin'), vgabios: null });
    expect(firmwarePaths(found)).toHaveLength(6);
  });
});

describe('this host', () => {
  it.skipIf(!existsSync('/usr/share/OVMF/OVMF_CODE_4M.ms.fd'))('finds Debian’s 4M OVMF pairs and SeaBIOS', async () => {
    const found = await findFirmware('linux', qemuShareDirs('linux', ['/usr/bin/qemu-system-x86_64']));
    expect(found.ovmf).toEqual({ code: '/usr/share/OVMF/OVMF_CODE_4M.fd', vars: '/usr/share/OVMF/OVMF_VARS_4M.fd' });
    expect(found.ovmfSecureBoot).toEqual({
      code: '/usr/share/OVMF/OVMF_CODE_4M.ms.fd',
      vars: '/usr/share/OVMF/OVMF_VARS_4M.ms.fd',
    });
    expect(found.seabios?.bios).toBe('/usr/share/seabios/bios-256k.bin');
    expect(found.seabios?.vgabios).toBe('/usr/share/seabios/vgabios-stdvga.bin');
  });
});
