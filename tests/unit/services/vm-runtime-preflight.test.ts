// The launcher's pre-start checks for QEMU VMs: each missing or unfit piece is refused with
// what happened and what to do (QEMU, OVMF, swtpm, CPUs, memory, disk files, the CD image).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VmConfig } from '../../../src-shared/vm-config';
import { checkVmCanRun } from '../../../src-main/services/vm-runtime/preflight';
import { hostInfo } from './host-probe/host-info-fixture';

const ID = '0f1e2d3c-4b5a-4697-8899-aabbccddeeff';

describe('checkVmCanRun (qemu)', () => {
  let folder = '';
  let config: VmConfig;
  const host = hostInfo();

  beforeAll(async () => {
    folder = await mkdtemp(path.join(os.tmpdir(), 'maru-checks-'));
    await mkdir(path.join(folder, 'disks'));
    await writeFile(path.join(folder, 'disks', 'disk0.qcow2'), 'QFI\xfb');
    await writeFile(path.join(folder, 'junk.iso'), Buffer.alloc(40_000, 1));
    config = {
      schemaVersion: 4,
      id: ID,
      name: 'vm',
      os: 'linux64',
      engine: 'qemu',
      cpus: 1,
      memoryMiB: 128,
      chipset: 'q35',
      firmware: 'uefi',
      secureBoot: true,
      tpm: true,
      disks: [{ id: 'disk0', file: 'disks/disk0.qcow2', bus: 'ahci', sizeBytes: 1 << 30 }],
      cdroms: [{ id: 'cd0', iso: null, bus: 'ahci' }],
      floppies: [],
      bootOrder: ['disk'],
      nics: [{ attachment: 'nat', model: 'e1000e', cableConnected: true, portForwards: [] }],
      display: { vga: 'std' },
      description: '',
      createdAt: '2025-01-01T00:00:00.000Z',
      modifiedAt: '2025-01-01T00:00:00.000Z',
    };
  });
  afterAll(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  it('accepts a VM this host can run, and picks QEMU', async () => {
    await expect(checkVmCanRun(config, folder, host)).resolves.toMatchObject({ engine: 'qemu' });
  });

  it('refuses what is missing, saying what to do', async () => {
    const noQemu = hostInfo({ qemu: { binaries: [], img: null, versionOk: false } });
    await expect(checkVmCanRun(config, folder, noQemu)).rejects.toMatchObject({
      code: 'MISSING_DEPENDENCY',
      message: expect.stringMatching(/QEMU is not installed\. Install QEMU 6\.2 or newer/),
    });
    const old = hostInfo({
      qemu: {
        binaries: [{ name: 'qemu-system-x86_64', path: '/opt/q/qemu-system-x86_64', version: '6.1.0' }],
        img: null,
        versionOk: false,
      },
    });
    await expect(checkVmCanRun(config, folder, old)).rejects.toThrow(
      /QEMU 6\.1\.0 at \/opt\/q\/qemu-system-x86_64 is older than 6\.2/,
    );
    const noSb = hostInfo({ firmware: { ...host.firmware, ovmfSecureBoot: null } });
    await expect(checkVmCanRun(config, folder, noSb)).rejects.toThrow(/--no-secure-boot/);
    const noOvmf = hostInfo({ firmware: { ...host.firmware, ovmf: null } });
    await expect(checkVmCanRun({ ...config, secureBoot: false }, folder, noOvmf)).rejects.toThrow(/--firmware bios/);
    await expect(checkVmCanRun(config, folder, hostInfo({ swtpm: null }))).rejects.toThrow(/--no-tpm/);
  });

  it('refuses more CPUs or memory than the host can give now', async () => {
    await expect(checkVmCanRun({ ...config, cpus: 64 }, folder, host)).rejects.toMatchObject({
      code: 'HOST_LIMIT',
      message: expect.stringMatching(/has 64 CPUs, but this host has 2 cores/),
    });
    const huge = Math.floor(os.totalmem() / 2 ** 20) * 2;
    await expect(checkVmCanRun({ ...config, memoryMiB: huge }, folder, host)).rejects.toMatchObject({
      code: 'HOST_LIMIT',
      message: expect.stringMatching(
        new RegExp(`needs ${huge} MiB of memory, but this host has only \\d+ MiB available now`),
      ),
    });
  });

  it('refuses a missing disk file and a CD image that is not ISO 9660', async () => {
    const gone = { ...config, disks: [{ id: 'disk1', file: 'disks/gone.qcow2', bus: 'ahci' as const, sizeBytes: 1 }] };
    await expect(checkVmCanRun(gone, folder, host)).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringMatching(/Disk disk1 of VM "vm" is missing/),
    });
    const junk = { ...config, cdroms: [{ id: 'cd0', iso: path.join(folder, 'junk.iso'), bus: 'ahci' as const }] };
    await expect(checkVmCanRun(junk, folder, host)).rejects.toThrow(
      /cannot start with the image in CD\/DVD drive cd0: .*junk\.iso is not a CD\/DVD image/,
    );
  });
});
