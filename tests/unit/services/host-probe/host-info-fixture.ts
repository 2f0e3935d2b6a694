// A HostInfo shaped like this development host's (kvm_pvm: KVM present but dying on x87),
// for the findings and report tests; each test overrides what it is about.
import type { HostInfo } from '../../../../src-shared/host-info';
import { buildHostFindings, type HostFacts } from '../../../../src-main/services/host-probe/host-findings';

export const thisHostFacts: HostFacts = {
  probeVersion: 1,
  probedAt: '2025-11-22T19:54:14.123Z',
  platform: 'linux',
  osRelease: '6.18.44-fc-v657',
  arch: 'x64',
  cpuModel: 'AMD EPYC',
  cores: 2,
  totalMemoryBytes: 25_276_510_208,
  freeMemoryBytes: 24_820_973_568,
  qemu: {
    binaries: [
      { name: 'qemu-system-x86_64', path: '/usr/bin/qemu-system-x86_64', version: '7.2.22' },
      { name: 'qemu-system-i386', path: '/usr/bin/qemu-system-i386', version: '7.2.22' },
    ],
    img: { path: '/usr/bin/qemu-img', version: '7.2.22' },
    versionOk: true,
  },
  firmware: {
    ovmf: { code: '/usr/share/OVMF/OVMF_CODE_4M.fd', vars: '/usr/share/OVMF/OVMF_VARS_4M.fd' },
    ovmfSecureBoot: { code: '/usr/share/OVMF/OVMF_CODE_4M.ms.fd', vars: '/usr/share/OVMF/OVMF_VARS_4M.ms.fd' },
    seabios: { bios: '/usr/share/seabios/bios-256k.bin', vgabios: '/usr/share/seabios/vgabios-stdvga.bin' },
  },
  swtpm: { path: '/usr/bin/swtpm', version: '0.7.1' },
  dataFolder: { path: '/root/.local/share/maru', storage: 'ssd', device: '/dev/nvme0n1' },
  accelerators: [
    {
      name: 'kvm',
      present: true,
      usable: false,
      smm: false,
      cpuModel: null,
      reason:
        'KVM present but cannot run guests: the test guest died with -cpu host,arch-capabilities=off: KVM internal error. Suberror: 1 — emulation failure; QEMU did not start with -cpu host: failed to set MSR 0x10a to 0x69',
      smmReason: 'System Management Mode not supported by this hypervisor.',
      probeMs: 5091,
      attempts: [],
    },
    {
      name: 'tcg',
      present: true,
      usable: true,
      smm: true,
      cpuModel: 'max',
      reason: 'the test guest ran x87 code under TCG with -cpu max',
      smmReason: 'the test guest ran on q35 with smm=on (-cpu max)',
      probeMs: 538,
    },
  ],
  accelerator: 'tcg',
  secureBootAccelerator: 'tcg',
  probeMs: 5737,
};

export function hostInfo(change: Partial<HostFacts> = {}): HostInfo {
  const facts = { ...thisHostFacts, ...change };
  return { ...facts, findings: buildHostFindings(facts) };
}
