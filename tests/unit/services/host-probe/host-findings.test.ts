// Findings: each situation yields a message that says what happened, why and what to do.
import { describe, expect, it } from 'vitest';
import type { HostFinding } from '../../../../src-shared/host-info';
import { buildHostFindings } from '../../../../src-main/services/host-probe/host-findings';
import { thisHostFacts } from './host-info-fixture';

const byId = (findings: readonly HostFinding[], id: string): HostFinding | undefined =>
  findings.find((f) => f.id === id);

describe('buildHostFindings', () => {
  it('says KVM is present but cannot run guests and that TCG is used', () => {
    const findings = buildHostFindings(thisHostFacts);
    const kvm = byId(findings, 'kvm-unusable');
    expect(kvm?.level).toBe('warning');
    expect(kvm?.message).toMatch(/^KVM present but cannot run guests \(the test guest died .*emulation failure/);
    expect(kvm?.message).toMatch(/running with software emulation \(TCG\), which is slower\.$/);
    expect(byId(findings, 'qemu-ok')?.message).toContain('7.2.22');
    expect(findings.filter((f) => f.level === 'error')).toEqual([]);
  });

  it('says QEMU is missing and that v86 takes over', () => {
    const findings = buildHostFindings({
      ...thisHostFacts,
      qemu: { binaries: [], img: null, versionOk: false },
      accelerators: [],
      accelerator: null,
      secureBootAccelerator: null,
    });
    const missing = byId(findings, 'qemu-missing');
    expect(missing?.message).toMatch(/^QEMU not found/);
    expect(missing?.message).toContain('embedded v86 engine (32-bit guests only');
    expect(missing?.fix).toContain('qemu-system-x86');
    expect(byId(findings, 'qemu-img-missing')).toBeUndefined();
  });

  it('says an old QEMU is too old', () => {
    const findings = buildHostFindings({
      ...thisHostFacts,
      qemu: {
        binaries: [{ name: 'qemu-system-x86_64', path: '/opt/q/qemu-system-x86_64', version: '5.2.0' }],
        img: null,
        versionOk: false,
      },
      accelerator: null,
      secureBootAccelerator: null,
    });
    expect(byId(findings, 'qemu-too-old')?.message).toMatch(
      /^QEMU 5\.2\.0 found .*Maru needs qemu-system-x86_64 ≥ 6\.2/,
    );
    expect(byId(findings, 'qemu-img-missing')).toBeDefined();
    expect(byId(findings, 'kvm-unusable')).toBeUndefined();
  });

  it('asks for swtpm, OVMF and SeaBIOS when they are missing', () => {
    const findings = buildHostFindings({
      ...thisHostFacts,
      swtpm: null,
      firmware: { ovmf: null, ovmfSecureBoot: null, seabios: null },
    });
    expect(byId(findings, 'swtpm-missing')?.message).toBe('No swtpm: VMs cannot have a TPM 2.0 (Windows 11 needs it).');
    expect(byId(findings, 'swtpm-missing')?.fix).toContain('install swtpm');
    expect(byId(findings, 'ovmf-missing')?.message).toMatch(/^No OVMF found: UEFI guests cannot run/);
    expect(byId(findings, 'ovmf-secure-boot-missing')).toBeDefined();
    expect(byId(findings, 'seabios-missing')).toBeDefined();
  });

  it('warns about an HDD and notes an ARM host', () => {
    const hdd = buildHostFindings({
      ...thisHostFacts,
      dataFolder: { path: '/data', storage: 'hdd', device: '/dev/sdb' },
    });
    expect(byId(hdd, 'storage-hdd')?.message).toContain('VM folder on an HDD (/data on /dev/sdb)');
    expect(byId(hdd, 'storage-hdd')?.fix).toContain('SSD');
    const arm = buildHostFindings({ ...thisHostFacts, arch: 'arm64' });
    expect(byId(arm, 'arm-host')?.message).toContain('x86 guests run under software emulation (TCG) only');
  });

  it('explains /dev/kvm permissions, a CPU model fallback and a missing SMM', () => {
    const noAccess = buildHostFindings({
      ...thisHostFacts,
      accelerators: [
        {
          ...thisHostFacts.accelerators[0]!,
          present: false,
          reason: 'KVM not available: /dev/kvm exists but this user cannot open it (EACCES)',
        },
        thisHostFacts.accelerators[1]!,
      ],
    });
    expect(byId(noAccess, 'kvm-no-access')?.fix).toContain('usermod -aG kvm');
    const fallback = buildHostFindings({
      ...thisHostFacts,
      accelerator: 'kvm',
      accelerators: [
        {
          ...thisHostFacts.accelerators[0]!,
          usable: true,
          smm: false,
          cpuModel: 'host,arch-capabilities=off',
          attempts: [
            {
              cpuModel: 'host',
              machine: 'pc',
              outcome: 'refused',
              started: false,
              detail: 'failed to set MSR 0x10a to 0x69',
              ms: 40,
            },
          ],
        },
        thisHostFacts.accelerators[1]!,
      ],
    });
    expect(byId(fallback, 'kvm-ok')).toBeDefined();
    expect(byId(fallback, 'kvm-cpu-fallback')?.message).toContain('Maru uses -cpu host,arch-capabilities=off');
    expect(byId(fallback, 'smm-fallback')?.message).toContain('Secure Boot VMs run under TCG');
  });
});
