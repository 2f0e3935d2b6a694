// The wizard's rules (pure): preset values clamped to the host, slider ranges and the warning
// zone, field validation codes (duplicate name, path separator, too much RAM, engine limits),
// the engine explanation, and the Windows 11 readiness check.
import { describe, expect, it } from 'vitest';
import {
  cpuLimits,
  explainEngine,
  meetWindows11,
  memoryLimits,
  memoryWarning,
  presetDraft,
  unmetRequirements,
  validateDraft,
  windows11Readiness,
  zoneOf,
  type VmDraft,
} from '../../../src-renderer/wizard/vm-rules';
import { HOST, hostWith, LIMITS } from './host-info-sample';

const ctx = { limits: LIMITS, existingNames: ['Old DOS', 'Win11 box'], checkDisk: true };
const win11 = (patch: Partial<VmDraft> = {}): VmDraft => ({ ...presetDraft('windows11', LIMITS, 'W11'), ...patch });

describe('presets', () => {
  it('fill the preset values', () => {
    expect(presetDraft('windows11', LIMITS, 'x')).toEqual({
      os: 'windows11',
      name: 'x',
      iso: null,
      engine: 'auto',
      cpus: 2,
      memoryMiB: 4096,
      diskGiB: 64,
      firmware: 'uefi',
      secureBoot: true,
      tpm: true,
    });
    expect(presetDraft('dos', LIMITS)).toMatchObject({ cpus: 1, memoryMiB: 32, diskGiB: 1, firmware: 'bios' });
  });
  it('are clamped to a small host', () => {
    const tiny = { ...LIMITS, cores: 1, totalMemoryMiB: 2048, maxVmMemoryMiB: 1024 };
    expect(presetDraft('windows11', tiny)).toMatchObject({ cpus: 1, memoryMiB: 1024 });
  });
});

describe('slider limits', () => {
  it('memory: floor, host maximum, warning above half the host RAM; v86 caps at 2 GiB', () => {
    expect(memoryLimits(LIMITS, 'auto')).toEqual({ min: 4, max: 15360, warnAbove: 8192, step: 4 });
    expect(memoryLimits(LIMITS, 'v86')).toEqual({ min: 4, max: 2048, warnAbove: null, step: 4 });
    const r = memoryLimits(LIMITS, 'qemu');
    expect(zoneOf(8192, r)).toBe('ok');
    expect(zoneOf(8196, r)).toBe('warn');
    expect(zoneOf(15360, r)).toBe('warn');
    expect(zoneOf(15361, r)).toBe('over');
    expect(zoneOf(2, r)).toBe('under');
    expect(zoneOf(Number.NaN, r)).toBe('under');
    expect(memoryWarning(win11({ memoryMiB: 9000 }), LIMITS)).toBe(true);
    expect(memoryWarning(win11({ memoryMiB: 4096 }), LIMITS)).toBe(false);
  });
  it('CPUs: 1 … host cores; v86 exactly 1', () => {
    expect(cpuLimits(LIMITS, 'auto')).toMatchObject({ min: 1, max: 4 });
    expect(cpuLimits(LIMITS, 'v86')).toMatchObject({ min: 1, max: 1 });
  });
});

describe('validation', () => {
  it('a good draft has no problems', () => {
    expect(validateDraft(win11(), ctx)).toEqual({});
  });
  it('names: duplicate (any case), path separator, empty, outer spaces, reserved characters', () => {
    expect(validateDraft(win11({ name: 'win11 BOX' }), ctx).name).toEqual({
      code: 'duplicate',
      values: { name: 'Win11 box' },
    });
    expect(validateDraft(win11({ name: 'a/b' }), ctx).name?.code).toBe('separator');
    expect(validateDraft(win11({ name: 'a\\b' }), ctx).name?.code).toBe('separator');
    expect(validateDraft(win11({ name: '' }), ctx).name?.code).toBe('empty');
    expect(validateDraft(win11({ name: ' x' }), ctx).name?.code).toBe('outer-space');
    expect(validateDraft(win11({ name: 'a?b' }), ctx).name?.code).toBe('reserved');
    expect(validateDraft(win11({ name: 'x'.repeat(65) }), ctx).name?.code).toBe('too-long');
  });
  it('memory: too much for the host (with the figures), below the floor, not whole', () => {
    expect(validateDraft(win11({ memoryMiB: 999999 }), ctx).memoryMiB).toEqual({
      code: 'host',
      values: { max: 15360, total: 16384, reserve: 1024 },
    });
    expect(validateDraft(win11({ memoryMiB: 2 }), ctx).memoryMiB?.code).toBe('min');
    expect(validateDraft(win11({ memoryMiB: 100.5 }), ctx).memoryMiB?.code).toBe('min');
    // The warning zone is allowed.
    expect(validateDraft(win11({ memoryMiB: 12000 }), ctx).memoryMiB).toBeUndefined();
  });
  it('CPUs and disk', () => {
    expect(validateDraft(win11({ cpus: 5 }), ctx).cpus).toEqual({ code: 'host', values: { max: 4 } });
    expect(validateDraft(win11({ cpus: 0 }), ctx).cpus?.code).toBe('whole');
    expect(validateDraft(win11({ diskGiB: -1 }), ctx).diskGiB?.code).toBe('negative');
    expect(validateDraft(win11({ diskGiB: 1e9 }), ctx).diskGiB?.code).toBe('max');
    expect(validateDraft(win11({ diskGiB: -1 }), { ...ctx, checkDisk: false }).diskGiB).toBeUndefined();
  });
  it('engine and firmware contradictions', () => {
    const v86 = win11({ engine: 'v86' });
    expect(validateDraft(v86, ctx)).toMatchObject({
      cpus: { code: 'v86' },
      memoryMiB: { code: 'v86', values: { max: 2048 } },
      firmware: { code: 'v86' },
      tpm: { code: 'v86' },
    });
    expect(validateDraft(win11({ firmware: 'bios' }), ctx).secureBoot?.code).toBe('needs-uefi');
  });
});

describe('engine explanation', () => {
  const dos = presetDraft('dos', LIMITS, 'd');
  it('auto: v86 for DOS, QEMU for Windows 11, none when neither can', () => {
    expect(explainEngine(dos, HOST)).toMatchObject({ engine: 'v86', reason: 'auto-v86-preferred' });
    expect(explainEngine(win11(), HOST)).toMatchObject({
      engine: 'qemu',
      reason: 'auto-qemu',
      values: { version: '7.2.22' },
    });
    const noQemu = hostWith({ qemu: { binaries: [], img: null, versionOk: false } });
    expect(explainEngine(presetDraft('linux32', LIMITS, 'l'), noQemu)).toMatchObject({
      engine: 'v86',
      reason: 'auto-no-qemu',
    });
    expect(explainEngine(win11(), noQemu)).toMatchObject({
      engine: null,
      reason: 'auto-none',
      blocking: true,
      values: { why: 'cpus, memory, firmware, tpm' },
    });
    expect(explainEngine(win11(), null)).toMatchObject({
      engine: null,
      reason: 'host-unknown',
      blocking: false,
    });
  });
  it('follows the launcher: a 64-bit guest without QEMU goes to v86, with a warning', () => {
    const noQemu = hostWith({ qemu: { binaries: [], img: null, versionOk: false } });
    const linux = { ...presetDraft('linux64', LIMITS, 'l'), cpus: 1, memoryMiB: 1024, firmware: 'bios' as const };
    expect(explainEngine(linux, noQemu)).toMatchObject({ engine: 'v86', reason: 'auto-no-qemu', warn64: true });
    expect(explainEngine(linux, HOST)).toMatchObject({ engine: 'qemu', reason: 'auto-qemu', warn64: false });
  });
  it('explicit choices', () => {
    expect(explainEngine(win11({ engine: 'v86' }), HOST)).toMatchObject({
      reason: 'v86-cannot',
      blocking: true,
    });
    expect(explainEngine({ ...dos, engine: 'v86' }, HOST)).toMatchObject({
      engine: 'v86',
      reason: 'v86-chosen',
    });
    const noQemu = hostWith({ qemu: { binaries: [], img: null, versionOk: false } });
    expect(explainEngine(win11({ engine: 'qemu' }), noQemu)).toMatchObject({
      reason: 'qemu-missing',
      blocking: true,
    });
  });
});

describe('Windows 11 readiness', () => {
  it('the preset on a capable host meets every requirement', () => {
    const items = windows11Readiness(win11(), HOST, LIMITS);
    expect(items.map((i) => i.id)).toEqual([
      'uefi',
      'secure-boot',
      'tpm',
      'memory',
      'disk',
      'cpus',
      'engine',
      'smm',
      'swtpm',
    ]);
    expect(items.every((i) => i.status === 'met')).toBe(true);
    expect(unmetRequirements(items)).toEqual([]);
  });
  it('names every unmet requirement of the VM', () => {
    const bad = win11({
      firmware: 'bios',
      secureBoot: false,
      tpm: false,
      memoryMiB: 2048,
      diskGiB: 32,
      cpus: 1,
      engine: 'v86',
    });
    expect(unmetRequirements(windows11Readiness(bad, HOST, LIMITS)).map((i) => i.id)).toEqual([
      'uefi',
      'secure-boot',
      'tpm',
      'memory',
      'disk',
      'cpus',
      'engine',
    ]);
    // "Fix the VM settings" meets them all.
    expect(unmetRequirements(windows11Readiness(meetWindows11(bad, LIMITS), HOST, LIMITS))).toEqual([]);
  });
  it('says when the host itself is the problem', () => {
    const host = hostWith({
      swtpm: null,
      secureBootAccelerator: null,
      qemu: { binaries: [], img: null, versionOk: false },
    });
    const small = { ...LIMITS, cores: 1, maxVmMemoryMiB: 3000 };
    const unmet = unmetRequirements(windows11Readiness(win11({ cpus: 1, memoryMiB: 3000 }), host, small));
    expect(unmet.map((i) => `${i.id}:${i.note ?? ''}`)).toEqual([
      'memory:host',
      'cpus:host',
      'engine:host',
      'smm:host',
      'swtpm:host',
    ]);
  });
  it('SMM under TCG is met but slow; without the host probe the host items are unknown', () => {
    const tcg = hostWith({ accelerator: 'tcg', secureBootAccelerator: 'tcg' });
    expect(windows11Readiness(win11(), tcg, LIMITS).find((i) => i.id === 'smm')).toMatchObject({
      status: 'met',
      note: 'slow',
    });
    const unknown = windows11Readiness(win11(), null, LIMITS);
    expect(unknown.filter((i) => i.status === 'unknown').map((i) => i.id)).toEqual(['engine', 'smm', 'swtpm']);
  });
  it('no Secure Boot firmware on the host fails the SMM item', () => {
    const host = hostWith({ firmware: { ...HOST.firmware, ovmfSecureBoot: null } });
    expect(windows11Readiness(win11(), host, LIMITS).find((i) => i.id === 'smm')?.status).toBe('unmet');
  });
});
