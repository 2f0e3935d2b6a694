// The new-VM wizard's and settings dialog's rules as pure functions: preset defaults, slider
// limits from the host, field validation (as codes the UI translates), the engine "auto"
// explanation and the Windows 11 readiness check. The library re-checks everything on save.
import { chooseEngine, qemuUsable, V86_MAX_CPUS, V86_MAX_MEMORY_MIB } from '../../src-shared/engine-choice';
import { OS_PRESETS, type PresetId } from '../../src-shared/os-presets';
import type { VmConfig } from '../../src-shared/vm-config';
import type { VmHostLimits } from '../../src-shared/contracts/host';
import type { HostInfo } from '../../src-shared/host-info';
import { sameVmName, vmNameProblemCode, type VmNameProblemCode } from '../../src-shared/vm-name';
import { formatMiB } from '../format/format-size';

export type EngineChoice = 'auto' | 'qemu' | 'v86';

export interface VmDraft {
  readonly os: PresetId;
  readonly name: string;
  readonly iso: string | null;
  readonly engine: EngineChoice;
  readonly cpus: number;
  readonly memoryMiB: number;
  readonly diskGiB: number;
  readonly firmware: 'bios' | 'uefi';
  readonly secureBoot: boolean;
  readonly tpm: boolean;
}

/** An existing VM's settings as a draft (its disk exists already: diskGiB 0 = no new disk). */
export function draftFromConfig(c: VmConfig): VmDraft {
  return {
    os: c.os,
    name: c.name,
    iso: c.cdroms[0]?.iso ?? null,
    engine: c.engine,
    cpus: c.cpus,
    memoryMiB: c.memoryMiB,
    diskGiB: 0,
    firmware: c.firmware,
    secureBoot: c.secureBoot,
    tpm: c.tpm,
  };
}

/** Largest disk the wizard's slider offers (the number field accepts up to MAX_DISK_GIB). */
export const DISK_SLIDER_MAX_GIB = 1024;
export const MAX_DISK_GIB = 64 * 1024;

/** A preset's values, clamped to what this host can give. */
export function presetDraft(os: PresetId, limits: VmHostLimits | null, name = '', iso: string | null = null): VmDraft {
  const p = OS_PRESETS[os];
  const cpus = limits ? Math.min(p.cpus, limits.cores) : p.cpus;
  const memoryMiB = limits ? Math.min(p.memoryMiB, limits.maxVmMemoryMiB) : p.memoryMiB;
  return {
    os,
    name,
    iso,
    engine: 'auto',
    cpus,
    memoryMiB,
    diskGiB: p.diskGiB,
    firmware: p.firmware,
    secureBoot: p.secureBoot,
    tpm: p.tpm,
  };
}

export interface RangeLimits {
  readonly min: number;
  readonly max: number;
  /** Values above this are allowed but risky (shown as a warning zone); null: no zone. */
  readonly warnAbove: number | null;
  readonly step: number;
}

/** Memory: at least the engine's floor, at most host RAM minus the reserve (v86: V86_MAX_MEMORY_MIB); warn above half the host's RAM. */
export function memoryLimits(limits: VmHostLimits, engine: EngineChoice): RangeLimits {
  const max = engine === 'v86' ? Math.min(limits.maxVmMemoryMiB, limits.v86MaxMemoryMiB) : limits.maxVmMemoryMiB;
  const half = Math.floor(limits.totalMemoryMiB / 2);
  return { min: limits.minVmMemoryMiB, max, warnAbove: half < max ? half : null, step: 4 };
}

/** CPUs: 1 … host cores (v86: exactly 1). */
export function cpuLimits(limits: VmHostLimits, engine: EngineChoice): RangeLimits {
  return { min: 1, max: engine === 'v86' ? V86_MAX_CPUS : limits.cores, warnAbove: null, step: 1 };
}

export function diskLimits(): RangeLimits {
  return { min: 0, max: DISK_SLIDER_MAX_GIB, warnAbove: null, step: 1 };
}

export type Zone = 'ok' | 'warn' | 'over' | 'under';

/** Where a value falls: below min, in range, in the warning zone, or over the hard maximum. */
export function zoneOf(value: number, r: RangeLimits): Zone {
  if (!Number.isFinite(value) || value < r.min) return 'under';
  if (value > r.max) return 'over';
  if (r.warnAbove !== null && value > r.warnAbove) return 'warn';
  return 'ok';
}

/** A field problem: a code the UI translates (`wizard.errors.<field>.<code>`) with values. */
export interface FieldProblem {
  readonly code: string;
  readonly values?: Readonly<Record<string, string | number>>;
}

export type DraftField = 'name' | 'cpus' | 'memoryMiB' | 'diskGiB' | 'firmware' | 'secureBoot' | 'tpm';
export type DraftProblems = Partial<Record<DraftField, FieldProblem>>;

export interface ValidationContext {
  readonly limits: VmHostLimits | null;
  /** Names of the other VMs (for duplicates; the one being edited excluded). */
  readonly existingNames: readonly string[];
  /** Settings of an existing VM: the disk is not re-created. */
  readonly checkDisk: boolean;
}

export function nameProblem(name: string, existing: readonly string[]): FieldProblem | undefined {
  const code: VmNameProblemCode | undefined = vmNameProblemCode(name);
  if (code) return { code };
  const clash = existing.find((n) => sameVmName(n, name));
  if (clash !== undefined) return { code: 'duplicate', values: { name: clash } };
  return undefined;
}

/** Every problem of a draft, per field; an empty object means the library should accept it. */
export function validateDraft(d: VmDraft, ctx: ValidationContext): DraftProblems {
  const out: DraftProblems = {};
  const name = nameProblem(d.name, ctx.existingNames);
  if (name) out.name = name;
  if (!Number.isInteger(d.cpus) || d.cpus < 1) out.cpus = { code: 'whole' };
  else if (d.engine === 'v86' && d.cpus > V86_MAX_CPUS) out.cpus = { code: 'v86' };
  else if (ctx.limits && d.cpus > ctx.limits.cores) out.cpus = { code: 'host', values: { max: ctx.limits.cores } };
  if (ctx.limits) {
    const r = memoryLimits(ctx.limits, d.engine);
    const z = zoneOf(d.memoryMiB, r);
    if (!Number.isInteger(d.memoryMiB) || z === 'under') out.memoryMiB = { code: 'min', values: { min: r.min } };
    else if (z === 'over') {
      out.memoryMiB =
        d.engine === 'v86' && d.memoryMiB > ctx.limits.v86MaxMemoryMiB
          ? { code: 'v86', values: { max: ctx.limits.v86MaxMemoryMiB } }
          : {
              code: 'host',
              values: { max: r.max, total: ctx.limits.totalMemoryMiB, reserve: ctx.limits.reserveMiB },
            };
    }
  } else if (!Number.isInteger(d.memoryMiB) || d.memoryMiB < 4) out.memoryMiB = { code: 'min', values: { min: 4 } };
  if (ctx.checkDisk) {
    if (!Number.isFinite(d.diskGiB) || d.diskGiB < 0) out.diskGiB = { code: 'negative' };
    else if (d.diskGiB > MAX_DISK_GIB) out.diskGiB = { code: 'max', values: { max: MAX_DISK_GIB } };
  }
  if (d.secureBoot && d.firmware !== 'uefi') out.secureBoot = { code: 'needs-uefi' };
  if (d.engine === 'v86' && d.firmware === 'uefi') out.firmware = { code: 'v86' };
  if (d.engine === 'v86' && d.tpm) out.tpm = { code: 'v86' };
  return out;
}

/** Whether the memory value is in the warning zone (more than half the host's RAM). */
export function memoryWarning(d: VmDraft, limits: VmHostLimits | null): boolean {
  return limits !== null && zoneOf(d.memoryMiB, memoryLimits(limits, d.engine)) === 'warn';
}

// ---- engine choice ------------------------------------------------------------------

export type EngineReason =
  | 'host-unknown'
  | 'auto-v86-preferred'
  | 'auto-qemu'
  | 'auto-no-qemu'
  | 'auto-none'
  | 'qemu-chosen'
  | 'qemu-missing'
  | 'v86-chosen'
  | 'v86-cannot';

export interface EngineExplanation {
  /** The engine that will run the VM, or null when none can. */
  readonly engine: 'qemu' | 'v86' | null;
  readonly reason: EngineReason;
  readonly values: Readonly<Record<string, string>>;
  /** The choice cannot work: shown as an error. */
  readonly blocking: boolean;
  /** v86 would run a 64-bit guest (it emulates a 32-bit CPU): allowed, but it will probably not boot. */
  readonly warn64: boolean;
}

/** Why v86 cannot run these settings (codes), empty when it can (the limits of src-shared/engine-choice.ts). */
export function v86Limits(d: VmDraft): string[] {
  const out: string[] = [];
  if (d.cpus > V86_MAX_CPUS) out.push('cpus');
  if (d.memoryMiB > V86_MAX_MEMORY_MIB) out.push('memory');
  if (d.firmware !== 'bios') out.push('firmware');
  if (d.tpm) out.push('tpm');
  return out;
}

function qemuVersion(host: HostInfo): string {
  return host.qemu.binaries[0]?.version ?? '?';
}

/**
 * Which engine `auto` (or the user's choice) ends up with, and why — what the wizard shows.
 * The decision is the launcher's own (`chooseEngine`); this only names it for the UI.
 */
export function explainEngine(d: VmDraft, host: HostInfo | null): EngineExplanation {
  const why = v86Limits(d);
  const v86Ok = why.length === 0;
  const is64 = OS_PRESETS[d.os].arch === 'x86_64' && d.os !== 'other';
  const result = (
    engine: EngineExplanation['engine'],
    reason: EngineReason,
    values: Record<string, string> = {},
    blocking = false,
  ): EngineExplanation => ({ engine, reason, values, blocking, warn64: engine === 'v86' && is64 });
  if (d.engine === 'v86')
    return v86Ok
      ? result('v86', 'v86-chosen')
      : result(null, 'v86-cannot', { why: why.join(', '), maxMemory: formatMiB(V86_MAX_MEMORY_MIB) }, true);
  if (d.engine === 'qemu') {
    if (host && !qemuUsable(host)) return result(null, 'qemu-missing', {}, true);
    return result('qemu', 'qemu-chosen', { version: host ? qemuVersion(host) : '?' });
  }
  // A preset that prefers v86 gets it whenever v86 can run it, whatever the host has.
  if (OS_PRESETS[d.os].engine === 'v86' && v86Ok) return result('v86', 'auto-v86-preferred');
  if (!host) return result(null, 'host-unknown');
  // chooseEngine reads only the fields a draft has.
  const choice = chooseEngine({ ...d, engine: 'auto' } as unknown as VmConfig, host);
  if (choice.engine === 'v86') return result('v86', qemuUsable(host) ? 'auto-v86-preferred' : 'auto-no-qemu');
  if (!qemuUsable(host))
    return result(null, 'auto-none', { why: why.join(', '), maxMemory: formatMiB(V86_MAX_MEMORY_MIB) }, true);
  return result('qemu', 'auto-qemu', { version: qemuVersion(host) });
}

// ---- Windows 11 readiness --------------------------------------------------------------

export type ReadinessId = 'uefi' | 'secure-boot' | 'tpm' | 'memory' | 'disk' | 'cpus' | 'engine' | 'smm' | 'swtpm';

export interface ReadinessItem {
  readonly id: ReadinessId;
  /** met / unmet / unknown (the host probe has not answered yet). */
  readonly status: 'met' | 'unmet' | 'unknown';
  /** Extra key: `host` when the host itself cannot meet it, `slow` when met by software emulation. */
  readonly note?: 'host' | 'slow';
  readonly values?: Readonly<Record<string, string | number>>;
}

const WIN11 = OS_PRESETS.windows11.minimum!;

/**
 * Windows 11's requirements, each met or not, for these settings on this host: UEFI, Secure
 * Boot, TPM 2.0 (and swtpm on the host), ≥ 4 GiB, ≥ 64 GiB, ≥ 2 CPUs, the qemu engine, and an
 * accelerator that runs SMM (needed by Secure Boot's firmware).
 */
export function windows11Readiness(
  d: VmDraft,
  host: HostInfo | null,
  limits: VmHostLimits | null,
  options: { checkDisk: boolean } = { checkDisk: true },
): ReadinessItem[] {
  const items: ReadinessItem[] = [];
  const met = (ok: boolean) => (ok ? 'met' : 'unmet');
  items.push({ id: 'uefi', status: met(d.firmware === 'uefi') });
  items.push({ id: 'secure-boot', status: met(d.secureBoot && d.firmware === 'uefi') });
  items.push({ id: 'tpm', status: met(d.tpm) });
  const memOk = d.memoryMiB >= WIN11.memoryMiB;
  const memHost = limits !== null && limits.maxVmMemoryMiB < WIN11.memoryMiB;
  items.push({
    id: 'memory',
    status: met(memOk),
    ...(memHost && !memOk ? { note: 'host' as const } : {}),
    values: { min: WIN11.memoryMiB, value: d.memoryMiB, max: limits?.maxVmMemoryMiB ?? 0 },
  });
  if (options.checkDisk) {
    items.push({
      id: 'disk',
      status: met(d.diskGiB >= WIN11.diskGiB),
      values: { min: WIN11.diskGiB, value: d.diskGiB },
    });
  }
  const cpuHost = limits !== null && limits.cores < WIN11.cpus;
  items.push({
    id: 'cpus',
    status: met(d.cpus >= WIN11.cpus),
    ...(cpuHost && d.cpus < WIN11.cpus ? { note: 'host' as const } : {}),
    values: { min: WIN11.cpus, value: d.cpus, cores: limits?.cores ?? 0 },
  });
  const qemuOk = host ? host.qemu.binaries.length > 0 && host.qemu.versionOk : null;
  items.push({
    id: 'engine',
    status: d.engine === 'v86' ? 'unmet' : qemuOk === null ? 'unknown' : met(qemuOk),
    ...(qemuOk === false && d.engine !== 'v86' ? { note: 'host' as const } : {}),
  });
  if (!host) {
    items.push({ id: 'smm', status: 'unknown' });
    items.push({ id: 'swtpm', status: 'unknown' });
  } else {
    const acc = host.secureBootAccelerator;
    items.push({
      id: 'smm',
      status: met(acc !== null && host.firmware.ovmfSecureBoot !== null),
      ...(acc === 'tcg' ? { note: 'slow' as const } : acc === null ? { note: 'host' as const } : {}),
      values: { accelerator: acc ?? '—' },
    });
    items.push({ id: 'swtpm', status: met(host.swtpm !== null), ...(host.swtpm ? {} : { note: 'host' as const }) });
  }
  return items;
}

/** The unmet items only (what the summary lists). */
export function unmetRequirements(items: readonly ReadinessItem[]): ReadinessItem[] {
  return items.filter((i) => i.status === 'unmet');
}

/** Settings that satisfy every requirement the VM itself controls (a "fix all" button). */
export function meetWindows11(d: VmDraft, limits: VmHostLimits | null): VmDraft {
  const maxMem = limits?.maxVmMemoryMiB ?? Infinity;
  const maxCpus = limits?.cores ?? Infinity;
  return {
    ...d,
    engine: d.engine === 'v86' ? 'auto' : d.engine,
    firmware: 'uefi',
    secureBoot: true,
    tpm: true,
    memoryMiB: Math.max(d.memoryMiB, Math.min(WIN11.memoryMiB, maxMem)),
    cpus: Math.max(d.cpus, Math.min(WIN11.cpus, maxCpus)),
    diskGiB: Math.max(d.diskGiB, WIN11.diskGiB),
  };
}
