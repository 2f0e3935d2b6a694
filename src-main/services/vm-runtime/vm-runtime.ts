// The VM runtime: the `vm` control service every front end calls. It checks a VM can run,
// writes its launch file, has an engine host spawned (the strategy it was given), waits for
// the engine host's own `ready` report, and reaches running VMs' control endpoints for
// everything else. It announces run-state changes as control events.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, watch, type FSWatcher } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import {
  type AbortedMarker,
  type EngineHostLaunchMessage,
  type EngineHostParentMessage,
  type EngineLaunchSpec,
  type EngineState,
  type EngineStatus,
  type SavedStateMarker,
  type ScreenshotWire,
  type StopResult,
} from '../../../src-shared/contracts/engine';
import type { ControlEvent } from '../../../src-shared/contracts/control';
import type { JobOptions } from '../../../src-shared/contracts/jobs';
import type { VmDetails, VmPowerState } from '../../../src-shared/contracts/library';
import type {
  SerialFollowResult,
  VmMediaResult,
  VmNicResult,
  VmService,
  VmStartResult,
  VmThumbnail,
} from '../../../src-shared/contracts/vm';
import type { PortForwardArgs } from '../../../src-shared/contracts/library';
import { nicProblems, portForwardName } from '../../../src-shared/network-adapters';
import type { NicConfig, PortForward } from '../../../src-shared/vm-config';
import { AppError, CancelledError, type ErrorCode } from '../../../src-shared/errors';
import { isUuid } from '../../../src-shared/ids';
import { Emitter } from '../../../src-emulator/base/event';
import { EngineHostClient } from '../../../src-emulator/engine-host/control-client';
import { recoverStaleRun } from '../../../src-emulator/engine-host/stale-run';
import { readJsonSync, writeFileAtomic, writeJsonAtomic } from '../../../src-node/atomic-file';
import { rotateLogs } from '../../../src-node/log-rotation';
import {
  chooseSocketFolder,
  LAST_SCREEN_FILE,
  readRunStatus,
  runFiles,
  runFolder,
  vmMarkerFiles,
  type RunStatus,
} from '../../../src-node/run-folder';
import { waitForProcessExit } from '../../../src-node/run-lock';
import { comboKeys, textToKeyStrokes } from '../../../src-emulator/input/key-mapping';
import { inspectIso } from '../../../src-emulator/media/iso-image';
import { discardSavedState } from '../../../src-emulator/engines/saved-state';
import { probeHost } from '../host-probe/host-probe';
import { noNic, type Library } from '../library/library-service';
import { assertHostPortFree } from './host-port';
import { defaultEngineHostPath, releasePrewarmed, type PrewarmedEngineHost } from './engine-host-process';
import type { EngineHostLaunch, EngineHostSpawner, SpawnedEngineHost } from './engine-host-spawner';
import { checkVmCanRun, probeOverridesFromEnv } from './preflight';

/** Default wait for a guest to power off after the ACPI power button (then it is forced off). */
export const DEFAULT_ACPI_TIMEOUT_MS = 60_000;
/** Default limit for an engine host to report that the VM runs. */
export const DEFAULT_START_TIMEOUT_MS = 120_000;
/** How long a stop, save or cancel waits for the engine host to clean up and exit. */
const ENGINE_HOST_EXIT_TIMEOUT_MS = 30_000;

export interface VmRuntimeOptions {
  readonly maruHome: string;
  readonly library: Library;
  readonly spawner: EngineHostSpawner;
  /** Overrides (MARU_QEMU_DIRS, MARU_FIRMWARE_DIRS, MARU_SWTPM_DIRS, MARU_ENGINE_HOST); default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  readonly acpiTimeoutMs?: number;
  readonly startTimeoutMs?: number;
  /** Runs before each start (the snapshot service finishes an interrupted operation there). */
  readonly beforeStart?: (vmRef: string) => Promise<void>;
}

/** A running VM as seen from its run folder: the lock, whether its engine host lives, its state. */
interface RunView extends RunStatus {
  readonly folder: string;
}

export class VmRuntime implements VmService {
  private readonly maruHome: string;
  private readonly library: Library;
  private readonly spawner: EngineHostSpawner;
  private readonly env: NodeJS.ProcessEnv;
  private readonly events = new Emitter<ControlEvent>();
  private watcher: FSWatcher | null = null;
  private disposed = false;

  constructor(private readonly options: VmRuntimeOptions) {
    this.maruHome = options.maruHome;
    this.library = options.library;
    this.spawner = options.spawner;
    this.env = options.env ?? process.env;
  }

  /** Run-state changes: from this runtime's own operations, and engine hosts appearing or ending. */
  onEvent(listener: (event: ControlEvent) => void): () => void {
    this.watchRunFolders();
    const sub = this.events.event(listener);
    return () => sub.dispose();
  }

  dispose(): void {
    this.disposed = true;
    this.watcher?.close();
    this.watcher = null;
    this.events.dispose();
  }

  private changed(vmId: string, known?: VmPowerState): void {
    if (known) {
      this.events.fire({ type: 'vm.changed', vmId, state: known });
      return;
    }
    void this.library.show(vmId).then(
      (vm) => this.events.fire({ type: 'vm.changed', vmId, state: vm.state }),
      () => this.events.fire({ type: 'vm.changed', vmId, state: null }),
    );
  }

  /**
   * Engine hosts started elsewhere (another front end, the CLI) create and remove their
   * `run/<uuid>` folders: watching `run/` tells every front end when a VM starts or ends.
   */
  private watchRunFolders(): void {
    if (this.watcher || this.disposed) return;
    const runRoot = path.join(this.maruHome, 'run');
    const start = (): void => {
      if (this.watcher || this.disposed) return;
      const pending = new Set<string>();
      let timer: NodeJS.Timeout | null = null;
      try {
        this.watcher = watch(runRoot, (_type, name) => {
          if (!name || !isUuid(name)) return;
          pending.add(name);
          timer ??= setTimeout(() => {
            timer = null;
            for (const id of pending) this.changed(id);
            pending.clear();
          }, 100);
        });
        this.watcher.on('error', () => undefined); // the folder went away: events from our own operations remain
        this.watcher.unref();
      } catch {
        // No watcher on this platform/file system: our own operations still announce their changes.
      }
    };
    // A run folder that cannot be made (read-only home): our own operations still announce changes.
    void mkdir(runRoot, { recursive: true, mode: 0o700 }).then(start, () => undefined);
  }

  private runView(vmId: string): RunView {
    return { folder: runFolder(this.maruHome, vmId), ...readRunStatus(this.maruHome, vmId) };
  }

  // ---- start ----

  async start(ref: string, job: JobOptions = {}): Promise<VmStartResult> {
    const progress = (phase: string, fraction: number): void => job.onProgress?.({ phase, fraction });
    progress('check', 0);
    await this.options.beforeStart?.(ref);
    const vm = await this.library.show(ref);
    const name = vm.config.name;
    let run = this.runView(vm.config.id);
    if (run.lock && !run.alive) {
      await this.recoverAbandoned(vm, run);
      run = this.runView(vm.config.id);
    }
    if (run.alive) {
      throw new AppError(
        'BUSY',
        `VM ${JSON.stringify(name)} is already running (engine host pid ${run.lock!.pid}, started ${run.lock!.startedAt}). ` +
          `Stop it with "maru stop ${name}", or view it with "maru serve".`,
        { pid: run.lock!.pid },
      );
    }
    const host = await probeHost({ maruHome: this.maruHome, ...probeOverridesFromEnv(this.env) });
    const choice = await checkVmCanRun(vm.config, vm.folder, host);
    throwIfCancelled(job, name);
    const engineHostPath = defaultEngineHostPath(this.env);

    await mkdir(run.folder, { recursive: true, mode: 0o700 });
    const sockets = chooseSocketFolder({
      runFolder: run.folder,
      vmId: vm.config.id,
      platform: process.platform,
      env: this.env,
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
      paths: {
        maruHome: this.maruHome,
        vmFolder: vm.folder,
        runFolder: run.folder,
        socketFolder: sockets.folder,
        logsFolder,
      },
      options: { acpiTimeoutMs: this.options.acpiTimeoutMs ?? DEFAULT_ACPI_TIMEOUT_MS },
      launchedAt: new Date().toISOString(),
      launcherPid: process.pid,
    };
    const launchFile = runFiles(run.folder).launch;
    await writeJsonAtomic(launchFile, spec);
    const logFile = path.join(logsFolder, 'engine-host.log');
    await rotateLogs(logsFolder, ['engine-host.log']);
    throwIfCancelled(job, name);

    progress('launch', 0.2);
    const child = this.spawner.spawn({
      vmId: vm.config.id,
      vmName: name,
      engineHostPath,
      launchFile,
      logFile,
      env: this.env,
    });
    let status: EngineStatus | null = null;
    try {
      status = await this.awaitReady(child, name, logFile, job);
      progress('running', 1);
      return { vmId: vm.config.id, name, status };
    } finally {
      child.release();
      this.changed(vm.config.id, status ? powerStateOf(status.state) : undefined);
    }
  }

  /** Waits for the engine host's `ready` (with its status) or `failed` report, its exit, a timeout or cancel. */
  private async awaitReady(
    child: SpawnedEngineHost,
    name: string,
    logFile: string,
    job: JobOptions,
  ): Promise<EngineStatus> {
    const timeoutMs = this.options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    type Outcome =
      | { kind: 'message'; msg: EngineHostParentMessage }
      | { kind: 'exit'; code: number | null; signal: string | null }
      | { kind: 'error'; error: Error }
      | { kind: 'timeout' }
      | { kind: 'cancelled' };
    let exited: () => void = () => undefined;
    const exitedPromise = new Promise<void>((resolve) => (exited = resolve));
    child.onExit(() => exited());
    const outcome = await new Promise<Outcome>((resolve) => {
      const timer = setTimeout(() => done({ kind: 'timeout' }), timeoutMs);
      const onAbort = (): void => done({ kind: 'cancelled' });
      job.signal?.addEventListener('abort', onAbort, { once: true });
      function done(o: Outcome): void {
        clearTimeout(timer);
        job.signal?.removeEventListener('abort', onAbort);
        resolve(o);
      }
      if (job.signal?.aborted) done({ kind: 'cancelled' });
      child.onMessage((m) => {
        const msg = m as EngineHostParentMessage | null;
        if (msg && typeof msg === 'object' && msg.type === 'maru-engine-host') done({ kind: 'message', msg });
      });
      child.onExit((code, signal) => done({ kind: 'exit', code, signal }));
      child.onError((error) => done({ kind: 'error', error }));
    });
    const label = JSON.stringify(name);
    switch (outcome.kind) {
      case 'message':
        if (outcome.msg.event === 'ready') return outcome.msg.status;
        throw new AppError(outcome.msg.error.code as ErrorCode, outcome.msg.error.message);
      case 'cancelled': {
        // The engine host stops its VM on SIGTERM and cleans up; report once it is gone.
        child.kill();
        child.release(); // an open IPC channel would keep the ending engine host alive
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([exitedPromise, new Promise((r) => (timer = setTimeout(r, ENGINE_HOST_EXIT_TIMEOUT_MS)))]);
        clearTimeout(timer);
        throw new CancelledError(`Starting VM ${label} was cancelled; it is off.`);
      }
      case 'timeout':
        throw new AppError(
          'IO',
          `VM ${label} did not start within ${Math.round(timeoutMs / 1000)} s. Its engine host may still be starting; ` +
            `see ${logFile}.`,
        );
      case 'error':
        throw new AppError('INTERNAL', `The engine host could not be started: ${outcome.error.message}`);
      case 'exit': {
        const tail = await logTail(logFile, 6);
        throw new AppError(
          'INTERNAL',
          `The engine host of VM ${label} ended before the VM started ` +
            `(${outcome.signal ? `signal ${outcome.signal}` : `exit status ${outcome.code}`}). Last log lines:\n${tail}`,
        );
      }
    }
  }

  // ---- running VMs ----

  /**
   * Runs `fn` with a control client of the running VM. Throws NOT_FOUND ("not running", with
   * the VM's state and what to do) when no engine host runs it.
   */
  async withEngine<T>(
    ref: string,
    fn: (client: EngineHostClient, vm: VmDetails, pid: number) => Promise<T>,
  ): Promise<T> {
    const vm = await this.library.show(ref);
    return this.withRunningEngine(vm, this.runView(vm.config.id), fn);
  }

  /** `withEngine` for a VM and run folder the caller has already read. */
  private async withRunningEngine<T>(
    vm: VmDetails,
    run: RunView,
    fn: (client: EngineHostClient, vm: VmDetails, pid: number) => Promise<T>,
  ): Promise<T> {
    const label = JSON.stringify(vm.config.name);
    if (!run.alive || !run.state) {
      const why =
        vm.state === 'aborted' ? (readAborted(vm)?.reason ?? 'its engine host ended without cleaning up') : '';
      throw new AppError(
        'NOT_FOUND',
        `VM ${label} is not running (${vm.state}${why ? `: ${why}` : ''}). Start it with "maru start ${vm.config.name}".`,
      );
    }
    let client: EngineHostClient;
    try {
      client = await EngineHostClient.connect(run.state.controlEndpoint);
    } catch (err) {
      if (err instanceof AppError && err.code === 'NOT_FOUND') {
        throw new AppError(
          'BUSY',
          `VM ${label} is starting or stopping right now (its control socket is not open); try again.`,
        );
      }
      throw err;
    }
    try {
      return await fn(client, vm, run.lock!.pid);
    } finally {
      client.dispose();
    }
  }

  /** Ends what a dead engine host left running (its QEMU, swtpm), so the VM's images are free again. */
  async releaseAbandoned(ref: string): Promise<void> {
    const vm = await this.library.show(ref);
    const run = this.runView(vm.config.id);
    if (!run.lock || run.alive) return;
    await this.recoverAbandoned(vm, run);
    this.changed(vm.config.id);
  }

  async stop(ref: string, options: { force: boolean; timeoutSeconds?: number | undefined }): Promise<StopResult> {
    if (options.force && options.timeoutSeconds !== undefined) {
      throw new AppError('INVALID_ARGUMENT', 'A timeout applies to an ACPI stop, not a forced one.');
    }
    const vm = await this.library.show(ref);
    const run = this.runView(vm.config.id);
    if (run.lock && !run.alive) {
      const ended = await this.recoverAbandoned(vm, run);
      this.changed(vm.config.id);
      return {
        state: 'aborted',
        forced: true,
        message:
          `VM ${JSON.stringify(vm.config.name)} was not running: its engine host had ended abnormally. Cleaned up` +
          (ended.length ? ` (${ended.join(', ')}).` : '.'),
      };
    }
    const result = await this.withRunningEngine(vm, run, async (client, _vm, pid) => {
      await this.keepLastScreen(client, vm);
      const r = await client.stop({
        mode: options.force ? 'force' : 'acpi',
        ...(options.timeoutSeconds !== undefined ? { timeoutMs: options.timeoutSeconds * 1000 } : {}),
      });
      await waitForProcessExit(pid, ENGINE_HOST_EXIT_TIMEOUT_MS, 20);
      return r;
    });
    this.changed(vm.config.id);
    return result;
  }

  pause(ref: string): Promise<EngineStatus> {
    return this.stateChange(ref, (c) => c.pause());
  }

  resume(ref: string): Promise<EngineStatus> {
    return this.stateChange(ref, (c) => c.resume());
  }

  reset(ref: string): Promise<EngineStatus> {
    return this.stateChange(ref, (c) => c.reset());
  }

  private async stateChange(ref: string, fn: (c: EngineHostClient) => Promise<EngineStatus>): Promise<EngineStatus> {
    const status = await this.withEngine(ref, (c) => fn(c));
    this.changed(status.vmId, powerStateOf(status.state));
    return status;
  }

  async saveState(ref: string, job: JobOptions = {}): Promise<StopResult> {
    // Not cancellable: QEMU and v86 write the state in one go; a half-written state is worse than waiting.
    job.onProgress?.({ phase: 'save', fraction: 0 });
    const { result, vmId } = await this.withEngine(ref, async (client, vm, pid) => {
      await this.keepLastScreen(client, vm);
      const r = await client.saveState();
      await waitForProcessExit(pid, ENGINE_HOST_EXIT_TIMEOUT_MS, 20);
      return { result: r, vmId: vm.config.id };
    });
    job.onProgress?.({ phase: 'save', fraction: 1 });
    this.changed(vmId);
    return result;
  }

  async discardState(ref: string): Promise<void> {
    const vm = await this.library.show(ref);
    if (this.runView(vm.config.id).alive) {
      throw new AppError('BUSY', `VM ${JSON.stringify(vm.config.name)} is running; its saved state is in use.`);
    }
    const markerFile = vmMarkerFiles(vm.folder).savedState;
    const marker = readJsonSync<SavedStateMarker>(markerFile);
    if (!marker) throw new AppError('NOT_FOUND', `VM ${JSON.stringify(vm.config.name)} has no saved state.`);
    // Only QEMU's states need the host probe (for qemu-img); v86 states are pure TypeScript.
    const qemuImgPath =
      marker.engine === 'qemu'
        ? ((await probeHost({ maruHome: this.maruHome, ...probeOverridesFromEnv(this.env) })).qemu.img?.path ?? null)
        : null;
    // A user's snapshot restored while off: the snapshot stays, only its use as the saved state ends.
    if (!marker.keep) await discardSavedState(marker, { qemuImgPath });
    await rm(markerFile, { force: true });
    this.changed(vm.config.id);
  }

  async attachIso(ref: string, isoPath: string): Promise<VmMediaResult> {
    const iso = await inspectIso(isoPath);
    return this.changeMedium(ref, 'cdrom', iso.path);
  }

  eject(ref: string): Promise<VmMediaResult> {
    return this.changeMedium(ref, 'cdrom', null);
  }

  /** A running VM's drive changes for this run (the engine checks the image); a stored VM's config changes. */
  async changeMedium(ref: string, drive: string, medium: string | null): Promise<VmMediaResult> {
    const vm = await this.library.show(ref);
    const c = vm.config;
    const base = { vmId: c.id, name: c.name };
    const run = this.runView(c.id);
    if (run.alive) {
      const target = drive === 'cdrom' ? c.cdroms[0] : drive === 'floppy' ? c.floppies[0] : undefined;
      if ((drive === 'cdrom' || drive === 'floppy') && !target) {
        const [what, type] = drive === 'cdrom' ? ['CD/DVD', 'dvd'] : ['floppy', 'fdd'];
        throw new AppError(
          'NOT_FOUND',
          `VM ${JSON.stringify(c.name)} has no ${what} drive. Add one while it is off ` +
            `("maru storage ${c.name} attach --type ${type} --medium emptydrive").`,
        );
      }
      const id = target?.id ?? drive;
      const status = await this.withRunningEngine(vm, run, (client) => client.changeMedium(id, medium));
      this.changed(c.id);
      const now = status.media?.find((m) => m.id === id);
      return {
        ...base,
        live: true,
        iso: now?.medium ?? medium,
        drive: id,
        kind: now?.kind ?? (c.floppies.some((f) => f.id === id) ? 'floppy' : 'cdrom'),
      };
    }
    const r = await this.library.changeMedium(c.id, drive, medium);
    return { ...base, live: false, iso: r.medium, drive: r.drive, kind: r.kind };
  }

  // ---- network adapters: the running VM at once (through its engine host), the config either way

  async setLinkState(ref: string, nicIndex: number, connected: boolean): Promise<VmNicResult> {
    const vm = await this.library.show(ref);
    this.nicOf(vm, nicIndex);
    const live = await this.ifRunning(vm, (client) => client.setLinkState(nicIndex, connected));
    return this.storeNic(vm, nicIndex, live, (n) => ({ ...n, cableConnected: connected }));
  }

  async addPortForward(ref: string, nicIndex: number, args: PortForwardArgs): Promise<VmNicResult> {
    const vm = await this.library.show(ref);
    const c = vm.config;
    const nic = this.natNicOf(vm, nicIndex);
    const rule: PortForward = {
      ...args,
      hostAddress: args.hostAddress ?? '127.0.0.1',
      name: args.name ?? portForwardName({ protocol: args.protocol, hostPort: args.hostPort }),
    };
    const name = rule.name!;
    if (nic.portForwards.some((f) => portForwardName(f) === name)) {
      throw new AppError(
        'ALREADY_EXISTS',
        `Adapter ${nicIndex + 1} of VM ${JSON.stringify(c.name)} already has a port-forward rule named "${name}"; ` +
          `choose another name, or remove that rule first ("maru natpf ${c.name} --nic ${nicIndex + 1} delete ${name}").`,
      );
    }
    const add = (n: NicConfig): NicConfig => ({ ...n, portForwards: [...n.portForwards, rule] });
    // The whole set is checked (a host port forwarded twice …) before the running VM is asked.
    const problems = nicProblems({ id: c.id, nics: c.nics.map((n, i) => (i === nicIndex ? add(n) : n)) });
    if (problems.length > 0) throw new AppError('INVALID_ARGUMENT', problems.join(' '));
    const live = await this.ifRunning(vm, async (client) => {
      await assertHostPortFree(rule);
      await client.addPortForward(nicIndex, rule);
    });
    try {
      return await this.storeNic(vm, nicIndex, live, add);
    } catch (err) {
      // Not stored: the running VM drops it too, so what runs and what is saved agree.
      if (live) await this.ifRunning(vm, (client) => client.removePortForward(nicIndex, rule)).catch(() => false);
      throw err;
    }
  }

  async removePortForward(ref: string, nicIndex: number, name: string): Promise<VmNicResult> {
    const vm = await this.library.show(ref);
    const c = vm.config;
    const nic = this.nicOf(vm, nicIndex);
    const rule = nic.portForwards.find((f) => portForwardName(f) === name);
    if (!rule) {
      const names = nic.portForwards.map((f) => `"${portForwardName(f)}"`);
      throw new AppError(
        'NOT_FOUND',
        `Adapter ${nicIndex + 1} of VM ${JSON.stringify(c.name)} has no port-forward rule "${name}" ` +
          `(${names.length ? `it has ${names.join(', ')}` : 'it has none'}).`,
      );
    }
    const live = await this.ifRunning(vm, (client) => client.removePortForward(nicIndex, rule));
    return this.storeNic(vm, nicIndex, live, (n) => ({
      ...n,
      portForwards: n.portForwards.filter((f) => portForwardName(f) !== name),
    }));
  }

  /** Adapter `index` of the VM, or NOT_FOUND. */
  private nicOf(vm: VmDetails, index: number): NicConfig {
    const nic = vm.config.nics[index];
    if (!nic) throw noNic(vm.config, index);
    return nic;
  }

  /** NAT adapter `index` of the VM, or why it forwards no ports. */
  private natNicOf(vm: VmDetails, index: number): NicConfig {
    const nic = this.nicOf(vm, index);
    if (nic.attachment !== 'nat') {
      const c = vm.config;
      throw new AppError(
        'UNSUPPORTED',
        `Adapter ${index + 1} of VM ${JSON.stringify(c.name)} is ${nic.attachment === 'internal' ? `on internal network "${nic.network}"` : 'not attached'}: ` +
          `only a NAT adapter forwards ports. Attach it to NAT while the VM is off ("maru modify ${c.name} --nic${index + 1} nat").`,
      );
    }
    return nic;
  }

  /** Runs `fn` on the running VM's engine host; false (nothing done) when the VM is not running. */
  private async ifRunning(vm: VmDetails, fn: (client: EngineHostClient) => Promise<unknown>): Promise<boolean> {
    const run = this.runView(vm.config.id);
    if (!run.alive) return false;
    await this.withRunningEngine(vm, run, fn);
    return true;
  }

  private async storeNic(
    vm: VmDetails,
    index: number,
    live: boolean,
    change: (nic: NicConfig) => NicConfig,
  ): Promise<VmNicResult> {
    const r = await this.library.changeNic(vm.config.id, index, change);
    this.changed(vm.config.id);
    return { vmId: vm.config.id, name: vm.config.name, live, nicIndex: index, nic: r.nic };
  }

  async status(ref: string): Promise<EngineStatus | null> {
    const vm = await this.library.show(ref);
    const run = this.runView(vm.config.id);
    if (!run.alive) return null;
    try {
      return await this.withRunningEngine(vm, run, (c) => c.status());
    } catch (err) {
      if (err instanceof AppError && (err.code === 'NOT_FOUND' || err.code === 'BUSY')) return null;
      throw err;
    }
  }

  async abortInfo(ref: string): Promise<AbortedMarker | null> {
    return readAborted(await this.library.show(ref));
  }

  screenshot(ref: string): Promise<ScreenshotWire> {
    return this.withEngine(ref, (c) => c.screenshot());
  }

  async thumbnail(ref: string): Promise<VmThumbnail | null> {
    const vm = await this.library.show(ref);
    const run = this.runView(vm.config.id);
    if (run.alive) {
      try {
        const shot = await this.withRunningEngine(vm, run, (c) => c.screenshot());
        return { pngBase64: shot.pngBase64, live: true };
      } catch {
        // Starting or stopping: the last screen kept, if any.
      }
    }
    try {
      return { pngBase64: (await readFile(path.join(vm.folder, LAST_SCREEN_FILE))).toString('base64'), live: false };
    } catch {
      return null;
    }
  }

  /** Keeps the screen of a VM about to stop or save, for its library row. Never throws. */
  private async keepLastScreen(client: EngineHostClient, vm: VmDetails): Promise<void> {
    try {
      const shot = await client.screenshot();
      await writeFileAtomic(path.join(vm.folder, LAST_SCREEN_FILE), Buffer.from(shot.pngBase64, 'base64'));
    } catch {
      // No screen to keep (no display yet): the row shows the OS icon instead.
    }
  }

  async sendKeys(ref: string, input: { text: string } | { combos: readonly (readonly string[])[] }): Promise<void> {
    // Refuse untypable text and unknown keys before connecting.
    if ('text' in input) {
      textToKeyStrokes(input.text);
      await this.withEngine(ref, (c) => c.sendKeys(input.text));
      return;
    }
    const strokes = input.combos.map((keys) => comboKeys(keys));
    await this.withEngine(ref, async (c) => {
      for (const s of strokes) await c.sendCombo(s);
    });
  }

  sendSerial(ref: string, text: string): Promise<void> {
    return this.withEngine(ref, (c) => c.serialWrite(`${text}\r`));
  }

  async readSerial(ref: string): Promise<string> {
    const vm = await this.library.show(ref);
    const text = await readFile(path.join(vm.folder, 'logs', 'serial.log'), 'utf8').catch(
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return null;
        throw err;
      },
    );
    if (text === null) throw new AppError('NOT_FOUND', `VM "${vm.config.name}" has no serial log yet (it never ran).`);
    return text;
  }

  followSerial(ref: string, options: { history: boolean }, job: JobOptions = {}): Promise<SerialFollowResult> {
    return this.withEngine(ref, (client) => {
      return new Promise<SerialFollowResult>((resolve, reject) => {
        if (job.signal?.aborted) return resolve({ endedState: null });
        const onAbort = (): void => finish({ endedState: null });
        job.signal?.addEventListener('abort', onAbort, { once: true });
        function finish(r: SerialFollowResult): void {
          job.signal?.removeEventListener('abort', onAbort);
          resolve(r);
        }
        client
          .followSerial(
            options.history,
            (data) => job.onProgress?.({ phase: 'serial', fraction: 0, data: Buffer.from(data).toString('base64') }),
            (state: EngineState | null) => finish({ endedState: state }),
          )
          .catch(reject);
      });
    });
  }

  // ---- recovery ----

  /**
   * Cleans up after an engine host that died (killed, crashed): ends its leftover engine
   * processes, removes its run folder, and records the VM as aborted. Returns what it ended.
   */
  private async recoverAbandoned(vm: VmDetails, run: RunView): Promise<string[]> {
    const { ended, previous } = await recoverStaleRun(run.folder, vm.config.id, () => undefined);
    const markerFile = vmMarkerFiles(vm.folder).aborted;
    if (!readJsonSync<AbortedMarker>(markerFile)) {
      const marker: AbortedMarker = {
        at: new Date().toISOString(),
        reason: `The engine host (pid ${run.lock?.pid ?? '?'}) ended without stopping the VM.`,
        logs: [path.join(vm.folder, 'logs', 'engine-host.log'), path.join(vm.folder, 'logs', 'qemu.log')],
      };
      await writeJsonAtomic(markerFile, marker);
    }
    if (previous && previous.socketFolder !== run.folder)
      await rm(previous.socketFolder, { recursive: true, force: true });
    await rm(run.folder, { recursive: true, force: true });
    return ended;
  }
}

/** The library's power state for a live engine state; undefined when the library must be asked. */
function powerStateOf(state: EngineState): VmPowerState | undefined {
  return state === 'running' || state === 'paused' ? state : undefined;
}

function throwIfCancelled(job: JobOptions, name: string): void {
  if (job.signal?.aborted) throw new CancelledError(`Starting VM ${JSON.stringify(name)} was cancelled.`);
}

function readAborted(vm: VmDetails): AbortedMarker | null {
  return readJsonSync<AbortedMarker>(vmMarkerFiles(vm.folder).aborted);
}

async function logTail(file: string, lines: number): Promise<string> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '';
    throw err;
  });
  return text.trim().split('\n').slice(-lines).join('\n');
}

function wrapChild(child: ChildProcess): SpawnedEngineHost {
  return {
    onMessage: (l) => child.on('message', l),
    onExit: (l) => child.on('exit', (code, signal) => l(code, signal)),
    onError: (l) => child.on('error', l),
    kill: () => void child.kill('SIGTERM'),
    release: () => {
      // Let the engine host go: it must outlive us. Its exit is still reported while we live.
      if (child.connected) child.disconnect();
      child.unref();
    },
  };
}

/**
 * Detached Node engine hosts (`maru serve`, the CLI): they outlive the front end that
 * started them. With `prewarmed`, the first launch goes to that already-loaded process.
 */
export function detachedNodeSpawner(options: { prewarmed?: PrewarmedEngineHost | null } = {}): EngineHostSpawner {
  let warm = options.prewarmed ?? null;
  return {
    spawn(launch: EngineHostLaunch): SpawnedEngineHost {
      const taken = warm;
      warm = null;
      if (taken && taken.scriptPath === launch.engineHostPath && taken.child.connected) {
        const message: EngineHostLaunchMessage = {
          type: 'maru-launch',
          launchFile: launch.launchFile,
          logFile: launch.logFile,
        };
        taken.child.send(message);
        return wrapChild(taken.child);
      }
      releasePrewarmed(taken);
      const fd = openSync(launch.logFile, 'a', 0o600);
      try {
        const child = spawn(process.execPath, [launch.engineHostPath, '--launch', launch.launchFile], {
          detached: true,
          stdio: ['ignore', fd, fd, 'ipc'],
          env: launch.env,
          windowsHide: true,
        });
        return wrapChild(child);
      } finally {
        closeSync(fd);
      }
    },
  };
}
