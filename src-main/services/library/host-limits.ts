// What this host can give a VM (CPU cores, RAM) and the checks of a VM's cpus and memory
// against it: hard limits are refused with the figures, risky values get a warning.
import os from 'node:os';
import { AppError } from '../../../src-shared/errors';

/** The host figures the library checks settings against; tests inject small ones. */
export interface HostLimits {
  readonly totalMemoryBytes: number;
  readonly cores: number;
}

const MiB = 1024 * 1024;
/** RAM always left to the host OS, Maru and the emulator's own overhead. */
export const HOST_MEMORY_RESERVE_MIB = 1024;
/** The least memory a VM may be given, whatever the host: QEMU's and v86's floor. */
export const MIN_VM_MEMORY_MIB = 4;
/** `maxVmMemoryMiB` never goes below this, so a small host can still run small guests. */
const MAX_MEMORY_FLOOR_MIB = 256;

/** This machine's figures. */
export function defaultHostLimits(): HostLimits {
  return { totalMemoryBytes: os.totalmem(), cores: os.availableParallelism() };
}

/** Host RAM in MiB (floored). */
export function hostMemoryMiB(host: HostLimits): number {
  return Math.floor(host.totalMemoryBytes / MiB);
}

/** Most memory one VM may be given: host RAM minus a 1 GiB reserve, floored to MiB, at least 256 MiB. */
export function maxVmMemoryMiB(host: HostLimits): number {
  return Math.max(MAX_MEMORY_FLOOR_MIB, Math.floor((host.totalMemoryBytes - HOST_MEMORY_RESERVE_MIB * MiB) / MiB));
}

/** Refuses a CPU count this host cannot give (HOST_LIMIT) or that makes no sense (INVALID_ARGUMENT). */
export function checkCpus(cpus: number, host: HostLimits): void {
  if (!Number.isInteger(cpus) || cpus < 1) {
    throw new AppError('INVALID_ARGUMENT', `A VM needs a whole number of CPUs, at least 1 (got ${cpus}).`);
  }
  if (cpus > host.cores) {
    throw new AppError(
      'HOST_LIMIT',
      `${cpus} CPUs asked for, but this host has ${host.cores} CPU cores. Give the VM at most ${host.cores}.`,
      { asked: cpus, hostCores: host.cores },
    );
  }
}

/**
 * Refuses memory below 4 MiB (INVALID_ARGUMENT) or above `maxVmMemoryMiB` (HOST_LIMIT), and
 * returns a warning when the VM would take more than half of the host's RAM.
 */
export function checkMemory(memoryMiB: number, host: HostLimits): string[] {
  if (!Number.isInteger(memoryMiB) || memoryMiB < MIN_VM_MEMORY_MIB) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `A VM needs a whole number of MiB of memory, at least ${MIN_VM_MEMORY_MIB} MiB (got ${memoryMiB}).`,
    );
  }
  const total = hostMemoryMiB(host);
  const max = maxVmMemoryMiB(host);
  if (memoryMiB > max) {
    throw new AppError(
      'HOST_LIMIT',
      `${memoryMiB} MiB of memory asked for, but this host has ${total} MiB of RAM and keeps ` +
        `${HOST_MEMORY_RESERVE_MIB} MiB for itself: give the VM at most ${max} MiB.`,
      { askedMiB: memoryMiB, hostMiB: total, maxMiB: max },
    );
  }
  if (memoryMiB > total / 2) {
    return [
      `RAM given to a VM is taken from the host while it runs: ${memoryMiB} MiB is more than half of this ` +
        `host's ${total} MiB, so the host and other programs may slow down or run out of memory.`,
    ];
  }
  return [];
}
