// HostInfo values for renderer tests: this kind of host (QEMU with TCG only, SMM under TCG,
// swtpm and OVMF present), and variations of it.
import type { VmHostLimits } from '../../../src-shared/contracts/host';
import type { HostInfo } from '../../../src-shared/host-info';

export const LIMITS: VmHostLimits = {
  cores: 4,
  totalMemoryMiB: 16384,
  maxVmMemoryMiB: 15360,
  reserveMiB: 1024,
  minVmMemoryMiB: 4,
  v86MaxMemoryMiB: 2048,
};

export const HOST: HostInfo = {
  probeVersion: 1,
  probedAt: '2026-01-01T00:00:00.000Z',
  platform: 'linux',
  arch: 'x64',
  cpuModel: 'Test CPU',
  cores: 4,
  totalMemoryBytes: 16 * 1024 ** 3,
  freeMemoryBytes: 8 * 1024 ** 3,
  qemu: {
    binaries: [{ name: 'qemu-system-x86_64', path: '/usr/bin/qemu-system-x86_64', version: '7.2.22' }],
    img: { path: '/usr/bin/qemu-img', version: '7.2.22' },
    versionOk: true,
  },
  firmware: {
    ovmf: { code: '/usr/share/OVMF/OVMF_CODE_4M.fd', vars: '/usr/share/OVMF/OVMF_VARS_4M.fd' },
    ovmfSecureBoot: { code: '/usr/share/OVMF/OVMF_CODE_4M.ms.fd', vars: '/usr/share/OVMF/OVMF_VARS_4M.ms.fd' },
    seabios: { bios: '/usr/share/seabios/bios-256k.bin', vgabios: null },
  },
  swtpm: { path: '/usr/bin/swtpm', version: '0.7.1' },
  dataFolder: { path: '/tmp', storage: 'ssd', device: null },
  accelerators: [
    { name: 'kvm', present: true, usable: true, smm: true, cpuModel: 'host', reason: 'ok', probeMs: 100 },
    { name: 'tcg', present: true, usable: true, smm: true, cpuModel: 'max', reason: 'ok', probeMs: 100 },
  ],
  accelerator: 'kvm',
  secureBootAccelerator: 'kvm',
  findings: [],
};

export function hostWith(patch: Partial<HostInfo>): HostInfo {
  return { ...HOST, ...patch };
}
