// The QEMU engine: runs one VM as a qemu process (plus swtpm for a TPM), drives it over QMP,
// reads its serial port, and turns process exits into off/aborted with the reason. The
// machine builder decides the command line; this file owns the processes and the lifecycle.
import { openSync, closeSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { EngineCapabilities, LiveSnapshotState, StopMode } from '../../../src-shared/contracts/engine';
import { AppError } from '../../../src-shared/errors';
import type { HostInfo } from '../../../src-shared/host-info';
import type { PortForward, VmConfig } from '../../../src-shared/vm-config';
import { pathExists } from '../../../src-node/file-presence';
import { nicSocketFile } from '../../../src-node/run-folder';
import { DisposableStore } from '../../base/lifecycle';
import { ManagedProcess, describeExit, type ProcessExit } from '../../base/managed-process';
import { encodePng } from '../../display/png-encoder';
import { decodePpm } from '../../display/ppm-decoder';
import type { KeyStroke } from '../../input/key-mapping';
import { inspectIso } from '../../media/iso-image';
import { inspectFloppy } from '../../media/floppy-image';
import {
  firstCdromId,
  type DisplayEndpoint,
  type Engine,
  type EngineRuntimeInfo,
  type EngineStopOutcome,
  type SavedState,
  type Screenshot,
} from '../engine';
import { EngineBase } from '../engine-base';
import { buildMachine, NVRAM_NODE, type MachinePaths, type MachinePlan } from './machine-builder';
import { createNvramFromTemplate, repairLeaks, type ImageCheck } from './qemu-img';
import { QmpClient, QmpError, connectUnixSocket, openQmpWhenReady } from './qmp-client';
import type { QemuRecoveryRecord } from './qemu-recovery';
import type { JoinInternalNetwork } from '../../network/internal-network-port';

/** Internal snapshot tag of a saved state. */
export const SAVED_STATE_TAG = 'maru-saved-state';

export interface QemuEngineOptions {
  readonly config: VmConfig;
  readonly host: HostInfo;
  readonly paths: MachinePaths;
  /** Default wait for an ACPI power-off before forcing it. */
  readonly acpiTimeoutMs: number;
  /** Writes a line to the engine host's log. */
  readonly log: (line: string) => void;
  /** Run `qemu-img check -r leaks` on the writable images before starting (after an abnormal end). */
  readonly repairImagesFirst?: boolean;
  /** Called when a child process (swtpm, qemu) was started, so its pid can be recorded. */
  readonly onDidSpawn?: () => void;
  /** Joins an adapter to an internal network (the engine host owns and closes the port). */
  readonly joinInternalNetwork?: JoinInternalNetwork;
}

/** Why QEMU is expected to end now (so its exit is `off`, not a crash). */
type ExpectedExit = 'stop' | 'save' | 'start-failed' | 'tpm-lost';

const QMP_START_DEADLINE_MS = 30_000;
const FORCE_QUIT_WAIT_MS = 10_000;
/** How long each key stays down; QEMU paces the events itself. */
const KEY_HOLD_MS = 30;
/** A combo (ctrl+alt+del) is held longer, as a person would. */
const COMBO_HOLD_MS = 100;

function lastLines(text: string, n: number): string {
  return text
    .split(/\r?\n/)
    .map((l) => l.replace(/^\d{4}-\d\d-\d\dT[\d:.]+Z /, '').trim())
    .filter(Boolean)
    .slice(-n)
    .join(' | ');
}

export class QemuEngine extends EngineBase<QmpClient> implements Engine {
  readonly kind = 'qemu' as const;
  readonly capabilities: EngineCapabilities;

  private readonly store = new DisposableStore();
  private plan: MachinePlan | null = null;
  private qemu: ManagedProcess | null = null;
  private swtpm: ManagedProcess | null = null;
  private qmp: QmpClient | null = null;
  private serial: net.Socket | null = null;
  /** What is in each CD/DVD and floppy drive now (drive id → image, null when empty). */
  private readonly media = new Map<string, string | null>();
  private expected: ExpectedExit | null = null;
  private abortReason: string | null = null;
  private guestShutdown = false;
  private resumed = false;
  /** A QMP snapshot job runs: its STOP/RESUME events are not the user's pause and resume. */
  private inSnapshotJob = false;
  private finalReached: Promise<void>;
  private qemuVersion: string | null = null;
  private screenshots = 0;

  constructor(private readonly options: QemuEngineOptions) {
    super(options.config.name, options.log);
    const { config, host } = options;
    for (const c of config.cdroms) this.media.set(c.id, c.iso);
    for (const f of config.floppies) this.media.set(f.id, f.image);
    const writable = config.disks.length > 0 || config.firmware === 'uefi';
    this.capabilities = {
      engine: 'qemu',
      maxCpus: host.cores,
      maxMemoryMiB: Math.floor(host.totalMemoryBytes / (1024 * 1024)),
      firmware: ['bios', 'uefi'],
      secureBoot: host.firmware.ovmfSecureBoot !== null && host.secureBootAccelerator !== null,
      tpm: host.swtpm !== null,
      saveState: writable,
      snapshots: writable,
      acpiShutdown: true,
      absolutePointer: true,
      hotplugCdrom: true,
    };
    this.finalReached = new Promise((resolve) => {
      const sub = this.sm.onDidChange((c) => {
        if (c.to === 'off' || c.to === 'aborted') {
          sub.dispose();
          resolve();
        }
      });
    });
    this.store.add(this.sm);
    this.store.add(this.serialOut);
  }

  // ---- start

  async start(options: { resumeFrom?: SavedState | null } = {}): Promise<void> {
    const resumeFrom = options.resumeFrom ?? null;
    const { config, paths, log } = this.options;
    const plan = buildMachine({
      config,
      host: this.options.host,
      paths,
      startPaused: resumeFrom !== null,
      internalNetworkSockets: await this.joinInternalNetworks(),
    });
    this.plan = plan;
    if (resumeFrom && !plan.snapshot.vmstateNode) {
      throw new AppError(
        'UNSUPPORTED',
        `VM ${JSON.stringify(config.name)} has a saved state but no image to load it from.`,
      );
    }
    for (const n of plan.notes) log(`note: ${n}`);
    try {
      await this.prepare(plan);
      if (this.options.repairImagesFirst) await this.repairImages(plan);
      if (plan.swtpm) await this.startSwtpm(plan);
      await this.startQemu(plan);
      if (resumeFrom) await this.loadSavedState(resumeFrom);
      // Cables before the guest runs: unplugged ones down (a saved state brings its own link
      // state, so every adapter is set after loading one), then the CPUs go.
      await this.applyCables(plan, resumeFrom !== null);
      if (resumeFrom || plan.heldForLinks) await this.qmp!.execute('cont');
      const qemu = this.qemu;
      if (!qemu?.running) {
        throw new AppError(
          'INTERNAL',
          `QEMU ended while VM ${JSON.stringify(config.name)} was starting. See its log (qemu.log).`,
        );
      }
      this.sm.set('running');
    } catch (err) {
      await this.abandonStart();
      throw err;
    }
  }

  /**
   * Joins each internal adapter's network before QEMU starts: adapter index → the socket the
   * port serves for QEMU's `-netdev stream` (QEMU 7.2 connects once, at start, and does not retry).
   */
  private async joinInternalNetworks(): Promise<Record<number, string>> {
    const { config, paths } = this.options;
    const sockets: Record<number, string> = {};
    for (const [i, nic] of config.nics.entries()) {
      if (nic.attachment !== 'internal' || !nic.network) continue;
      const join = this.options.joinInternalNetwork;
      if (!join) {
        throw new AppError(
          'UNSUPPORTED',
          `Adapter ${i + 1} of VM ${this.label} is on internal network ${JSON.stringify(nic.network)}, which this ` +
            'engine runs only inside an engine host. Start the VM with Maru (maru start).',
        );
      }
      const port = await join(i, nic.network);
      sockets[i] = await port.serveVm(nicSocketFile(paths.socketFolder, i));
    }
    return sockets;
  }

  private async prepare(plan: MachinePlan): Promise<void> {
    const { paths, host, log } = this.options;
    await mkdir(paths.logsFolder, { recursive: true });
    for (const step of plan.prepare) {
      if (step.kind === 'folder') {
        await mkdir(step.path, { recursive: true, mode: step.mode });
        await chmod(step.path, step.mode);
      } else if (!(await pathExists(step.path))) {
        if (!host.qemu.img) {
          throw new AppError(
            'MISSING_DEPENDENCY',
            "qemu-img was not found, and this UEFI VM needs it once to create its NVRAM. Install QEMU's tools " +
              '(Debian/Ubuntu: sudo apt install qemu-utils).',
          );
        }
        await createNvramFromTemplate(host.qemu.img.path, step.template, step.path);
        log(`created ${step.path} from ${step.template}`);
      }
    }
    // Sockets from an earlier run that ended abnormally would make QEMU refuse to bind.
    for (const s of [plan.sockets.qmp, plan.sockets.vnc, plan.sockets.serial, plan.swtpm?.ctrlSocket]) {
      if (s) await rm(s, { force: true });
    }
  }

  private async repairImages(plan: MachinePlan): Promise<ImageCheck[]> {
    const img = this.options.host.qemu.img;
    if (!img) return [];
    const results: ImageCheck[] = [];
    for (const image of plan.snapshot.images) {
      if (!(await pathExists(image))) continue;
      const r = await repairLeaks(img.path, image);
      this.options.log(
        `qemu-img check -r leaks ${image}: exit ${r.exitCode}, leaks ${r.leaks}, corruptions ${r.corruptions}`,
      );
      if (r.corruptions > 0 || r.exitCode === 1 || r.exitCode === 2) {
        throw new AppError(
          'IO',
          `The disk image ${image} is damaged (qemu-img check: ${r.corruptions} corruption(s)). ` +
            `Inspect it with "qemu-img check ${image}"; "qemu-img check -r all" may repair it (back it up first).`,
        );
      }
      results.push(r);
    }
    return results;
  }

  /**
   * Starts a child process (`what` names it in messages) with its output appended to the VM's
   * log `logName`; one that cannot start is MISSING_DEPENDENCY. The engine owns it from here.
   */
  private async spawnChild(
    what: 'QEMU' | 'swtpm',
    binary: string,
    argv: readonly string[],
    logName: string,
  ): Promise<ManagedProcess> {
    const fd = openSync(path.join(this.options.paths.logsFolder, logName), 'a', 0o600);
    let child: ManagedProcess;
    try {
      child = await ManagedProcess.start(binary, argv, { outputFd: fd });
    } catch (err) {
      throw new AppError('MISSING_DEPENDENCY', `${what} (${binary}) could not be started: ${(err as Error).message}`);
    } finally {
      closeSync(fd);
    }
    this.store.add(child);
    this.options.log(`${what.toLowerCase()} started, pid ${child.pid}`);
    return child;
  }

  private async startSwtpm(plan: MachinePlan): Promise<void> {
    const tpm = plan.swtpm!;
    const swtpm = (this.swtpm = await this.spawnChild('swtpm', tpm.binary, tpm.argv, 'swtpm-console.log'));
    this.options.onDidSpawn?.();
    const deadline = Date.now() + 10_000;
    while (!(await pathExists(tpm.ctrlSocket))) {
      if (!swtpm.running) {
        const tail = lastLines(await readFile(tpm.logFile, 'utf8').catch(() => ''), 3);
        throw new AppError(
          'INTERNAL',
          `The TPM emulator swtpm stopped at once (${describeExit(swtpm.exit!)})${tail ? `: ${tail}` : ''}. See ${tpm.logFile}.`,
        );
      }
      if (Date.now() > deadline)
        throw new AppError('INTERNAL', 'The TPM emulator swtpm did not open its socket within 10 s.');
      await new Promise((r) => setTimeout(r, 10));
    }
    void swtpm.exited.then((exit) => this.onSwtpmExit(exit));
  }

  private async startQemu(plan: MachinePlan): Promise<void> {
    const { log, config, paths } = this.options;
    // The exact command line, for support and for benchmarks that rerun it raw.
    await writeFile(
      path.join(paths.logsFolder, 'qemu-command.json'),
      JSON.stringify({ binary: plan.binary, argv: plan.argv, swtpm: plan.swtpm }, null, 2) + '\n',
    );
    const qemu = (this.qemu = await this.spawnChild('QEMU', plan.binary, plan.argv, 'qemu.log'));
    this.options.onDidSpawn?.();
    void qemu.exited.then((exit) => this.onQemuExit(exit));
    const aborter = new AbortController();
    void qemu.exited.then(() => aborter.abort(new Error('QEMU exited')));
    try {
      this.qmp = await openQmpWhenReady(plan.sockets.qmp, {
        deadlineMs: QMP_START_DEADLINE_MS,
        signal: aborter.signal,
      });
    } catch (err) {
      if (!qemu.running || aborter.signal.aborted) {
        await qemu.exited;
        const tail = lastLines(await this.readQemuLog(), 4);
        throw new AppError(
          'INTERNAL',
          `QEMU refused to start VM ${JSON.stringify(config.name)}${tail ? `: ${tail}` : ` (${describeExit(qemu.exit!)})`}. ` +
            `See ${path.join(this.options.paths.logsFolder, 'qemu.log')}.`,
        );
      }
      throw err;
    }
    const qmp = this.qmp;
    this.store.add(qmp);
    const v = qmp.greeting?.QMP.version.qemu;
    this.qemuVersion = v ? `${v.major}.${v.minor}.${v.micro}` : null;
    qmp.onEvent('SHUTDOWN', (d) => {
      if (d.guest) this.guestShutdown = true;
      log(`QMP SHUTDOWN guest=${d.guest} reason=${d.reason}`);
    });
    qmp.onEvent('STOP', () => {
      // A snapshot job stops the guest while it writes RAM and resumes it: not the user's pause.
      if (this.sm.state === 'running' && !this.inSnapshotJob) this.sm.trySet('paused', 'the VM stopped');
    });
    qmp.onEvent('RESUME', () => {
      if (this.sm.state === 'paused' && !this.inSnapshotJob) this.sm.trySet('running', 'the VM continued');
    });
    qmp.onEvent('RESET', (d) => log(`QMP RESET guest=${d.guest} reason=${d.reason}`));
    qmp.onEvent('BLOCK_IO_ERROR', (d) => log(`QMP BLOCK_IO_ERROR ${JSON.stringify(d)}`));
    qmp.onDidClose(({ error }) => {
      // QEMU closes QMP when it quits: only a close while it keeps running is worth a reconnect.
      setTimeout(() => {
        if (!qemu.running || this.sm.isFinal || this.expected !== null || qmp.state !== 'closed') return;
        log(`QMP connection closed while QEMU runs (${error?.message ?? 'closed'}); reconnecting`);
        qmp.reconnect().catch((err: unknown) => log(`QMP reconnect failed: ${String(err)}`));
      }, 250).unref();
    });
    await this.connectSerial(plan);
  }

  private async connectSerial(plan: MachinePlan): Promise<void> {
    const deadline = Date.now() + 5000;
    for (;;) {
      try {
        const s = await connectUnixSocket(plan.sockets.serial);
        s.on('data', (chunk: Buffer) => this.serialOut.fire(new Uint8Array(chunk)));
        s.on('error', (err) => this.options.log(`serial socket error: ${err.message}`));
        s.on('close', () => {
          if (this.serial === s) this.serial = null;
        });
        this.serial = s;
        this.store.add({ dispose: () => s.destroy() });
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  private async loadSavedState(saved: SavedState): Promise<void> {
    const qmp = this.qmp!;
    const { log } = this.options;
    try {
      await qmp.runJob('snapshot-load', { tag: saved.tag, vmstate: saved.vmstateNode, devices: [...saved.devices] });
    } catch (err) {
      throw new AppError(
        'IO',
        `The saved state of VM ${this.label} could not be restored: ${(err as Error).message}. ` +
          `Discard it with "maru discard-state ${this.options.config.name}" to boot the VM afresh.`,
      );
    }
    // The state is in RAM now: drop the snapshot, so disks and the saved state never diverge
    // (a user's snapshot restored while off stays: it is theirs).
    if (!saved.keep) await qmp.runJob('snapshot-delete', { tag: saved.tag, devices: [...saved.devices] });
    log(`resumed from saved state ${saved.tag} (saved ${saved.savedAt})`);
    this.resumed = true;
  }

  /** Sets each adapter's link as its cable is: the unplugged ones, or every one (`all`). */
  private async applyCables(plan: MachinePlan, all: boolean): Promise<void> {
    for (const nic of plan.nics) {
      if (all || !nic.cableConnected) {
        await this.qmp!.execute('set_link', { name: nic.deviceId, up: nic.cableConnected });
        if (!nic.cableConnected) this.options.log(`adapter ${nic.index + 1}: cable unplugged`);
      }
    }
  }

  /** After a failed start: nothing may keep running. */
  private async abandonStart(): Promise<void> {
    this.expected = 'start-failed';
    await this.killQemu();
    if (this.swtpm?.running) await this.swtpm.terminate(2000);
    if (!this.sm.isFinal) this.sm.set('off', 'start failed');
  }

  // ---- exits

  private async readQemuLog(): Promise<string> {
    return readFile(path.join(this.options.paths.logsFolder, 'qemu.log'), 'utf8').catch(() => '');
  }

  private async onQemuExit(exit: ProcessExit): Promise<void> {
    const { log } = this.options;
    log(`qemu ended: ${describeExit(exit)}`);
    this.serial?.destroy();
    this.serial = null;
    if (this.swtpm?.running) {
      // swtpm ends by itself when QEMU closes its control channel (--terminate); make sure.
      if (!(await this.swtpm.waitForExit(3000))) await this.swtpm.terminate(2000);
    }
    if (this.sm.isFinal || this.sm.state === 'starting') return;
    const expected = this.expected;
    if (this.abortReason) {
      this.sm.set('aborted', this.abortReason);
    } else if (expected === 'stop' || expected === 'save') {
      this.sm.set(
        'off',
        expected === 'save' ? 'state saved' : this.guestShutdown ? 'the guest powered off' : 'stopped',
      );
    } else if (exit.code === 0 && !exit.signal) {
      this.sm.set('off', this.guestShutdown ? 'the guest powered off' : 'QEMU ended');
    } else {
      const tail = lastLines(await this.readQemuLog(), 3);
      this.sm.set(
        'aborted',
        `QEMU ended unexpectedly (${describeExit(exit)})${tail ? `: ${tail}` : ''}. ` +
          `Its log is ${path.join(this.options.paths.logsFolder, 'qemu.log')}.`,
      );
    }
  }

  private async onSwtpmExit(exit: ProcessExit): Promise<void> {
    if (!this.qemu?.running || this.expected !== null || this.sm.isFinal) return;
    const logFile = this.plan?.swtpm?.logFile ?? 'swtpm.log';
    this.abortReason =
      `The TPM emulator (swtpm) ended unexpectedly (${describeExit(exit)}), so the VM was stopped: its TPM ` +
      `cannot work without it. See ${logFile}.`;
    this.options.log(this.abortReason);
    this.expected = 'tpm-lost';
    await this.killQemu();
  }

  /** Asks QEMU to quit (it flushes its images), then SIGKILLs it if it is still there. */
  private async killQemu(): Promise<void> {
    const qemu = this.qemu;
    if (!qemu?.running) return;
    if (this.qmp?.state === 'ready') {
      await this.qmp.execute('quit', undefined, { timeoutMs: 3000 }).catch((err: unknown) => {
        // QEMU often closes the socket before replying to quit.
        if (!(err instanceof QmpError)) throw err;
      });
    }
    if (!(await qemu.waitForExit(FORCE_QUIT_WAIT_MS))) {
      this.options.log('QEMU did not quit in time: killing it');
      qemu.kill('SIGKILL');
      await qemu.exited;
    }
  }

  // ---- operations

  protected get handle(): QmpClient | null {
    return this.qmp;
  }

  protected async setGuestRunning(qmp: QmpClient, running: boolean): Promise<void> {
    await qmp.execute(running ? 'cont' : 'stop');
  }

  protected async pressKeys(qmp: QmpClient, stroke: KeyStroke, combo: boolean): Promise<void> {
    await qmp.execute('send-key', {
      keys: stroke.map((k) => ({ type: 'qcode' as const, data: k })),
      'hold-time': combo ? COMBO_HOLD_MS : KEY_HOLD_MS,
    });
  }

  stop(mode: StopMode, options: { timeoutMs?: number } = {}): Promise<EngineStopOutcome> {
    return this.serialize(async () => {
      const qmp = this.requireState('stop the VM', 'running', 'paused');
      const wasPaused = this.sm.state === 'paused';
      this.sm.set('stopping', mode === 'acpi' ? 'power button' : 'forced');
      this.expected = 'stop';
      let forced = mode === 'force';
      if (mode === 'acpi') {
        const timeoutMs = options.timeoutMs ?? this.options.acpiTimeoutMs;
        if (wasPaused) await qmp.execute('cont');
        await qmp.execute('system_powerdown');
        if (!(await this.qemu!.waitForExit(timeoutMs))) {
          this.options.log(`the guest did not power off within ${timeoutMs} ms: forcing it off`);
          forced = true;
          await this.killQemu();
        }
      } else {
        await this.killQemu();
      }
      await this.finalReached;
      return { forced };
    });
  }

  reset(): Promise<void> {
    return this.serialize(async () => {
      const qmp = this.requireState('reset', 'running', 'paused');
      await qmp.execute('system_reset');
    });
  }

  saveState(persist?: (state: SavedState) => Promise<void>): Promise<SavedState> {
    return this.serialize(async () => {
      const qmp = this.requireState('save the state', 'running', 'paused');
      const plan = this.plan!;
      const vmstate = plan.snapshot.vmstateNode;
      if (!vmstate) {
        throw new AppError(
          'UNSUPPORTED',
          `VM ${this.label} has no disk and no UEFI NVRAM, so there is nowhere to save ` +
            'its state (it lives in a qcow2 image). Add a disk, or stop the VM instead.',
        );
      }
      const before = this.enterSaving();
      const args = { tag: SAVED_STATE_TAG, vmstate, devices: [...plan.snapshot.devices] };
      try {
        if (before === 'running') await qmp.execute('stop');
        try {
          await qmp.runJob('snapshot-save', args);
        } catch (err) {
          // A snapshot left by an earlier save whose marker never got written: replace it.
          if (!(err instanceof QmpError && /already exists/i.test(err.message))) throw err;
          await qmp.runJob('snapshot-delete', { tag: args.tag, devices: args.devices });
          await qmp.runJob('snapshot-save', args);
        }
        const saved: SavedState = {
          engine: 'qemu',
          savedAt: new Date().toISOString(),
          tag: SAVED_STATE_TAG,
          vmstateNode: vmstate,
          devices: args.devices,
          images: [...plan.snapshot.images],
          engineVersion: this.qemuVersion,
        };
        if (persist) await persist(saved);
        this.expected = 'save';
        await this.killQemu();
        await this.finalReached;
        return saved;
      } catch (err) {
        return this.saveFailed(err, before, qmp, this.expected !== 'save' && qmp.state === 'ready');
      }
    });
  }

  takeSnapshot(tag: string): Promise<LiveSnapshotState> {
    return this.serialize(async () => {
      const qmp = this.requireState('take a snapshot', 'running', 'paused');
      const plan = this.plan!;
      const vmstate = this.vmstateNodeOrRefuse('take a live snapshot');
      const devices = [...plan.snapshot.devices];
      // snapshot-save stops the guest while it writes RAM and devices, and resumes it if it ran.
      await this.snapshotJob(() => qmp.runJob('snapshot-save', { tag, vmstate, devices }));
      return {
        engine: 'qemu',
        engineVersion: this.qemuVersion,
        tag,
        vmstateNode: vmstate,
        devices,
        images: [...plan.snapshot.images],
        stateBytes: await this.vmStateSize(vmstate, tag),
      };
    });
  }

  restoreSnapshot(tag: string): Promise<void> {
    return this.serialize(async () => {
      const qmp = this.requireState('restore a snapshot', 'running', 'paused');
      const vmstate = this.vmstateNodeOrRefuse('restore a live snapshot');
      const devices = [...this.plan!.snapshot.devices];
      // snapshot-load stops the guest, loads disks, RAM and devices, and resumes it if it ran.
      await this.snapshotJob(() => qmp.runJob('snapshot-load', { tag, vmstate, devices }));
    });
  }

  deleteSnapshot(tag: string): Promise<void> {
    return this.serialize(async () => {
      const qmp = this.requireState('delete a snapshot', 'running', 'paused');
      await qmp.runJob('snapshot-delete', { tag, devices: [...this.plan!.snapshot.devices] });
    });
  }

  flattenDisks(): Promise<void> {
    return this.serialize(async () => {
      const qmp = this.requireState('make the disks independent', 'running', 'paused');
      // block-stream copies what each overlay reads from its base into it, then drops the base; the guest runs on.
      for (const node of this.plan!.snapshot.devices) {
        if (node === NVRAM_NODE) continue;
        await qmp.runJob('block-stream', { device: node, 'auto-dismiss': false }, { timeoutMs: 24 * 3600_000 });
      }
    });
  }

  private vmstateNodeOrRefuse(what: string): string {
    const node = this.plan!.snapshot.vmstateNode;
    if (!node) {
      throw new AppError(
        'UNSUPPORTED',
        `VM ${this.label} has no disk and no UEFI NVRAM, so it cannot ${what}: RAM is kept in a qcow2 image. Add a disk.`,
      );
    }
    return node;
  }

  private async snapshotJob(run: () => Promise<unknown>): Promise<void> {
    this.inSnapshotJob = true;
    try {
      await run();
    } finally {
      this.inSnapshotJob = false;
    }
  }

  /** Bytes of RAM + device state in snapshot `tag` of `node`, or null when QEMU does not say. */
  private async vmStateSize(node: string, tag: string): Promise<number | null> {
    try {
      const nodes = await this.qmp!.execute('query-named-block-nodes', { flat: true });
      const snap = nodes.find((n) => n['node-name'] === node)?.image?.snapshots?.find((x) => x.name === tag);
      return snap ? snap['vm-state-size'] : null;
    } catch {
      return null;
    }
  }

  attachIso(isoPath: string): Promise<void> {
    return this.changeMedium(firstCdromId(this.options.config, 'change the CD/DVD'), isoPath);
  }

  eject(): Promise<void> {
    return this.changeMedium(firstCdromId(this.options.config, 'eject the CD/DVD'), null);
  }

  changeMedium(driveId: string, medium: string | null): Promise<void> {
    return this.serialize(async () => {
      const drive = this.plan?.removable.find((d) => d.id === driveId);
      const kind = drive?.kind === 'floppy' ? 'floppy' : 'CD/DVD';
      const qmp = this.requireState(medium ? `change the ${kind}` : `eject the ${kind}`, 'running', 'paused');
      if (!drive) {
        throw new AppError(
          'NOT_FOUND',
          `VM ${JSON.stringify(this.options.config.name)} has no CD/DVD or floppy drive "${driveId}" (it has ` +
            `${this.plan!.removable.map((d) => d.id).join(', ') || 'none'}).`,
        );
      }
      if (medium === null) {
        // A CD/DVD drive has a tray: open it (even if the guest locked it), take the medium out, close
        // it. A floppy drive has none: QEMU ignores the tray commands for it and removes the medium.
        await qmp.execute('blockdev-open-tray', { id: drive.deviceId, force: true });
        await qmp.execute('blockdev-remove-medium', { id: drive.deviceId });
        await qmp.execute('blockdev-close-tray', { id: drive.deviceId });
        this.media.set(drive.id, null);
        return;
      }
      // Checked first: nothing changes in the drive when the image is not one.
      const image = drive.kind === 'cdrom' ? (await inspectIso(medium)).path : (await inspectFloppy(medium)).path;
      await qmp.execute('blockdev-change-medium', {
        id: drive.deviceId,
        filename: image,
        format: 'raw',
        // An ISO is read-only; a floppy is written like a disk (the guest saves files on it).
        'read-only-mode': drive.kind === 'cdrom' ? 'read-only' : 'read-write',
        force: true,
      });
      this.media.set(drive.id, image);
    });
  }

  setLinkState(index: number, connected: boolean): Promise<void> {
    return this.serialize(async () => {
      const what = connected ? 'plug in a network cable' : 'unplug a network cable';
      const qmp = this.requireState(what, 'running', 'paused');
      const nic = this.plannedNic(index);
      await qmp.execute('set_link', { name: nic.deviceId, up: connected });
      this.options.log(`adapter ${index + 1}: cable ${connected ? 'plugged in' : 'unplugged'}`);
    });
  }

  addPortForward(index: number, rule: PortForward): Promise<void> {
    return this.serialize(async () => {
      const qmp = this.requireState('add a port forward', 'running', 'paused');
      const netdev = this.natNetdev(index);
      const spec = `${rule.protocol}:${rule.hostAddress}:${rule.hostPort}-:${rule.guestPort}`;
      // HMP answers nothing when it worked, and a sentence when it did not.
      const out = (
        await qmp.execute('human-monitor-command', { 'command-line': `hostfwd_add ${netdev} ${spec}` })
      ).trim();
      if (out) {
        throw new AppError(
          'IO',
          `QEMU could not forward host port ${rule.hostPort} on ${rule.hostAddress} (${rule.protocol}) to guest port ` +
            `${rule.guestPort}: ${out}. Another program may have taken the port; choose another one.`,
        );
      }
      this.options.log(`adapter ${index + 1}: forwarding ${spec}`);
    });
  }

  removePortForward(index: number, rule: PortForward): Promise<void> {
    return this.serialize(async () => {
      const qmp = this.requireState('remove a port forward', 'running', 'paused');
      const netdev = this.natNetdev(index);
      const spec = `${rule.protocol}:${rule.hostAddress}:${rule.hostPort}`;
      const out = (
        await qmp.execute('human-monitor-command', { 'command-line': `hostfwd_remove ${netdev} ${spec}` })
      ).trim();
      // "host forwarding rule for … removed", or "… not found" (already gone: nothing to do).
      if (!/removed|not found/i.test(out)) {
        throw new AppError('IO', `QEMU could not remove the port forward on ${spec}: ${out || 'no answer'}.`);
      }
      this.options.log(`adapter ${index + 1}: no longer forwarding ${spec} (${out})`);
    });
  }

  /** Adapter `index` of the running machine, or NOT_FOUND. */
  private plannedNic(index: number): MachinePlan['nics'][number] {
    const nic = this.plan?.nics[index];
    if (!nic) {
      const n = this.plan?.nics.length ?? 0;
      throw new AppError(
        'NOT_FOUND',
        `VM ${this.label} has no network adapter ${index + 1} (it has ${n === 0 ? 'none' : n === 1 ? 'one' : n}).`,
      );
    }
    return nic;
  }

  /** The netdev of NAT adapter `index`, or what is wrong. */
  private natNetdev(index: number): string {
    const nic = this.plannedNic(index);
    if (nic.attachment !== 'nat' || !nic.netdevId) {
      throw new AppError(
        'UNSUPPORTED',
        `Adapter ${index + 1} of VM ${this.label} is not attached to NAT in this run: only a NAT adapter forwards ports.`,
      );
    }
    return nic.netdevId;
  }

  async screenshot(): Promise<Screenshot> {
    const qmp = this.requireState('take a screenshot', 'running', 'paused');
    const file = path.join(this.options.paths.socketFolder, `screendump-${process.pid}-${++this.screenshots}.ppm`);
    try {
      await qmp.execute('screendump', { filename: file });
      const img = decodePpm(new Uint8Array(await readFile(file)));
      return { width: img.width, height: img.height, png: encodePng(img) };
    } finally {
      await rm(file, { force: true });
    }
  }

  async writeSerial(data: Uint8Array): Promise<void> {
    const s = this.serial;
    if (!s || this.sm.isFinal) throw new AppError('BUSY', 'The serial port is not connected (the VM is not running).');
    await new Promise<void>((resolve, reject) => s.write(data, (err) => (err ? reject(err) : resolve())));
  }

  display(): DisplayEndpoint | null {
    return this.plan ? { protocol: 'rfb', path: this.plan.sockets.vnc } : null;
  }

  runtimeInfo(): EngineRuntimeInfo {
    const plan = this.plan;
    return {
      accelerator: plan?.accelerator ?? null,
      acceleratorReason: plan?.acceleratorReason ?? null,
      notes: plan?.notes ?? [],
      cdrom: this.options.config.cdroms[0] ? (this.media.get(this.options.config.cdroms[0].id) ?? null) : null,
      media: (plan?.removable ?? []).map((d) => ({ id: d.id, kind: d.kind, medium: this.media.get(d.id) ?? null })),
      serialLog: plan?.serialLog ?? null,
      resumedFromSavedState: this.resumed,
      recovery: this.recoveryRecord(),
    };
  }

  /** The child processes a later engine host must end if this one dies (read by qemu-recovery.ts). */
  private recoveryRecord(): QemuRecoveryRecord {
    const plan = this.plan;
    return {
      ...(plan && this.qemu?.running ? { qemu: { pid: this.qemu.pid, qmpSocket: plan.sockets.qmp } } : {}),
      ...(plan?.swtpm && this.swtpm?.running
        ? { swtpm: { pid: this.swtpm.pid, ctrlSocket: plan.swtpm.ctrlSocket } }
        : {}),
    };
  }

  /** QEMU died mid-write: free the clusters it allocated but never referenced (qcow2 leaks). */
  async repairAfterAbort(): Promise<void> {
    const img = this.options.host.qemu.img;
    const plan = this.plan;
    if (!img || !plan) return;
    for (const image of plan.snapshot.images) {
      try {
        const r = await repairLeaks(img.path, image);
        this.options.log(
          `after abort: qemu-img check -r leaks ${image}: exit ${r.exitCode}, leaks ${r.leaks}, corruptions ${r.corruptions}`,
        );
      } catch (err) {
        this.options.log(`after abort: checking ${image} failed: ${String(err)}`);
      }
    }
  }

  /** The engine host is failing: SIGTERM to qemu (it shuts down cleanly and flushes its images on it) and swtpm. */
  emergencyStop(): void {
    for (const child of [this.qemu, this.swtpm]) {
      if (!child?.running) continue;
      try {
        process.kill(child.pid, 'SIGTERM');
      } catch (err) {
        this.options.log(`emergency stop: cannot signal pid ${child.pid}: ${String(err)}`);
      }
    }
  }

  dispose(): void {
    this.store.dispose();
  }
}
