// Which engine runs a VM, and why: `engine: auto` picks v86 when QEMU is absent (or too old)
// or when the OS preset prefers it, else QEMU; v86's limits (one 32-bit CPU, ≤ 2 GiB, BIOS
// only, no TPM, IDE drives only) decide whether it can take a VM at all. Shared by the launcher and the engines.
import type { HostInfo } from './host-info';
import { OS_PRESETS } from './os-presets';
import { v86StorageProblems } from './storage-layout';
import type { VmConfig } from './vm-config';

/** Most memory the v86 engine emulates. */
export const V86_MAX_MEMORY_MIB = 2048;
/** CPUs the v86 engine emulates. */
export const V86_MAX_CPUS = 1;

export interface EngineChoice {
  readonly engine: 'qemu' | 'v86';
  /** Why, in a sentence the UI and `maru start` show. */
  readonly reason: string;
}

/** Why v86 cannot run `config` (empty when it can). */
export function v86Problems(
  config: Pick<VmConfig, 'cpus' | 'memoryMiB' | 'firmware' | 'secureBoot' | 'tpm'> &
    Partial<Pick<VmConfig, 'disks' | 'cdroms'>>,
): string[] {
  const problems: string[] = [];
  if (config.cpus > V86_MAX_CPUS) problems.push(`v86 emulates one CPU and the VM has ${config.cpus}`);
  if (config.memoryMiB > V86_MAX_MEMORY_MIB) {
    problems.push(`v86 emulates at most ${V86_MAX_MEMORY_MIB} MiB of memory and the VM has ${config.memoryMiB} MiB`);
  }
  if (config.firmware === 'uefi') problems.push('v86 boots with BIOS only and the VM uses UEFI');
  if (config.secureBoot) problems.push('v86 has no Secure Boot');
  if (config.tpm) problems.push('v86 has no TPM');
  problems.push(...v86StorageProblems(config));
  return problems;
}

/** True when the host's QEMU can run VMs (an x86 system emulator, new enough). */
export function qemuUsable(host: HostInfo): boolean {
  return (
    host.qemu.versionOk &&
    host.qemu.binaries.some((b) => b.name === 'qemu-system-x86_64' || b.name === 'qemu-system-i386')
  );
}

/**
 * The engine for `config` on `host`. An explicit `qemu`/`v86` setting is honoured (whether it
 * can run is checked later, with its own error); `auto` decides as the architecture brief says.
 */
export function chooseEngine(config: VmConfig, host: HostInfo): EngineChoice {
  if (config.engine === 'qemu') return { engine: 'qemu', reason: 'the VM is set to the qemu engine' };
  if (config.engine === 'v86') return { engine: 'v86', reason: 'the VM is set to the v86 engine' };
  const problems = v86Problems(config);
  const preset = OS_PRESETS[config.os];
  if (!qemuUsable(host)) {
    if (problems.length === 0) {
      const why = host.qemu.binaries.length === 0 ? 'QEMU is not installed' : 'the installed QEMU is too old';
      return { engine: 'v86', reason: `engine auto: ${why}, so the embedded v86 engine runs this VM` };
    }
    return { engine: 'qemu', reason: `engine auto: QEMU is needed (${problems.join('; ')})` };
  }
  if (preset.engine === 'v86' && problems.length === 0) {
    return { engine: 'v86', reason: `engine auto: the ${preset.label} preset prefers the v86 engine` };
  }
  return { engine: 'qemu', reason: 'engine auto: QEMU is installed' };
}
