// The `maru host` text report: sections, the accelerator table, the chosen accelerator and
// findings, for this host's kind of verdict and for a host without QEMU.
import { describe, expect, it } from 'vitest';
import { accelTable, formatHostReport, wrap } from '../../../../src-main/services/host-probe/format-host-report';
import { hostInfo, thisHostFacts } from './host-info-fixture';

describe('formatHostReport', () => {
  const report = formatHostReport(hostInfo());

  it('has every section in order', () => {
    const titles = ['Host', 'QEMU', 'Firmware', 'TPM', 'Storage', 'Accelerators', 'Chosen accelerator', 'Findings'];
    const positions = titles.map((t) => report.indexOf(`\n${t}\n`));
    expect(positions.every((p) => p > 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
  });

  it('says plainly that KVM cannot run guests and TCG is used', () => {
    expect(report).toContain('KVM present but cannot run guests');
    expect(report).toMatch(/VMs {16,}TCG \(software emulation, slower\) — KVM is present but cannot run guests/);
    expect(report).toContain('kvm SMM: System Management Mode not supported by this hypervisor.');
    expect(report.replace(/\s+/g, ' ')).toContain('running with software emulation (TCG), which is slower.');
  });

  it('lists tools, firmware and storage', () => {
    expect(report).toMatch(/qemu-system-x86_64 {2}7\.2\.22 +\/usr\/bin\/qemu-system-x86_64/);
    expect(report).toContain('/usr/share/OVMF/OVMF_VARS_4M.ms.fd');
    expect(report).toMatch(/swtpm +0\.7\.1 +\/usr\/bin\/swtpm/);
    expect(report).toContain('/dev/nvme0n1: SSD');
    expect(report).toContain('23.5 GiB total');
  });

  it('reports a host without QEMU', () => {
    const text = formatHostReport(
      hostInfo({ qemu: { binaries: [], img: null, versionOk: false }, accelerator: null, secureBootAccelerator: null }),
    );
    expect(text).toMatch(/qemu-system-x86_64 +not found/);
    expect(text).toContain('none: the QEMU engine is unavailable, Maru uses its embedded v86 engine');
    expect(text).toContain('QEMU not found');
  });
});

describe('accelTable', () => {
  it('aligns columns and leaves the reason last', () => {
    const [header, kvm, tcg] = accelTable(thisHostFacts.accelerators);
    const col = (line: string | undefined, word: string) => (line ?? '').indexOf(word);
    for (const name of ['present', 'usable', 'smm', 'cpu', 'time', 'reason']) {
      const at = col(header, name);
      expect(kvm?.[at - 1]).toBe(' ');
      expect(tcg?.[at - 1]).toBe(' ');
      expect(kvm?.[at]).not.toBe(' ');
    }
    expect(tcg).toMatch(/^tcg +yes +yes +yes +max +538 ms +the test guest ran x87 code/);
    expect(kvm).toMatch(/^kvm +yes +no +no +- +5\.1 s +KVM present but cannot run guests/);
  });
});

describe('wrap', () => {
  it('wraps on spaces and keeps long words whole', () => {
    expect(wrap('aa bb cc dd', 5)).toEqual(['aa bb', 'cc dd']);
    expect(wrap('/a/very/long/path x', 5)).toEqual(['/a/very/long/path', 'x']);
    expect(wrap('', 5)).toEqual(['']);
  });
});
