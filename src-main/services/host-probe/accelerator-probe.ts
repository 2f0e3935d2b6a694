// Accelerator verdicts from real test boots: which of kvm / hvf / whpx / tcg can run a guest
// (and with which -cpu model), and which can run it with SMM on (Secure Boot).
import { open, mkdtemp, rm, writeFile, truncate } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AcceleratorAttempt, AcceleratorName, AcceleratorVerdict } from '../../../src-shared/host-info';
import { buildProbeBootSector, PROBE_IMAGE_SIZE } from './probe-boot-sector';
import { runCommand } from './run-command';
import { runTestBoot, type TestBootResult } from './test-guest-boot';
import { isFsError } from './tool-discovery';

export interface AcceleratorProbeOptions {
  /** The QEMU binary that boots the test guest; null when QEMU is absent or unusable. */
  readonly qemuPath: string | null;
  /** Why `qemuPath` is null (e.g. "QEMU not found"), shown as the reason of every verdict. */
  readonly notTestedReason: string;
  readonly platform: NodeJS.Platform;
  readonly arch: string;
  /** Limit for one TCG boot. */
  readonly tcgTimeoutMs: number;
  /** Limit for one hardware-accelerated boot (they take well under a second when they work). */
  readonly hardwareTimeoutMs: number;
  readonly signal?: AbortSignal;
}

const NAMES: Record<AcceleratorName, string> = { kvm: 'KVM', hvf: 'HVF', whpx: 'WHPX', tcg: 'TCG' };

/**
 * CPU models tried in order until one boots. `-cpu host` can abort on an MSR the host refuses
 * (MSR 0x10a = IA32_ARCH_CAPABILITIES on nested KVM), so the next rungs drop that feature.
 */
export function cpuModelLadder(accel: AcceleratorName, qemuPath: string): string[] {
  const generic = /i386(\.exe)?$/i.test(qemuPath) ? 'qemu32' : 'qemu64';
  if (accel === 'tcg') return ['max', generic];
  if (accel === 'kvm') return ['host', 'host,arch-capabilities=off', 'max,arch-capabilities=off', generic];
  return ['host', 'max', generic];
}

/** The hardware accelerator this OS offers, if any; `tcg` is always a candidate too. */
export function hardwareAccelerator(platform: NodeJS.Platform): AcceleratorName | null {
  if (platform === 'linux') return 'kvm';
  if (platform === 'darwin') return 'hvf';
  if (platform === 'win32') return 'whpx';
  return null;
}

/** Whether x86 guests can use the host's hardware accelerator at all: only on x86 hosts. */
export function isX86Host(arch: string): boolean {
  return arch === 'x64' || arch === 'ia32';
}

/** Probes every candidate, sequentially (test boots compete for cores otherwise). */
export async function probeAccelerators(opts: AcceleratorProbeOptions): Promise<AcceleratorVerdict[]> {
  const hardware = hardwareAccelerator(opts.platform);
  const candidates: AcceleratorName[] = hardware ? [hardware, 'tcg'] : ['tcg'];
  const workDir = opts.qemuPath ? await mkdtemp(path.join(os.tmpdir(), 'maru-host-probe-')) : null;
  try {
    const imagePath = workDir ? await writeProbeImage(workDir) : null;
    const verdicts: AcceleratorVerdict[] = [];
    for (const name of candidates) verdicts.push(await probeOne(name, imagePath, opts));
    return verdicts;
  } finally {
    if (workDir) await rm(workDir, { recursive: true, force: true });
  }
}

async function writeProbeImage(dir: string): Promise<string> {
  const imagePath = path.join(dir, 'probe.img');
  await writeFile(imagePath, buildProbeBootSector());
  await truncate(imagePath, PROBE_IMAGE_SIZE);
  return imagePath;
}

async function probeOne(
  name: AcceleratorName,
  imagePath: string | null,
  opts: AcceleratorProbeOptions,
): Promise<AcceleratorVerdict> {
  const startedAt = performance.now();
  const elapsed = (): number => Math.round(performance.now() - startedAt);
  const presence = await checkPresence(name, opts.platform);
  const label = NAMES[name];
  const notUsable = (reason: string, present = presence.present): AcceleratorVerdict => ({
    name,
    present,
    usable: false,
    smm: null,
    cpuModel: null,
    reason,
    probeMs: elapsed(),
  });

  if (!presence.present) return notUsable(`${label} not available: ${presence.reason}`);
  if (name !== 'tcg' && !isX86Host(opts.arch)) {
    return notUsable(`${label} present, but it runs only ${opts.arch} guests: x86 guests need TCG on this host`);
  }
  const qemuPath = opts.qemuPath;
  if (!qemuPath || !imagePath) return notUsable(`not tested: ${opts.notTestedReason}`);

  const timeoutMs = name === 'tcg' ? opts.tcgTimeoutMs : opts.hardwareTimeoutMs;
  const boot = (machine: 'pc' | 'q35', smm: boolean, cpuModel: string): Promise<TestBootResult> =>
    runTestBoot({ qemuPath, accel: name, machine, smm, cpuModel, imagePath, timeoutMs, signal: opts.signal });

  const attempts: AcceleratorAttempt[] = [];
  let worked: string | null = null;
  for (const cpuModel of cpuModelLadder(name, qemuPath)) {
    const result = await boot('pc', false, cpuModel);
    attempts.push(toAttempt(cpuModel, 'pc', result));
    if (result.outcome === 'ok') {
      worked = cpuModel;
      break;
    }
    // The accelerator itself is missing (no module, no Hyper-V platform): other CPU models won't help.
    if (result.outcome === 'refused' && isAcceleratorMissing(result.detail)) {
      return { ...notUsable(`${label} not available: ${result.detail}`, false), attempts };
    }
    // The model was accepted and the BIOS ran, then the guest died in our x87 code: that is the
    // hypervisor failing (e.g. "emulation failure"), not the model. Each further try costs seconds
    // on such hosts (their real mode is emulated), so the ladder stops here.
    if (result.started && (result.outcome === 'died' || result.outcome === 'fpu-bad')) break;
  }

  // SMM: boot q35 with smm=on using the model that worked, else the first that got the guest
  // going (so a hypervisor that refuses SMM outright is recorded even when it is unusable).
  const smmModel = worked ?? attempts.find((a) => a.started)?.cpuModel ?? null;
  let smm: boolean | null = null;
  let smmReason: string;
  if (!smmModel) {
    smmReason = 'not tested: the test guest never started under this accelerator';
  } else {
    const result = await boot('q35', true, smmModel);
    attempts.push(toAttempt(smmModel, 'q35,smm=on', result));
    if (result.outcome === 'ok') {
      smm = true;
      smmReason = `the test guest ran on q35 with smm=on (-cpu ${smmModel})`;
    } else if (result.outcome === 'refused' || worked) {
      smm = false;
      smmReason = result.detail ?? result.outcome;
    } else {
      smmReason = `inconclusive: the guest dies under ${label} even without SMM (${result.detail ?? result.outcome})`;
    }
  }

  const reason = worked
    ? usableReason(label, worked, attempts)
    : `${label} present but cannot run guests: ${failureSummary(attempts.filter((a) => a.machine === 'pc'))}`;
  return {
    name,
    present: true,
    usable: worked !== null,
    smm,
    cpuModel: worked,
    reason,
    smmReason,
    probeMs: elapsed(),
    attempts,
  };
}

function toAttempt(cpuModel: string, machine: string, result: TestBootResult): AcceleratorAttempt {
  return { cpuModel, machine, outcome: result.outcome, started: result.started, detail: result.detail, ms: result.ms };
}

function usableReason(label: string, worked: string, attempts: readonly AcceleratorAttempt[]): string {
  const refused = attempts.filter((a) => a.machine === 'pc' && a.outcome !== 'ok');
  const before = refused.length
    ? ` (${refused.map((a) => `-cpu ${a.cpuModel}: ${a.detail ?? a.outcome}`).join('; ')})`
    : '';
  return `the test guest ran x87 code under ${label} with -cpu ${worked}${before}`;
}

/**
 * "the test guest died with -cpu a, b: KVM internal error …; QEMU did not start with -cpu c:
 * failed to set MSR …": deaths first, they say most about the accelerator.
 */
export function failureSummary(
  attempts: readonly Pick<AcceleratorAttempt, 'cpuModel' | 'outcome' | 'detail'>[],
): string {
  const groups = new Map<string, { rank: number; what: string; detail: string; models: string[] }>();
  for (const a of attempts) {
    const [rank, what] =
      a.outcome === 'died' || a.outcome === 'fpu-bad'
        ? [0, 'the test guest died']
        : a.outcome === 'timeout'
          ? [1, 'the test guest hung']
          : [2, 'QEMU did not start'];
    const detail = a.detail ?? a.outcome;
    const key = `${what}\u0000${detail}`;
    const group = groups.get(key) ?? { rank, what, detail, models: [] };
    group.models.push(a.cpuModel);
    groups.set(key, group);
  }
  const parts = [...groups.values()]
    .sort((a, b) => a.rank - b.rank)
    .map((g) => `${g.what} with -cpu ${g.models.join(', ')}: ${g.detail}`);
  return parts.join('; ') || 'no CPU model to try';
}

function isAcceleratorMissing(detail: string | null): boolean {
  return (
    detail !== null &&
    /could not access kvm|failed to initialize (kvm|hvf|whpx)|no accelerator found|invalid accelerator|not supported by this host|hv_error|whpx: .*not/i.test(
      detail,
    )
  );
}

/** Whether the host offers the accelerator at all, before any test boot. */
export async function checkPresence(
  name: AcceleratorName,
  platform: NodeJS.Platform,
): Promise<{ present: boolean; reason: string }> {
  if (name === 'tcg') return { present: true, reason: 'software emulation, always available' };
  if (name === 'kvm') {
    if (platform !== 'linux') return { present: false, reason: 'KVM exists only on Linux' };
    try {
      const handle = await open('/dev/kvm', 'r+');
      await handle.close();
      return { present: true, reason: '/dev/kvm opens read-write' };
    } catch (err) {
      if (!isFsError(err)) throw err;
      if (err.code === 'ENOENT')
        return { present: false, reason: 'no /dev/kvm (virtualization off in firmware, or no kvm module)' };
      if (err.code === 'EACCES' || err.code === 'EPERM') {
        return { present: false, reason: `/dev/kvm exists but this user cannot open it (${err.code})` };
      }
      return { present: false, reason: `/dev/kvm cannot be opened (${err.code ?? err.message})` };
    }
  }
  if (name === 'hvf') {
    if (platform !== 'darwin') return { present: false, reason: 'HVF exists only on macOS' };
    const result = await runCommand('/usr/sbin/sysctl', ['-n', 'kern.hv_support'], 5000);
    return result.stdout.trim() === '1'
      ? { present: true, reason: 'kern.hv_support = 1' }
      : { present: false, reason: 'kern.hv_support is not 1 (no Hypervisor.framework support)' };
  }
  // WHPX: only a boot can tell (the Windows Hypervisor Platform feature must be enabled).
  if (platform !== 'win32') return { present: false, reason: 'WHPX exists only on Windows' };
  return { present: true, reason: 'Windows: decided by the test boot' };
}

/** Best usable accelerator: hardware ones before TCG; null when none (no QEMU). */
export function chooseAccelerator(verdicts: readonly AcceleratorVerdict[]): AcceleratorName | null {
  return rank(verdicts.filter((v) => v.usable));
}

/** Best usable accelerator whose SMM test passed: what Secure Boot VMs run under. */
export function chooseSecureBootAccelerator(verdicts: readonly AcceleratorVerdict[]): AcceleratorName | null {
  return rank(verdicts.filter((v) => v.usable && v.smm === true));
}

const PREFERENCE: readonly AcceleratorName[] = ['kvm', 'hvf', 'whpx', 'tcg'];

function rank(usable: readonly AcceleratorVerdict[]): AcceleratorName | null {
  return PREFERENCE.find((name) => usable.some((v) => v.name === name)) ?? null;
}
