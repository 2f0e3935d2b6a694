// Preflight of a VM start: can this VM run on this host now, and on which engine? Checks the
// engine's needs (QEMU version, firmware, swtpm), host limits (cores, free memory) and the
// VM's files (disks, ISO) read-only, and says what is missing and what to do.
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AppError } from '../../../src-shared/errors';
import type { HostInfo } from '../../../src-shared/host-info';
import type { VmConfig } from '../../../src-shared/vm-config';
import { chooseEngine, v86Problems, type EngineChoice } from '../../../src-shared/engine-choice';
import { inspectIso } from '../../../src-emulator/media/iso-image';
import { inspectFloppy } from '../../../src-emulator/media/floppy-image';
import { planQemuStorage } from '../../../src-shared/storage-layout';
import type { ProbeHostOptions } from '../host-probe/host-probe';
import { MIN_QEMU_VERSION } from '../host-probe/tool-discovery';

/** Memory left to the host when checking that a VM's RAM is available now. */
const HOST_FREE_RESERVE_MIB = 256;

function splitDirs(v: string | undefined): string[] | undefined {
  if (!v) return undefined;
  return v.split(path.delimiter).filter((d) => d.length > 0);
}

/** Probe overrides from the environment: folders searched instead of the usual ones. */
export function probeOverridesFromEnv(
  env: NodeJS.ProcessEnv,
): Pick<ProbeHostOptions, 'qemuSearchPath' | 'firmwareSearchPath' | 'swtpmSearchPath'> {
  const qemu = splitDirs(env['MARU_QEMU_DIRS']);
  const firmware = splitDirs(env['MARU_FIRMWARE_DIRS']);
  const swtpm = splitDirs(env['MARU_SWTPM_DIRS']);
  return {
    ...(qemu ? { qemuSearchPath: qemu } : {}),
    ...(firmware ? { firmwareSearchPath: firmware } : {}),
    ...(swtpm ? { swtpmSearchPath: swtpm } : {}),
  };
}

const INSTALL_QEMU =
  'Install QEMU 6.2 or newer (Debian/Ubuntu: sudo apt install qemu-system-x86 qemu-utils; Fedora: sudo dnf install ' +
  'qemu-system-x86-core qemu-img; macOS: brew install qemu; Windows: the installer from qemu.org)';

/**
 * Checks that `config` can run on `host` now and picks its engine (`engine: auto` → QEMU, or
 * v86 when QEMU is absent or the preset prefers it); throws an AppError saying what is missing
 * and what to do. ISO and disk files are checked too (read-only).
 */
export async function checkVmCanRun(config: VmConfig, folder: string, host: HostInfo): Promise<EngineChoice> {
  const label = JSON.stringify(config.name);
  const choice = chooseEngine(config, host);
  if (choice.engine === 'v86') {
    const problems = v86Problems(config);
    if (problems.length > 0) {
      throw new AppError(
        'UNSUPPORTED',
        `VM ${label} is set to the v86 engine, which cannot run it: ${problems.join('; ')}. Change the VM ` +
          `("maru modify ${config.name} --cpus 1 --firmware bios …") or run it with QEMU ("--engine qemu").`,
      );
    }
  } else {
    checkQemuCanRun(config, folder, host, label);
  }
  await checkCommon(config, folder, host, label);
  return choice;
}

function checkQemuCanRun(config: VmConfig, folder: string, host: HostInfo, label: string): void {
  const storage = planQemuStorage(config).problems;
  if (storage.length > 0) {
    throw new AppError(
      'UNSUPPORTED',
      `VM ${label} cannot start: ${storage.join('; ')} ("maru storage ${config.name} list" shows its drives).`,
    );
  }
  const x86 = host.qemu.binaries.find((b) => b.name === 'qemu-system-x86_64');
  if (!x86) {
    const auto = config.engine === 'auto' ? ` (${v86FallbackWhy(config)})` : '';
    throw new AppError(
      'MISSING_DEPENDENCY',
      `VM ${label} cannot start: QEMU is not installed${auto}. ${INSTALL_QEMU}.`,
    );
  }
  if (!host.qemu.versionOk) {
    throw new AppError(
      'MISSING_DEPENDENCY',
      `VM ${label} cannot start: QEMU ${x86.version ?? '(unknown version)'} at ${x86.path} is older than ` +
        `${MIN_QEMU_VERSION}, which Maru needs (saved states and snapshots over QMP). ${INSTALL_QEMU}.`,
    );
  }
  if (config.firmware === 'uefi') {
    if (config.secureBoot && !host.firmware.ovmfSecureBoot) {
      throw new AppError(
        'MISSING_DEPENDENCY',
        `VM ${label} uses Secure Boot, but no Secure Boot UEFI firmware (OVMF_CODE_4M.ms.fd with OVMF_VARS_4M.ms.fd) ` +
          'was found. Install it (Debian/Ubuntu: sudo apt install ovmf; Fedora: sudo dnf install edk2-ovmf), ' +
          `or turn Secure Boot off ("maru modify ${config.name} --no-secure-boot").`,
      );
    }
    if (!config.secureBoot && !host.firmware.ovmf) {
      throw new AppError(
        'MISSING_DEPENDENCY',
        `VM ${label} uses UEFI, but no UEFI firmware (OVMF_CODE_4M.fd with OVMF_VARS_4M.fd) was found. Install it ` +
          '(Debian/Ubuntu: sudo apt install ovmf; Fedora: sudo dnf install edk2-ovmf; macOS: brew install qemu), ' +
          `or use BIOS ("maru modify ${config.name} --firmware bios").`,
      );
    }
    if (!host.qemu.img && !existsSync(path.join(folder, 'nvram.qcow2'))) {
      throw new AppError(
        'MISSING_DEPENDENCY',
        `VM ${label} uses UEFI and needs qemu-img once to create its NVRAM, but qemu-img was not found. ` +
          "Install QEMU's tools (Debian/Ubuntu: sudo apt install qemu-utils).",
      );
    }
  }
}

/** Why `engine: auto` could not fall back to v86 for this VM. */
function v86FallbackWhy(config: VmConfig): string {
  return `the embedded v86 engine cannot run it: ${v86Problems(config).join('; ')}`;
}

async function checkCommon(config: VmConfig, folder: string, host: HostInfo, label: string): Promise<void> {
  if (config.tpm) {
    if (process.platform === 'win32') {
      throw new AppError(
        'UNSUPPORTED',
        `VM ${label} has a TPM, but TPM emulation is not available on Windows hosts. Turn the TPM off.`,
      );
    }
    if (!host.swtpm) {
      throw new AppError(
        'MISSING_DEPENDENCY',
        `VM ${label} has a TPM 2.0, but the TPM emulator swtpm was not found. Install it (Debian/Ubuntu: ` +
          'sudo apt install swtpm swtpm-tools; Fedora: sudo dnf install swtpm swtpm-tools; macOS: brew install swtpm), ' +
          `or turn the TPM off ("maru modify ${config.name} --no-tpm").`,
      );
    }
  }
  if (config.cpus > host.cores) {
    throw new AppError(
      'HOST_LIMIT',
      `VM ${label} has ${config.cpus} CPUs, but this host has ${host.cores} cores. Lower it ("maru modify ${config.name} --cpus ${host.cores}").`,
    );
  }
  const freeMiB = Math.floor(os.freemem() / (1024 * 1024));
  if (config.memoryMiB > freeMiB - HOST_FREE_RESERVE_MIB) {
    throw new AppError(
      'HOST_LIMIT',
      `VM ${label} needs ${config.memoryMiB} MiB of memory, but this host has only ${freeMiB} MiB available now ` +
        `(and keeps ${HOST_FREE_RESERVE_MIB} MiB for itself). Close other programs or VMs, or give the VM less ` +
        `("maru modify ${config.name} --memory N").`,
    );
  }
  for (const d of config.disks) {
    const file = path.isAbsolute(d.file) ? d.file : path.join(folder, d.file);
    if (!existsSync(file)) {
      throw new AppError(
        'NOT_FOUND',
        `Disk ${d.id} of VM ${label} is missing: ${file}. Restore it, or remove it from the VM.`,
      );
    }
  }
  for (const cd of config.cdroms) {
    if (!cd.iso) continue;
    try {
      await inspectIso(cd.iso);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      throw new AppError(
        err.code,
        `VM ${label} cannot start with the image in CD/DVD drive ${cd.id}: ${err.message} ` +
          `(eject it with "maru eject ${config.name}${cd.id === config.cdroms[0]?.id ? '' : ` --drive ${cd.id}`}" or attach another one).`,
      );
    }
  }
  for (const fd of config.floppies) {
    if (!fd.image) continue;
    try {
      await inspectFloppy(fd.image);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      throw new AppError(
        err.code,
        `VM ${label} cannot start with the image in floppy drive ${fd.id}: ${err.message} ` +
          `(eject it with "maru floppy ${config.name} eject --drive ${fd.id}" or insert another one).`,
      );
    }
  }
}
