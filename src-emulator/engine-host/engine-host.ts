// The engine host: one process per running VM, and this file is its entry (bundled to
// dist/engine-host/engine-host.js). It takes the run lock, creates the engine of the VM's kind
// (each engine's code loads only when a VM needs it), serves the control service on its
// endpoint, keeps state.json current for the library, leaves an `aborted` or `saved-state`
// marker when the VM ends that way, and cleans up after itself.
import { openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import {
  engineHostLaunchMessageSchema,
  type AbortedMarker,
  type EngineControlService,
  type EngineHostLaunchMessage,
  type EngineKind,
  type EngineLaunchSpec,
  type EngineRunState,
  type EngineState,
  type EngineStatus,
  type SavedStateMarker,
  type StopResult,
} from '../../src-shared/contracts/engine';
import { AppError, toWireError } from '../../src-shared/errors';
import type { HostInfo } from '../../src-shared/host-info';
import { vmConfigSchema, type VmConfig } from '../../src-shared/vm-config';
import { Emitter } from '../base/event';
import type { Engine, EngineStateChange } from '../engines/engine';
import type { InternalNetworkPort, JoinInternalNetwork } from '../network/internal-network-port';
import { readJsonSync, writeJsonAtomic } from '../../src-node/atomic-file';
import { rotateLogs } from '../../src-node/log-rotation';
import {
  ABORTED_MARKER_FILE,
  RUN_LAUNCH_FILE,
  RUN_LOCK_FILE,
  RUN_STATE_FILE,
  SAVED_STATE_MARKER_FILE,
  SOCKET_FILES,
  controlEndpointFor,
  ensurePrivateFolder,
} from '../../src-node/run-folder';
import { RunLock } from '../../src-node/run-lock';
import { ControlServer, type ControlStream } from './control-server';
import { listenForConsolePorts } from './console-port-bridge';
import { parentChannel, type ParentChannel } from './parent-channel';
import { recoverStaleRun } from './stale-run';

/** Serial output kept for `serialSubscribe({history: true})`. */
const SERIAL_HISTORY_BYTES = 64 * 1024;
/** Logs rotated at each start (name → name.1 → name.2 → name.3). */
const ROTATED_LOGS = ['serial.log', 'qemu.log', 'swtpm.log', 'swtpm-console.log'];

/** What the engine host gives every engine it creates. */
export interface EngineCreateOptions {
  readonly config: VmConfig;
  readonly host: HostInfo;
  readonly paths: { readonly vmFolder: string; readonly socketFolder: string; readonly logsFolder: string };
  /** Default wait for an ACPI power-off before forcing it (ms). */
  readonly acpiTimeoutMs: number;
  /** Writes a line to the engine host's log. */
  readonly log: (line: string) => void;
  /** The previous run ended abnormally (killed, crashed, aborted): check what it may have damaged first. */
  readonly afterAbnormalEnd: boolean;
  /** `runtimeInfo()` changed outside a state change (a child process started): the host records it. */
  readonly onDidChangeRuntimeInfo: () => void;
  /** Joins an adapter to an internal network; absent where there are none (tests). */
  readonly joinInternalNetwork?: JoinInternalNetwork;
}

type EngineFactory = (options: EngineCreateOptions) => Promise<Engine>;

const ENGINES = {
  qemu: async (o) => {
    const { QemuEngine } = await import('../engines/qemu/qemu-engine');
    return new QemuEngine({
      config: o.config,
      host: o.host,
      paths: o.paths,
      acpiTimeoutMs: o.acpiTimeoutMs,
      log: o.log,
      repairImagesFirst: o.afterAbnormalEnd,
      onDidSpawn: o.onDidChangeRuntimeInfo,
      ...(o.joinInternalNetwork ? { joinInternalNetwork: o.joinInternalNetwork } : {}),
    });
  },
  v86: async (o) => {
    const { V86Engine } = await import('../engines/v86/v86-engine');
    return new V86Engine({
      config: o.config,
      host: o.host,
      paths: o.paths,
      log: o.log,
      ...(o.joinInternalNetwork ? { joinInternalNetwork: o.joinInternalNetwork } : {}),
    });
  },
} satisfies Record<EngineKind, EngineFactory>;

/** Creates the `kind` engine for one VM (not started yet). */
export async function createEngine(kind: EngineKind, options: EngineCreateOptions): Promise<Engine> {
  if (!Object.hasOwn(ENGINES, kind)) {
    throw new AppError(
      'UNSUPPORTED',
      `This engine host has no engine ${JSON.stringify(kind)} (it knows ${Object.keys(ENGINES).join(', ')}): ` +
        'the launcher and the engine host come from different Maru builds. Rebuild or reinstall Maru.',
    );
  }
  return ENGINES[kind](options);
}

/** Reads and checks a launch file written by the launcher. */
export function readLaunchSpec(file: string): EngineLaunchSpec {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new AppError('INVALID_ARGUMENT', `Cannot read the launch file ${file}: ${(err as Error).message}`);
  }
  const spec = raw as Partial<EngineLaunchSpec>;
  if (spec.version !== 1 || typeof spec.vmId !== 'string' || !spec.paths || !spec.host || !spec.options) {
    throw new AppError('INVALID_ARGUMENT', `The launch file ${file} is not a Maru engine launch file (version 1).`);
  }
  const config = vmConfigSchema.safeParse(spec.config);
  if (!config.success) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `The launch file ${file} holds an invalid VM config: ${config.error.message}`,
    );
  }
  return { ...(spec as EngineLaunchSpec), config: config.data };
}

/** A ring of recent serial bytes. */
class SerialHistory {
  private chunks: Uint8Array[] = [];
  private size = 0;
  push(data: Uint8Array): void {
    this.chunks.push(data);
    this.size += data.length;
    while (this.size > SERIAL_HISTORY_BYTES && this.chunks.length > 1) this.size -= this.chunks.shift()!.length;
  }
  snapshot(): Uint8Array {
    return Buffer.concat(this.chunks);
  }
}

export class EngineHost {
  private readonly spec: EngineLaunchSpec;
  private readonly startedAt = new Date().toISOString();
  private readonly runFile: (name: string) => string;
  private readonly vmFile: (name: string) => string;
  private readonly controlEndpoint: string;
  private lock: RunLock | null = null;
  private engine: Engine | null = null;
  private server: ControlServer | null = null;
  private readonly serialHistory = new SerialHistory();
  private readonly serialLive = new Emitter<Uint8Array>();
  private finished: Promise<number> | null = null;
  private resolveDone: (code: number) => void = () => undefined;
  private readonly done = new Promise<number>((resolve) => {
    this.resolveDone = resolve;
  });
  private stateWrites: Promise<unknown> = Promise.resolve();
  private readonly vmLabel: string;
  /** Set once the start is reported: only then does a final state end the run (a failed start cleans up itself). */
  private serving = false;
  /** A stop signal arrived while starting: stop as soon as the VM runs. */
  private stopWhenStarted: string | null = null;
  /** The VM's internal network ports (one per internal adapter), closed when the run ends. */
  private readonly networkPorts: InternalNetworkPort[] = [];

  constructor(
    launchFile: string,
    private readonly channel: ParentChannel,
    private readonly log: (line: string) => void,
  ) {
    this.spec = readLaunchSpec(launchFile);
    const { paths } = this.spec;
    this.runFile = (name) => path.join(paths.runFolder, name);
    this.vmFile = (name) => path.join(paths.vmFolder, name);
    this.controlEndpoint = controlEndpointFor(paths.socketFolder, this.spec.vmId, process.platform);
    this.vmLabel = JSON.stringify(this.spec.config.name);
  }

  /** Runs the VM until it ends; resolves with the process exit code. */
  async run(): Promise<number> {
    const { spec, log } = this;
    log(`engine host ${process.pid} for VM ${this.vmLabel} (${spec.vmId}), launched by pid ${spec.launcherPid}`);
    try {
      await this.start();
    } catch (err) {
      const wire = toWireError(err);
      const error = wire.ok ? { code: 'INTERNAL', message: 'unknown' } : wire.error;
      log(`start failed: ${error.message}${err instanceof AppError ? '' : `\n${(err as Error).stack ?? ''}`}`);
      this.channel.post({
        type: 'maru-engine-host',
        event: 'failed',
        error: { code: error.code, message: error.message },
      });
      await this.cleanup();
      return 1;
    }
    return this.done;
  }

  private async start(): Promise<void> {
    const { spec, log } = this;
    const { paths } = spec;
    await mkdir(paths.runFolder, { recursive: true, mode: 0o700 });
    const short = paths.socketFolder !== paths.runFolder;
    await ensurePrivateFolder(paths.socketFolder, short);
    if (short) log(`run folder path too long for unix sockets: sockets are in ${paths.socketFolder}`);
    this.lock = await RunLock.acquire(
      this.runFile(RUN_LOCK_FILE),
      { pid: process.pid, startedAt: this.startedAt },
      this.vmLabel,
    );
    let abnormalEnd = readJsonSync<AbortedMarker>(this.vmFile(ABORTED_MARKER_FILE)) !== null;
    if (this.lock.replaced) {
      log(`replaced the stale lock of engine host pid ${this.lock.replaced.pid}`);
      await recoverStaleRun(paths.runFolder, spec.vmId, log);
      abnormalEnd = true;
    }
    await mkdir(paths.logsFolder, { recursive: true });
    await rotateLogs(paths.logsFolder, ROTATED_LOGS);

    const saved = readJsonSync<SavedStateMarker>(this.vmFile(SAVED_STATE_MARKER_FILE));
    const resumeFrom = saved && saved.engine === spec.engine ? saved : null;
    if (saved && !resumeFrom)
      log(`a saved state of engine ${saved.engine} cannot be resumed by ${spec.engine}: booting`);

    // Each engine's code loads here, for its own VMs only (v86 and its RFB server never load for a QEMU VM).
    const engine = await createEngine(spec.engine, {
      config: spec.config,
      host: spec.host,
      paths: { vmFolder: paths.vmFolder, socketFolder: paths.socketFolder, logsFolder: paths.logsFolder },
      acpiTimeoutMs: spec.options.acpiTimeoutMs,
      log,
      afterAbnormalEnd: abnormalEnd,
      onDidChangeRuntimeInfo: () => void this.writeRunState(),
      joinInternalNetwork: (index, network) => this.joinInternalNetwork(index, network),
    });
    this.engine = engine;
    engine.onDidChangeState((c) => this.onStateChange(c));
    engine.onSerialOutput((data) => {
      this.serialHistory.push(data);
      this.serialLive.fire(data);
    });
    await this.writeRunState();
    await engine.start({ resumeFrom });
    if (resumeFrom) await rm(this.vmFile(SAVED_STATE_MARKER_FILE), { force: true });
    await rm(this.vmFile(ABORTED_MARKER_FILE), { force: true });

    const server = new ControlServer(this.controlEndpoint, this.controlService(engine), log);
    this.server = server;
    await server.listen();
    await this.writeRunState();
    const status = this.status();
    log(`running: accelerator ${status.accelerator} (${status.acceleratorReason}); display ${status.display}`);
    await this.testHoldBeforeReady();
    this.channel.post({ type: 'maru-engine-host', event: 'ready', status: this.status() });
    this.serving = true;
    // The VM may have ended between the engine's start and now.
    if (engine.state === 'off' || engine.state === 'aborted') this.finished ??= this.finish(engine.state, null);
    else if (this.stopWhenStarted) void this.onSignal(this.stopWhenStarted);
  }

  /**
   * Test hook: MARU_TEST_HOLD_READY_MS holds the `ready` report (the VM already runs) so a
   * test can cancel a start deterministically; a stop signal ends the hold at once.
   */
  private testHoldBeforeReady(): Promise<void> {
    const ms = Number(process.env['MARU_TEST_HOLD_READY_MS'] ?? 0);
    if (!(ms > 0) || this.stopWhenStarted) return Promise.resolve();
    this.log(`test hook: holding the ready report for ${ms} ms`);
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.endHold = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private endHold: () => void = () => undefined;

  /** Stops the VM when the process is asked to end (SIGTERM/SIGINT). */
  async onSignal(signal: string): Promise<void> {
    const engine = this.engine;
    this.log(`received ${signal}`);
    if (!this.serving) {
      this.stopWhenStarted = signal;
      this.endHold();
      return;
    }
    if (engine && (engine.state === 'running' || engine.state === 'paused')) {
      await engine.stop('force').catch((err: unknown) => this.log(`stop on ${signal} failed: ${String(err)}`));
    }
  }

  /** Last resort after a bug: stop the children, mark the VM aborted, drop the lock (synchronously). */
  emergencyExit(err: unknown): never {
    this.log(`engine host failure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    try {
      this.engine?.emergencyStop?.();
      const marker: AbortedMarker = {
        at: new Date().toISOString(),
        reason: `The engine host failed: ${err instanceof Error ? err.message : String(err)}`,
        logs: [path.join(this.spec.paths.logsFolder, 'engine-host.log')],
      };
      writeFileSync(this.vmFile(ABORTED_MARKER_FILE), JSON.stringify(marker, null, 2) + '\n');
      rmSync(this.runFile(RUN_STATE_FILE), { force: true });
      if (this.lock) rmSync(this.lock.file, { force: true });
    } catch (cleanupErr) {
      this.log(`emergency cleanup failed: ${String(cleanupErr)}`);
    }
    process.exit(70);
  }

  /**
   * Joins adapter `index` to internal network `network` (its code loads only for VMs that have
   * one); the port is this host's until the run ends.
   */
  private async joinInternalNetwork(index: number, network: string): Promise<InternalNetworkPort> {
    const { InternalNetworkPort } = await import('../network/internal-network-port');
    const port = await InternalNetworkPort.join({
      maruHome: this.spec.paths.maruHome,
      network,
      vmId: this.spec.vmId,
      index,
      log: this.log,
    });
    this.networkPorts.push(port);
    return port;
  }

  /** The running engine's RFB endpoint (unix socket), for desktop console ports. */
  displayPath(): string | null {
    return this.engine?.display()?.path ?? null;
  }

  status(): EngineStatus {
    const engine = this.engine!;
    const info = engine.runtimeInfo();
    return {
      vmId: this.spec.vmId,
      engine: engine.kind,
      state: engine.state,
      pid: process.pid,
      startedAt: this.startedAt,
      accelerator: info.accelerator,
      acceleratorReason: info.acceleratorReason,
      display: engine.display()?.path ?? null,
      capabilities: engine.capabilities,
      cdrom: info.cdrom,
      media: info.media,
      notes: info.notes,
      serialLog: info.serialLog,
      resumedFromSavedState: info.resumedFromSavedState,
    };
  }

  /** The control service on this host's endpoint: the contract's methods over `engine`. */
  private controlService(engine: Engine): EngineControlService {
    return {
      status: async () => this.status(),
      stop: async ({ mode, timeoutMs }) => {
        const r = await engine.stop(mode, timeoutMs === undefined ? {} : { timeoutMs });
        const result: StopResult = {
          state: engine.state,
          forced: r.forced,
          message:
            mode === 'force'
              ? 'Powered off (forced).'
              : r.forced
                ? `The guest did not power off within ${Math.round((timeoutMs ?? this.spec.options.acpiTimeoutMs) / 1000)} s: forced off.`
                : 'The guest powered off.',
        };
        return result;
      },
      pause: async () => {
        await engine.pause();
        return this.statusWritten();
      },
      resume: async () => {
        await engine.resume();
        return this.statusWritten();
      },
      reset: async () => {
        await engine.reset();
        return this.statusWritten();
      },
      saveState: async () => {
        await engine.saveState((saved) => writeJsonAtomic(this.vmFile(SAVED_STATE_MARKER_FILE), saved));
        const result: StopResult = { state: engine.state, forced: false, message: 'State saved; the VM is off.' };
        return result;
      },
      snapshotTake: ({ tag, stateFile }) => engine.takeSnapshot(tag, stateFile),
      snapshotRestore: async ({ tag, stateFile }) => {
        await engine.restoreSnapshot(tag, stateFile);
        return this.statusWritten();
      },
      snapshotDelete: ({ tag }) => engine.deleteSnapshot(tag),
      flattenDisks: () => engine.flattenDisks(),
      attachIso: async (isoPath) => {
        await engine.attachIso(isoPath);
        return this.status();
      },
      eject: async () => {
        await engine.eject();
        return this.status();
      },
      changeMedium: async (drive, medium) => {
        await engine.changeMedium(drive, medium);
        return this.status();
      },
      setLinkState: (nicIndex, connected) => engine.setLinkState(nicIndex, connected),
      addPortForward: (nicIndex, rule) => engine.addPortForward(nicIndex, rule),
      removePortForward: (nicIndex, rule) => engine.removePortForward(nicIndex, rule),
      screenshot: async () => {
        const shot = await engine.screenshot();
        return { width: shot.width, height: shot.height, pngBase64: Buffer.from(shot.png).toString('base64') };
      },
      sendKeys: (text) => engine.sendKeys(text),
      sendCombo: (keys) => engine.sendCombo(keys),
      serialWrite: (text) => engine.writeSerial(new Uint8Array(Buffer.from(text, 'utf8'))),
      serialSubscribe: async ({ history }, stream?: ControlStream) => {
        if (!stream) throw new AppError('INVALID_ARGUMENT', 'serialSubscribe streams: it needs a control connection.');
        if (history) {
          const past = this.serialHistory.snapshot();
          if (past.length) stream.send(past);
        }
        stream.hold(this.serialLive.event((data) => stream.send(data)));
        return { subscribed: true };
      },
    } satisfies EngineControlService;
  }

  /**
   * The status, once `state.json` says the same: a front end that re-reads the library right
   * after a pause must not see the state from before it.
   */
  private async statusWritten(): Promise<EngineStatus> {
    await this.stateWrites;
    return this.status();
  }

  private onStateChange(change: EngineStateChange): void {
    this.log(`state ${change.from} → ${change.to}${change.reason ? ` (${change.reason})` : ''}`);
    void this.writeRunState();
    if (this.serving && (change.to === 'off' || change.to === 'aborted')) {
      this.finished ??= this.finish(change.to, change.reason ?? null);
    }
  }

  private writeRunState(): Promise<void> {
    const engine = this.engine;
    if (!engine || !this.lock) return Promise.resolve();
    const info = engine.runtimeInfo();
    const state: EngineRunState = {
      version: 2,
      vmId: this.spec.vmId,
      engine: engine.kind,
      state: engine.state,
      pid: process.pid,
      startedAt: this.startedAt,
      updatedAt: new Date().toISOString(),
      controlEndpoint: this.controlEndpoint,
      socketFolder: this.spec.paths.socketFolder,
      display: engine.display()?.path ?? null,
      engineRecovery: info.recovery,
    };
    const write = this.stateWrites.then(() => writeJsonAtomic(this.runFile(RUN_STATE_FILE), state));
    this.stateWrites = write.catch((err: unknown) => this.log(`cannot write ${RUN_STATE_FILE}: ${String(err)}`));
    return this.stateWrites.then(() => undefined);
  }

  private async finish(state: EngineState, reason: string | null): Promise<number> {
    const { log, spec } = this;
    if (state === 'aborted') {
      const marker: AbortedMarker = {
        at: new Date().toISOString(),
        reason: reason ?? 'The VM ended unexpectedly.',
        logs: ['qemu.log', 'serial.log', 'swtpm.log', 'engine-host.log'].map((n) =>
          path.join(spec.paths.logsFolder, n),
        ),
      };
      await writeJsonAtomic(this.vmFile(ABORTED_MARKER_FILE), marker).catch((err: unknown) =>
        log(`cannot write the aborted marker: ${String(err)}`),
      );
      await this.engine?.repairAfterAbort?.();
    }
    if (this.server) {
      await this.server.drain(10_000);
      await this.server.close(state);
    }
    await this.cleanup();
    log(`engine host ends: VM ${state}${reason ? ` (${reason})` : ''}`);
    this.resolveDone(state === 'aborted' ? 2 : 0);
    return state === 'aborted' ? 2 : 0;
  }

  /** Removes everything this run created in the run and socket folders, and the lock. */
  private async cleanup(): Promise<void> {
    const { paths } = this.spec;
    this.engine?.dispose();
    await Promise.all(this.networkPorts.splice(0).map((p) => p.close()));
    this.serialLive.dispose();
    await this.stateWrites;
    const lockHeld = this.lock !== null;
    if (lockHeld) {
      await rm(this.runFile(RUN_STATE_FILE), { force: true });
      await rm(this.runFile(RUN_LAUNCH_FILE), { force: true });
      if (paths.socketFolder !== paths.runFolder) await rm(paths.socketFolder, { recursive: true, force: true });
      else {
        for (const s of Object.values(SOCKET_FILES)) {
          await rm(path.join(paths.socketFolder, s), { force: true });
        }
      }
      await this.lock!.release();
      // The run folder goes unless another engine host took the lock meanwhile.
      const relocked = await readFile(path.join(paths.runFolder, RUN_LOCK_FILE), 'utf8').catch(
        (err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT') return null;
          throw err;
        },
      );
      if (relocked === null) await rm(paths.runFolder, { recursive: true, force: true });
    }
  }
}

// ---- The process entry: `--launch FILE` names the launch file the launcher wrote;
// `--await-launch` waits for it on the IPC channel (the CLI starts us early so our Node start-up
// overlaps its checks). Started detached by the CLI/server, or as an Electron utility process by
// the desktop app; it never imports main-side code.

function log(line: string): void {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
}

const AWAIT_LAUNCH_TIMEOUT_MS = 60_000;

function launchFileFromArgs(argv: readonly string[]): string {
  const i = argv.indexOf('--launch');
  const file = i >= 0 ? argv[i + 1] : undefined;
  if (!file) throw new AppError('INVALID_ARGUMENT', 'usage: engine-host --launch LAUNCH.json | --await-launch');
  return file;
}

function isLaunchMessage(m: unknown): m is EngineHostLaunchMessage {
  const parsed = engineHostLaunchMessageSchema.safeParse(m);
  return parsed.success && path.isAbsolute(parsed.data.launchFile) && path.isAbsolute(parsed.data.logFile);
}

/** Waits for the launcher's launch message; null when it goes away (or stays silent) first. */
function awaitLaunch(): Promise<EngineHostLaunchMessage | null> {
  return new Promise((resolve) => {
    if (!process.connected) return resolve(null);
    const timer = setTimeout(() => finish(null), AWAIT_LAUNCH_TIMEOUT_MS);
    const onMessage = (m: unknown): void => {
      if (isLaunchMessage(m)) finish(m);
    };
    const onDisconnect = (): void => finish(null);
    function finish(m: EngineHostLaunchMessage | null): void {
      clearTimeout(timer);
      process.off('message', onMessage);
      process.off('disconnect', onDisconnect);
      resolve(m);
    }
    process.on('message', onMessage);
    process.once('disconnect', onDisconnect);
  });
}

/** Sends this process's stdout and stderr to `file` (what the launcher does with fds for `--launch`). */
function redirectOutput(file: string): void {
  const fd = openSync(file, 'a', 0o600);
  const write = (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
    writeSync(fd, typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    const cb = rest.find((r) => typeof r === 'function') as ((err?: Error) => void) | undefined;
    cb?.();
    return true;
  };
  process.stdout.write = write as typeof process.stdout.write;
  process.stderr.write = write as typeof process.stderr.write;
}

async function launchFile(): Promise<string | null> {
  const argv = process.argv.slice(2);
  if (!argv.includes('--await-launch')) return launchFileFromArgs(argv);
  const launch = await awaitLaunch();
  if (!launch) return null;
  redirectOutput(launch.logFile);
  return launch.launchFile;
}

async function main(): Promise<number> {
  const channel = parentChannel();
  let host: EngineHost;
  try {
    const file = await launchFile();
    if (file === null) return 0; // started early, then not needed
    host = new EngineHost(file, channel, log);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log(`cannot start: ${message}`);
    const code = err instanceof AppError ? err.code : 'INTERNAL';
    channel.post({ type: 'maru-engine-host', event: 'failed', error: { code, message } });
    return 1;
  }
  process.on('uncaughtException', (err) => host.emergencyExit(err));
  process.on('unhandledRejection', (reason) => {
    log(`unhandled rejection: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`);
  });
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.on(sig, () => void host.onSignal(sig));
  }
  // The launcher lets go of its IPC end once it has our start result; that is not a stop.
  process.on('disconnect', () => log('launcher detached'));
  // As an Electron utility process: display viewers arrive as MessagePorts from main.
  listenForConsolePorts(() => host.displayPath());
  return host.run();
}

// Run as the engine host process (the launcher always passes one of these); imported by tests, nothing runs.
if (process.argv.includes('--launch') || process.argv.includes('--await-launch')) {
  const code = await main();
  process.exitCode = code;
  // Give the last log lines and the parent message a moment to flush, then end even if a handle lingers.
  setTimeout(() => process.exit(code), 200).unref();
}
