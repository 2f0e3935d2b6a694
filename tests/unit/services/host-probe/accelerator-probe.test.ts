// The accelerator logic that needs no test boot: CPU model ladders, presence, choosing the
// accelerator and the Secure Boot accelerator, and the failure summary wording.
import { describe, expect, it } from 'vitest';
import type { AcceleratorVerdict } from '../../../../src-shared/host-info';
import {
  checkPresence,
  chooseAccelerator,
  chooseSecureBootAccelerator,
  cpuModelLadder,
  failureSummary,
  hardwareAccelerator,
  isX86Host,
} from '../../../../src-main/services/host-probe/accelerator-probe';

const verdict = (v: Partial<AcceleratorVerdict> & Pick<AcceleratorVerdict, 'name'>): AcceleratorVerdict => ({
  present: true,
  usable: false,
  smm: null,
  cpuModel: null,
  reason: '',
  probeMs: 0,
  ...v,
});

describe('cpuModelLadder', () => {
  it('tries host, then without arch-capabilities, then max, then a generic model under KVM', () => {
    expect(cpuModelLadder('kvm', '/usr/bin/qemu-system-x86_64')).toEqual([
      'host',
      'host,arch-capabilities=off',
      'max,arch-capabilities=off',
      'qemu64',
    ]);
  });

  it('uses max under TCG and qemu32 with the i386 binary', () => {
    expect(cpuModelLadder('tcg', '/usr/bin/qemu-system-x86_64')[0]).toBe('max');
    expect(cpuModelLadder('hvf', 'C:\\qemu\\qemu-system-i386.exe')).toEqual(['host', 'max', 'qemu32']);
  });
});

describe('candidates and presence', () => {
  it('offers one hardware accelerator per OS, for x86 hosts only', () => {
    expect(hardwareAccelerator('linux')).toBe('kvm');
    expect(hardwareAccelerator('darwin')).toBe('hvf');
    expect(hardwareAccelerator('win32')).toBe('whpx');
    expect(hardwareAccelerator('freebsd')).toBeNull();
    expect(isX86Host('x64')).toBe(true);
    expect(isX86Host('arm64')).toBe(false);
  });

  it('always has TCG and no foreign accelerator', async () => {
    expect((await checkPresence('tcg', 'linux')).present).toBe(true);
    expect((await checkPresence('hvf', 'linux')).present).toBe(false);
    expect((await checkPresence('whpx', 'darwin')).present).toBe(false);
    expect((await checkPresence('kvm', 'win32')).present).toBe(false);
  });
});

describe('choosing', () => {
  it('prefers a usable hardware accelerator, else TCG, else none', () => {
    expect(chooseAccelerator([verdict({ name: 'kvm', usable: true }), verdict({ name: 'tcg', usable: true })])).toBe(
      'kvm',
    );
    expect(chooseAccelerator([verdict({ name: 'kvm' }), verdict({ name: 'tcg', usable: true })])).toBe('tcg');
    expect(chooseAccelerator([verdict({ name: 'kvm' }), verdict({ name: 'tcg' })])).toBeNull();
  });

  it('picks the best usable accelerator whose SMM test passed for Secure Boot', () => {
    const verdicts = [
      verdict({ name: 'kvm', usable: true, smm: false }),
      verdict({ name: 'tcg', usable: true, smm: true }),
    ];
    expect(chooseAccelerator(verdicts)).toBe('kvm');
    expect(chooseSecureBootAccelerator(verdicts)).toBe('tcg');
    expect(chooseSecureBootAccelerator([verdict({ name: 'tcg', usable: true, smm: null })])).toBeNull();
  });
});

describe('failureSummary', () => {
  it('puts deaths first and groups models that failed the same way', () => {
    expect(
      failureSummary([
        { cpuModel: 'host', outcome: 'refused', detail: 'failed to set MSR 0x10a to 0x69' },
        { cpuModel: 'host,arch-capabilities=off', outcome: 'died', detail: 'KVM internal error. Suberror: 1' },
        { cpuModel: 'qemu64', outcome: 'died', detail: 'KVM internal error. Suberror: 1' },
      ]),
    ).toBe(
      'the test guest died with -cpu host,arch-capabilities=off, qemu64: KVM internal error. Suberror: 1; ' +
        'QEMU did not start with -cpu host: failed to set MSR 0x10a to 0x69',
    );
    expect(failureSummary([])).toBe('no CPU model to try');
  });
});
