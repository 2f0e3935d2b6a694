// The engine host: one process per running VM. It takes the run lock, starts the engine,
// serves the control endpoint, keeps state.json current for the library, leaves an
// `aborted` or `saved-state` marker when the VM ends that way, and cleans up after itself.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import {
  ABORTED_MARKER_FILE,
  RUN_LAUNCH_FILE,
  RUN_LOCK_FILE,
  RUN_STATE_FILE,
  SAVED_STATE_MARKER_FILE,
  type AbortedMarker,
  type EngineLaunchSpec,
  type EngineRunState,
  type EngineState,
  type EngineStatus,
  type SavedStateMarker,
  type StopResult,
} from '../../src-shared/contracts/engine';
import { AppError, toWireError } from '../../src-shared/errors';
import { vmConfigSchema } from '../../src-shared/vm-config';
import { Emitter } from '../base/event';
import { toDisposable, type Disposable } from '../base/lifecycle';
import type { Engine, EngineStateChange } from '../engines/engine';
import { QemuEngine } from '../engines/qemu/qemu-engine';
import { repairLeaks } from '../engines/qemu/qemu-img';
import { ControlServer, type ControlHandler } from './control-server';
import type { ParentChannel } from './parent-channel';
import { controlEndpointFor, ensurePrivateFolder } from './run-paths';
import { RunLock } from './run-lock';
import { recoverStaleRun } from './stale-run';
import { readJsonSync, writeJsonAtomic } from './state-files';

/** Serial output kept for `serialSubscribe({history: true})`. */
const SERIAL_HISTORY_BYTES = 64 * 1024;
/** Logs rotated at each start (name → name.1 → name.2 → name.3). */
const ROTATED_LOGS = ['serial.log', 'qemu.log', 'swtpm.log', 'swtpm-console.log'];
const LOG_GENERATIONS = 3;

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

/** Moves `name` to `name.1` (… up to LOG_GENERATIONS) in `folder`, so each run has fresh logs. */
export async function rotateLogs(
  folder: string,
  names: readonly string[],
  generations = LOG_GENERATIONS,
): Promise<void> {
  for (const name of names) {
    const base = path.join(folder, name);
    for (let i = generations - 1; i >= 0; i--) {
      const from = i === 0 ? base : `${base}.${i}`;
      try {
        await rename(from, `${base}.${i + 1}`);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  }
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

    const enginePaths = { vmFolder: paths.vmFolder, socketFolder: paths.socketFolder, logsFolder: paths.logsFolder };
    // v86 (and its RFB server, qcow2 code, VGA text renderer) loads only for v86 VMs: a QEMU VM's
    // start-up does not pay for compiling it.
    const engine: Engine =
      spec.engine === 'v86'
        ? new (await import('../engines/v86/v86-engine')).V86Engine({
            config: spec.config,
            host: spec.host,
            paths: enginePaths,
            log,
          })
        : new QemuEngine({
            config: spec.config,
            host: spec.host,
            paths: enginePaths,
            acpiTimeoutMs: spec.options.acpiTimeoutMs,
            log,
            repairImagesFirst: abnormalEnd,
            onDidSpawn: () => void this.writeRunState(),
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

    const server = new ControlServer(this.controlEndpoint, this.controlHandler(), log);
    this.server = server;
    await server.listen();
    await this.writeRunState();
    const status = this.status();
    log(`running: accelerator ${status.accelerator} (${status.acceleratorReason}); display ${status.display}`);
    this.channel.post({ type: 'maru-engine-host', event: 'ready', status });
    this.serving = true;
    // The VM may have ended between the engine's start and now.
    if (engine.state === 'off' || engine.state === 'aborted') this.finished ??= this.finish(engine.state, null);
    else if (this.stopWhenStarted) void this.onSignal(this.stopWhenStarted);
  }

  /** Stops the VM when the process is asked to end (SIGTERM/SIGINT). */
  async onSignal(signal: string): Promise<void> {
    const engine = this.engine;
    this.log(`received ${signal}`);
    if (!this.serving) {
      this.stopWhenStarted = signal;
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
      const info = this.engine?.runtimeInfo();
      // SIGTERM: QEMU shuts down cleanly (flushes its images) on it.
      if (info?.children.qemu) process.kill(info.children.qemu, 'SIGTERM');
      if (info?.children.swtpm) process.kill(info.children.swtpm, 'SIGTERM');
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
      notes: info.notes,
      serialLog: info.serialLog,
      resumedFromSavedState: info.resumedFromSavedState,
    };
  }

  private controlHandler(): ControlHandler {
    const engine = this.engine!;
    return {
      call: async (method, args) => {
        switch (method) {
          case 'status':
            return this.status();
          case 'stop': {
            const { mode, timeoutMs } = args[0] as { mode: 'acpi' | 'force'; timeoutMs?: number };
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
          }
          case 'pause':
            await engine.pause();
            return this.status();
          case 'resume':
            await engine.resume();
            return this.status();
          case 'reset':
            await engine.reset();
            return this.status();
          case 'saveState': {
            await engine.saveState((saved) => writeJsonAtomic(this.vmFile(SAVED_STATE_MARKER_FILE), saved));
            const result: StopResult = { state: engine.state, forced: false, message: 'State saved; the VM is off.' };
            return result;
          }
          case 'attachIso':
            await engine.attachIso(args[0] as string);
            return this.status();
          case 'eject':
            await engine.eject();
            return this.status();
          case 'screenshot': {
            const shot = await engine.screenshot();
            return { width: shot.width, height: shot.height, pngBase64: Buffer.from(shot.png).toString('base64') };
          }
          case 'sendKeys':
            await engine.sendKeys(args[0] as string);
            return null;
          case 'sendCombo':
            await engine.sendCombo(args[0] as string[]);
            return null;
          case 'serialWrite':
            await engine.writeSerial(new Uint8Array(Buffer.from(args[0] as string, 'utf8')));
            return null;
        }
      },
      openSerialStream: (send, history): Disposable => {
        if (history) {
          const past = this.serialHistory.snapshot();
          if (past.length) send(past);
        }
        const sub = this.serialLive.event(send);
        return toDisposable(() => sub.dispose());
      },
    };
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
      version: 1,
      vmId: this.spec.vmId,
      engine: engine.kind,
      state: engine.state,
      pid: process.pid,
      startedAt: this.startedAt,
      updatedAt: new Date().toISOString(),
      controlEndpoint: this.controlEndpoint,
      socketFolder: this.spec.paths.socketFolder,
      display: engine.display()?.path ?? null,
      children: info.children,
      ...(info.qmpSocket ? { qmpSocket: info.qmpSocket } : {}),
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
      await this.repairAfterAbort();
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

  /** QEMU died mid-write: free the clusters it allocated but never referenced (qcow2 leaks). */
  private async repairAfterAbort(): Promise<void> {
    const img = this.spec.host.qemu.img;
    const plan = this.engine instanceof QemuEngine ? this.engine.machinePlan : null;
    if (!img || !plan) return;
    for (const image of plan.snapshot.images) {
      try {
        const r = await repairLeaks(img.path, image);
        this.log(
          `after abort: qemu-img check -r leaks ${image}: exit ${r.exitCode}, leaks ${r.leaks}, corruptions ${r.corruptions}`,
        );
      } catch (err) {
        this.log(`after abort: checking ${image} failed: ${String(err)}`);
      }
    }
  }

  /** Removes everything this run created in the run and socket folders, and the lock. */
  private async cleanup(): Promise<void> {
    const { paths } = this.spec;
    this.engine?.dispose();
    this.serialLive.dispose();
    await this.stateWrites;
    const lockHeld = this.lock !== null;
    if (lockHeld) {
      await rm(this.runFile(RUN_STATE_FILE), { force: true });
      await rm(this.runFile(RUN_LAUNCH_FILE), { force: true });
      if (paths.socketFolder !== paths.runFolder) await rm(paths.socketFolder, { recursive: true, force: true });
      else {
        for (const s of ['control.sock', 'qmp.sock', 'vnc.sock', 'serial.sock', 'swtpm.sock', 'qemu.pid']) {
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
