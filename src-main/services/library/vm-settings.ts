// The rules a VM's settings must follow before the library writes them: engine limits
// (v86: src-shared/engine-choice.ts), Secure Boot needs UEFI, host limits, the
// guest OS's minimums (warnings), and the install ISO path.
import { statUserFile } from '../../../src-node/file-presence';
import { AppError } from '../../../src-shared/errors';
import { V86_MAX_CPUS, V86_MAX_MEMORY_MIB } from '../../../src-shared/engine-choice';
import { OS_PRESETS } from '../../../src-shared/os-presets';
import type { VmConfig } from '../../../src-shared/vm-config';
import { checkCpus, checkMemory, type HostLimits } from './host-limits';

/** Settings a create or modify call sets; host and minimum checks only look at these. */
export type CheckedSetting = 'cpus' | 'memoryMiB' | 'disk' | 'engine' | 'os';

/**
 * Checks a complete config. Contradictions (Secure Boot without UEFI, v86 limits) are
 * always refused with INVALID_ARGUMENT; host limits and the OS minimums are checked for the
 * settings in `changed` only, so editing the description of a VM made on a bigger host
 * still works. Returns warnings to show the user.
 */
export function checkVmSettings(
  config: VmConfig,
  host: HostLimits,
  changed: ReadonlySet<CheckedSetting>,
  diskGiB?: number,
): string[] {
  const warnings: string[] = [];
  if (config.secureBoot && config.firmware !== 'uefi') {
    throw new AppError(
      'INVALID_ARGUMENT',
      'Secure Boot needs UEFI firmware: choose firmware "uefi", or turn Secure Boot off.',
    );
  }
  const preset = OS_PRESETS[config.os];
  if (config.engine === 'v86') {
    const why = `the v86 engine emulates one 32-bit CPU with at most ${V86_MAX_MEMORY_MIB} MiB of memory and boots with BIOS only`;
    const fix = 'choose the qemu engine (or "auto")';
    if (config.cpus > V86_MAX_CPUS) {
      throw new AppError(
        'INVALID_ARGUMENT',
        `${config.cpus} CPUs cannot run on v86: ${why}. Set ${V86_MAX_CPUS} CPU or ${fix}.`,
      );
    }
    if (config.memoryMiB > V86_MAX_MEMORY_MIB) {
      throw new AppError(
        'INVALID_ARGUMENT',
        `${config.memoryMiB} MiB of memory cannot run on v86: ${why}. Give at most ${V86_MAX_MEMORY_MIB} MiB or ${fix}.`,
      );
    }
    if (config.firmware === 'uefi') {
      throw new AppError('INVALID_ARGUMENT', `UEFI firmware cannot run on v86: ${why}. Choose BIOS or ${fix}.`);
    }
    if (config.tpm) {
      throw new AppError(
        'INVALID_ARGUMENT',
        `A TPM needs the qemu engine (swtpm); v86 has none. Turn the TPM off or ${fix}.`,
      );
    }
    if (preset.arch === 'x86_64' && preset.id !== 'other' && (changed.has('engine') || changed.has('os'))) {
      warnings.push(`${preset.label} is a 64-bit guest and v86 emulates a 32-bit CPU: it will probably not boot.`);
    }
  }
  if (changed.has('cpus')) checkCpus(config.cpus, host);
  if (changed.has('memoryMiB')) warnings.push(...checkMemory(config.memoryMiB, host));

  const min = preset.minimum;
  if (min) {
    const needs = `${preset.label} needs at least ${min.cpus} CPUs, ${min.memoryMiB} MiB of memory and a ${min.diskGiB} GiB disk`;
    const installer = 'its installer refuses to continue with less';
    if (changed.has('cpus') && config.cpus < min.cpus) {
      warnings.push(`${needs}; this VM has ${config.cpus} CPU${config.cpus === 1 ? '' : 's'} (${installer}).`);
    }
    if (changed.has('memoryMiB') && config.memoryMiB < min.memoryMiB) {
      warnings.push(`${needs}; this VM has ${config.memoryMiB} MiB of memory (${installer}).`);
    }
    if (changed.has('disk') && diskGiB !== undefined && diskGiB < min.diskGiB) {
      const has = diskGiB === 0 ? 'this VM has no disk' : `this VM's disk is ${diskGiB} GiB`;
      warnings.push(`${needs}; ${has} (${installer}).`);
    }
  }
  return warnings;
}

/**
 * Checks that an install ISO exists and is a regular file; returns its absolute path.
 * NOT_FOUND (with the path) when it does not exist, INVALID_ARGUMENT when it is not a file.
 */
export async function resolveIsoPath(iso: string): Promise<string> {
  if (iso.trim() === '') throw new AppError('INVALID_ARGUMENT', 'The ISO path is empty.');
  return (await statUserFile(iso, 'The ISO file', ', so not an ISO image')).abs;
}
