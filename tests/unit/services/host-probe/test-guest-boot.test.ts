// Reading a test boot: QEMU's stderr as this host prints it, the outcome classification,
// and the command line.
import { describe, expect, it } from 'vitest';
import {
  classifyTestBoot,
  meaningfulStderr,
  testBootArgs,
} from '../../../../src-main/services/host-probe/test-guest-boot';

// Captured on this host (kvm_pvm): -cpu host, then -cpu host,arch-capabilities=off, then smm=on.
const MSR_ABORT = `qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69
qemu-system-x86_64: ../../target/i386/kvm/kvm.c:3183: kvm_buf_set_msrs: Assertion \`ret == cpu->kvm_msr_buf->nmsrs' failed.
`;
const INTERNAL_ERROR = `qemu-system-x86_64: warning: host doesn't support requested feature: CPUID.01H:ECX.pni [bit 0]
KVM internal error. Suberror: 1
extra data[0]: 0x0000000000000001
extra data[1]: 0xdfc1dee8d9e8d90f
emulation failure
EAX=00000000 EBX=00000000 ECX=00000000 EDX=000003f8
`;
const NO_SMM = `qemu-system-x86_64: System Management Mode not supported by this hypervisor.\n`;

describe('meaningfulStderr', () => {
  it('keeps the first error without the program prefix', () => {
    expect(meaningfulStderr(MSR_ABORT)).toBe('failed to set MSR 0x10a to 0x69');
    expect(meaningfulStderr(NO_SMM)).toBe('System Management Mode not supported by this hypervisor.');
  });

  it('skips warnings and summarizes a KVM internal error dump', () => {
    expect(meaningfulStderr(INTERNAL_ERROR)).toBe('KVM internal error. Suberror: 1 — emulation failure');
  });

  it('ignores our own kill notice and empty output', () => {
    expect(meaningfulStderr('qemu-system-x86_64: terminating on signal 15 from pid 4397 (timeout)\n')).toBeNull();
    expect(meaningfulStderr('')).toBeNull();
  });
});

describe('classifyTestBoot', () => {
  const run = { serial: '', stderr: '', exitCode: null, timedOut: false, spawnError: null, timeoutMs: 5000, ms: 10 };

  it('ok when the OK marker arrived', () => {
    const r = classifyTestBoot({ ...run, serial: 'MARU-PROBE-START\r\nMARU-PROBE-OK\r\n', exitCode: 33 });
    expect(r).toMatchObject({ outcome: 'ok', started: true, detail: null, exitCode: 33 });
  });

  it('fpu-bad when the sum was wrong', () => {
    expect(classifyTestBoot({ ...run, serial: 'MARU-PROBE-START\r\nMARU-PROBE-FPU-BAD\r\n' }).outcome).toBe('fpu-bad');
  });

  it('died when the guest started and then stopped', () => {
    const r = classifyTestBoot({ ...run, serial: 'MARU-PROBE-START\r\n', stderr: INTERNAL_ERROR });
    expect(r).toMatchObject({ outcome: 'died', started: true });
    expect(r.detail).toContain('emulation failure');
    const hung = classifyTestBoot({ ...run, serial: 'MARU-PROBE-START\r\n', timedOut: true });
    expect(hung).toMatchObject({ outcome: 'died', detail: 'no x87 result within 5 s' });
  });

  it('refused when QEMU quit before the guest started', () => {
    expect(classifyTestBoot({ ...run, stderr: MSR_ABORT, exitCode: null })).toMatchObject({
      outcome: 'refused',
      started: false,
      detail: 'failed to set MSR 0x10a to 0x69',
    });
    expect(classifyTestBoot({ ...run, exitCode: 1 })).toMatchObject({
      outcome: 'refused',
      detail: 'QEMU exited with status 1',
    });
  });

  it('timeout when nothing came back, spawn-failed when QEMU did not start', () => {
    expect(classifyTestBoot({ ...run, timedOut: true, timeoutMs: 15000 })).toMatchObject({
      outcome: 'timeout',
      detail: 'the guest printed nothing within 15 s',
    });
    expect(classifyTestBoot({ ...run, spawnError: 'spawn /x ENOENT' }).outcome).toBe('spawn-failed');
  });
});

describe('testBootArgs', () => {
  it('builds a minimal machine with the image as an IDE/AHCI disk and the debug-exit device', () => {
    const args = testBootArgs({ accel: 'kvm', machine: 'pc', smm: false, cpuModel: 'host', imagePath: '/t/a,b.img' });
    expect(args).toEqual(expect.arrayContaining(['-nodefaults', '-no-reboot', '-display', 'none']));
    expect(args[args.indexOf('-machine') + 1]).toBe('pc,accel=kvm');
    expect(args[args.indexOf('-cpu') + 1]).toBe('host');
    expect(args[args.indexOf('-device') + 1]).toBe('isa-debug-exit,iobase=0xf4,iosize=0x04');
    expect(args[args.indexOf('-drive') + 1]).toBe('if=ide,format=raw,file=/t/a,,b.img');
    const smm = testBootArgs({ accel: 'tcg', machine: 'q35', smm: true, cpuModel: 'max', imagePath: '/t/p.img' });
    expect(smm[smm.indexOf('-machine') + 1]).toBe('q35,smm=on,accel=tcg');
  });
});
