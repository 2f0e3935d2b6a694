// Starting VMs and reaching running ones (plain Node, no electron): checks a VM can run on
// this host, writes its launch file, spawns a detached engine host and waits for it to run;
// connects front ends to a running VM's control endpoint; discards saved states.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  ABORTED_MARKER_FILE,
  RUN_LAUNCH_FILE,
  RUN_LOCK_FILE,
  RUN_STATE_FILE,
  SAVED_STATE_MARKER_FILE,
  type AbortedMarker,
  type EngineHostLaunchMessage,
  type EngineHostParentMessage,
  type EngineLaunchSpec,
  type EngineRunState,
  type EngineStatus,
  type SavedStateMarker,
} from '../../src-shared/contracts/engine';
import { AppError, CancelledError, type ErrorCode } from '../../src-shared/errors';
import type { HostInfo } from '../../src-shared/host-info';
import type { VmDetails } from '../../src-shared/contracts/library';
import type { VmConfig } from '../../src-shared/vm-config';
import { chooseEngine, v86Problems, type EngineChoice } from '../../src-shared/engine-choice';
import { EngineHostClient } from '../../src-emulator/host/control-client';
import { rotateLogs } from '../../src-emulator/host/engine-host';
import { chooseSocketFolder } from '../../src-emulator/host/run-paths';
import { isProcessAlive, readLockSync } from '../../src-emulator/host/run-lock';
import { recoverStaleRun } from '../../src-emulator/host/stale-run';
import { readJsonSync, writeJsonAtomic } from '../../src-emulator/host/state-files';
import { inspectIso } from '../../src-emulator/media/iso-image';
import { deleteSnapshot, listSnapshots } from '../../src-emulator/engines/qemu/qemu-img';
import { discardV86SavedState } from '../../src-emulator/engines/v86/v86-engine';
import { probeHost, type ProbeHostOptions } from './host-probe/host-probe';
import { MIN_QEMU_VERSION } from './host-probe/tool-discovery';
import { Library } from './library/library-service';
import { runFolder } from './maru-home';
import { defaultEngineHostPath, releasePrewarmed, type PrewarmedEngineHost } from './engine-host-path';

export { defaultEngineHostPath } from './engine-host-path';

/** Default wait for a guest to power off after the ACPI power button (then it is forced off). */
export const DEFAULT_ACPI_TIMEOUT_MS = 60_000;
/** Default limit for an engine host to report that the VM runs. */
export const DEFAULT_START_TIMEOUT_MS = 120_000;
/** Memory left to the host when checking that a VM's RAM is available now. */
const HOST_FREE_RESERVE_MIB = 256;

export interface LaunchOptions {
  /** Environment for overrides (MARU_QEMU_DIRS, MARU_FIRMWARE_DIRS, MARU_SWTPM_DIRS, MARU_ENGINE_HOST); default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  readonly acpiTimeoutMs?: number;
  readonly startTimeoutMs?: number;
  /** The engine host script (dist/engine-host/engine-host.js); found next to this bundle by default. */
  readonly engineHostPath?: string;
  /** Cancels the start: the engine host is told to stop, and a CancelledError is thrown. */
  readonly signal?: AbortSignal;
  /** An engine host started early with `--await-launch` (the CLI does, to overlap Node start-ups). */
  readonly prewarmed?: PrewarmedEngineHost | null;
}

export interface StartVmResult {
  readonly vm: { readonly id: string; readonly name: string };
  readonly status: EngineStatus;
  /** The engine host's log (stdout/stderr). */
  readonly logFile: string;
}

/** A launch file written and checked, ready for an engine host (the desktop forks it itself). */
export interface PreparedLaunch {
  readonly spec: EngineLaunchSpec;
  readonly launchFile: string;
  readonly engineHostPath: string;
  readonly args: readonly string[];
  readonly logFile: string;
}

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
  if (config.cdrom.iso) {
    try {
      await inspectIso(config.cdrom.iso);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      throw new AppError(
        err.code,
        `VM ${label} cannot start with its CD/DVD image: ${err.message} ` +
          `(eject it with "maru eject ${config.name}" or attach another one).`,
      );
    }
  }
}

/** Refuses when the VM's engine host runs (the lock names a live process). */
function assertNotRunning(maruHome: string, vm: VmDetails): void {
  const lock = readLockSync(path.join(runFolder(maruHome, vm.config.id), RUN_LOCK_FILE));
  if (lock && isProcessAlive(lock.pid)) {
    throw new AppError(
      'BUSY',
      `VM ${JSON.stringify(vm.config.name)} is already running (engine host pid ${lock.pid}, started ${lock.startedAt}). ` +
        `Stop it with "maru stop ${vm.config.name}", or view it with "maru serve".`,
      { pid: lock.pid },
    );
  }
}

/**
 * Checks the VM and the host, and writes `run/<uuid>/launch.json`: what an engine host
 * needs to run it. The desktop forks the engine host itself (utility process) with `args`.
 */
export async function prepareVmLaunch(
  maruHome: string,
  ref: string,
  options: LaunchOptions = {},
): Promise<PreparedLaunch> {
  const env = options.env ?? process.env;
  const library = new Library({ maruHome });
  const vm = await library.show(ref);
  assertNotRunning(maruHome, vm);
  const host = await probeHost({ maruHome, ...probeOverridesFromEnv(env) });
  const choice = await checkVmCanRun(vm.config, vm.folder, host);
  const engineHostPath = options.engineHostPath ?? defaultEngineHostPath(env);

  const run = runFolder(maruHome, vm.config.id);
  await mkdir(run, { recursive: true, mode: 0o700 });
  const sockets = chooseSocketFolder({
    runFolder: run,
    vmId: vm.config.id,
    platform: process.platform,
    env,
    uid: process.getuid?.() ?? null,
  });
  const logsFolder = path.join(vm.folder, 'logs');
  await mkdir(logsFolder, { recursive: true });
  const spec: EngineLaunchSpec = {
    version: 1,
    vmId: vm.config.id,
    engine: choice.engine,
    config: vm.config,
    host,
    paths: { maruHome, vmFolder: vm.folder, runFolder: run, socketFolder: sockets.folder, logsFolder },
    options: { acpiTimeoutMs: options.acpiTimeoutMs ?? DEFAULT_ACPI_TIMEOUT_MS },
    launchedAt: new Date().toISOString(),
    launcherPid: process.pid,
  };
  const launchFile = path.join(run, RUN_LAUNCH_FILE);
  await writeJsonAtomic(launchFile, spec);
  return {
    spec,
    launchFile,
    engineHostPath,
    args: [engineHostPath, '--launch', launchFile],
    logFile: path.join(logsFolder, 'engine-host.log'),
  };
}

async function logTail(file: string, lines: number): Promise<string> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '';
    throw err;
  });
  return text.trim().split('\n').slice(-lines).join('\n');
}

/**
 * Starts a VM in a detached engine host (it outlives this process) and waits until it runs.
 * Throws the engine host's own error when it cannot start the VM.
 */
export async function startVm(maruHome: string, ref: string, options: LaunchOptions = {}): Promise<StartVmResult> {
  let prepared: PreparedLaunch;
  try {
    prepared = await prepareVmLaunch(maruHome, ref, options);
    await rotateLogs(path.dirname(prepared.logFile), [path.basename(prepared.logFile)]);
  } catch (err) {
    releasePrewarmed(options.prewarmed);
    throw err;
  }
  const { spec, logFile } = prepared;
  const warm = options.prewarmed;
  let child: ChildProcess;
  if (warm && warm.scriptPath === prepared.engineHostPath && warm.child.connected) {
    // Its Node start-up ran while we checked the VM: hand it the launch file (it opens the log itself).
    child = warm.child;
    const launch: EngineHostLaunchMessage = { type: 'maru-launch', launchFile: prepared.launchFile, logFile };
    child.send(launch);
  } else {
    releasePrewarmed(warm);
    const fd = openSync(logFile, 'a', 0o600);
    try {
      child = spawn(process.execPath, [...prepared.args], {
        detached: true,
        stdio: ['ignore', fd, fd, 'ipc'],
        env: options.env ?? process.env,
        windowsHide: true,
      });
    } finally {
      closeSync(fd);
    }
  }
  const timeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  type Outcome =
    | { kind: 'message'; msg: EngineHostParentMessage }
    | { kind: 'exit'; code: number | null; signal: NodeJS.Signals | null }
    | { kind: 'error'; error: Error }
    | { kind: 'timeout' }
    | { kind: 'cancelled' };
  const outcome = await new Promise<Outcome>((resolve) => {
    const timer = setTimeout(() => resolve({ kind: 'timeout' }), timeoutMs);
    const onAbort = (): void => resolve({ kind: 'cancelled' });
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const done = (o: Outcome): void => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      resolve(o);
    };
    child.on('message', (m: unknown) => {
      const msg = m as EngineHostParentMessage;
      if (msg && msg.type === 'maru-engine-host') done({ kind: 'message', msg });
    });
    child.once('exit', (code, signal) => done({ kind: 'exit', code, signal }));
    child.once('error', (error) => done({ kind: 'error', error }));
  });
  // Let the engine host go: it must outlive us.
  if (child.connected) child.disconnect();
  child.unref();
  const name = spec.config.name;
  switch (outcome.kind) {
    case 'message':
      if (outcome.msg.event === 'failed') {
        throw new AppError(outcome.msg.error.code as ErrorCode, outcome.msg.error.message);
      }
      break;
    case 'cancelled':
      child.kill('SIGTERM');
      throw new CancelledError(`Starting VM ${JSON.stringify(name)} was cancelled; it is being stopped.`);
    case 'timeout':
      throw new AppError(
        'IO',
        `VM ${JSON.stringify(name)} did not start within ${Math.round(timeoutMs / 1000)} s. Its engine host may still ` +
          `be starting; see ${logFile}.`,
      );
    case 'error':
      throw new AppError('INTERNAL', `The engine host could not be started: ${outcome.error.message}`);
    case 'exit': {
      const tail = await logTail(logFile, 6);
      throw new AppError(
        'INTERNAL',
        `The engine host of VM ${JSON.stringify(name)} ended before the VM started ` +
          `(${outcome.signal ? `signal ${outcome.signal}` : `exit status ${outcome.code}`}). Last log lines:\n${tail}`,
      );
    }
  }
  const client = await EngineHostClient.connect(controlEndpointOf(spec.paths.runFolder, spec.paths.socketFolder));
  try {
    const status = await client.status();
    return { vm: { id: spec.vmId, name }, status, logFile };
  } finally {
    client.dispose();
  }
}

function controlEndpointOf(run: string, socketFolder: string): string {
  const state = readJsonSync<EngineRunState>(path.join(run, RUN_STATE_FILE));
  return state?.controlEndpoint ?? path.join(socketFolder, 'control.sock');
}

/** A running VM's control client, with the VM it belongs to. Dispose the client when done. */
export interface EngineConnection {
  readonly vm: VmDetails;
  readonly client: EngineHostClient;
  /** The engine host's pid (to wait for its exit after a stop). */
  readonly hostPid: number;
}

/**
 * Waits until the engine host `pid` has exited (it replies to stop/save-state, then removes
 * its sockets, lock and run folder). Resolves false when it is still there after `timeoutMs`.
 */
export async function waitForEngineHostExit(pid: number, timeoutMs = 30_000): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (isProcessAlive(pid)) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

/**
 * Connects to a running VM's engine host. Throws NOT_FOUND ("not running", with the VM's
 * state and what to do) when no engine host runs it.
 */
export async function connectEngineHost(maruHome: string, ref: string): Promise<EngineConnection> {
  const library = new Library({ maruHome });
  const vm = await library.show(ref);
  const run = runFolder(maruHome, vm.config.id);
  const lock = readLockSync(path.join(run, RUN_LOCK_FILE));
  const state = readJsonSync<EngineRunState>(path.join(run, RUN_STATE_FILE));
  const label = JSON.stringify(vm.config.name);
  if (!lock || !isProcessAlive(lock.pid) || !state) {
    const why = vm.state === 'aborted' ? abortedReason(vm) : '';
    throw new AppError(
      'NOT_FOUND',
      `VM ${label} is not running (${vm.state}${why ? `: ${why}` : ''}). Start it with "maru start ${vm.config.name}".`,
    );
  }
  try {
    return { vm, client: await EngineHostClient.connect(state.controlEndpoint), hostPid: lock.pid };
  } catch (err) {
    if (err instanceof AppError && err.code === 'NOT_FOUND') {
      throw new AppError(
        'BUSY',
        `VM ${label} is starting or stopping right now (its control socket is not open); try again.`,
      );
    }
    throw err;
  }
}

function abortedReason(vm: VmDetails): string {
  const marker = readJsonSync<AbortedMarker>(path.join(vm.folder, ABORTED_MARKER_FILE));
  return marker?.reason ?? 'its engine host ended without cleaning up';
}

/** Why the VM is `aborted`, or null when it is not. */
export async function abortedInfo(maruHome: string, ref: string): Promise<AbortedMarker | null> {
  const vm = await new Library({ maruHome }).show(ref);
  return readJsonSync<AbortedMarker>(path.join(vm.folder, ABORTED_MARKER_FILE));
}

/**
 * Cleans up after an engine host that died (killed, crashed): ends its leftover qemu/swtpm,
 * removes its run folder, and records the VM as aborted. Returns what it ended, or null when
 * there was nothing to clean (the VM is off, or runs normally).
 */
export async function recoverAbandonedRun(maruHome: string, ref: string): Promise<string[] | null> {
  const vm = await new Library({ maruHome }).show(ref);
  const run = runFolder(maruHome, vm.config.id);
  const lock = readLockSync(path.join(run, RUN_LOCK_FILE));
  if (!lock || isProcessAlive(lock.pid)) return null;
  const { ended, previous } = await recoverStaleRun(run, vm.config.id, () => undefined);
  const markerFile = path.join(vm.folder, ABORTED_MARKER_FILE);
  if (!existsSync(markerFile)) {
    const marker: AbortedMarker = {
      at: new Date().toISOString(),
      reason: `The engine host (pid ${lock.pid}) ended without stopping the VM.`,
      logs: [path.join(vm.folder, 'logs', 'engine-host.log'), path.join(vm.folder, 'logs', 'qemu.log')],
    };
    await writeJsonAtomic(markerFile, marker);
  }
  if (previous && previous.socketFolder !== run) await rm(previous.socketFolder, { recursive: true, force: true });
  await rm(run, { recursive: true, force: true });
  return ended;
}

/**
 * Drops a VM's saved state (VM off): deletes its internal snapshot from every image and the
 * marker, so the next start boots afresh. Throws when there is none or the VM runs.
 */
export async function discardSavedState(
  maruHome: string,
  ref: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const vm = await new Library({ maruHome }).show(ref);
  assertNotRunning(maruHome, vm);
  const markerFile = path.join(vm.folder, SAVED_STATE_MARKER_FILE);
  const marker = readJsonSync<SavedStateMarker>(markerFile);
  if (!marker) throw new AppError('NOT_FOUND', `VM ${JSON.stringify(vm.config.name)} has no saved state.`);
  if (marker.engine === 'v86') {
    await discardV86SavedState(marker); // pure TypeScript: hosts without qemu-img run v86
    await rm(markerFile, { force: true });
    return;
  }
  const host = await probeHost({ maruHome, ...probeOverridesFromEnv(env) });
  if (!host.qemu.img)
    throw new AppError('MISSING_DEPENDENCY', "qemu-img is needed to discard a saved state: install QEMU's tools.");
  for (const image of marker.images) {
    if (!(await stat(image).catch(() => null))) continue;
    if ((await listSnapshots(host.qemu.img.path, image)).includes(marker.tag)) {
      await deleteSnapshot(host.qemu.img.path, image, marker.tag);
    }
  }
  await rm(markerFile, { force: true });
}
