// The v86 engine: runs one VM inside the engine host process on the embedded x86 emulator,
// with qcow2 disks (IDE), an ISO CD-ROM read on demand, floppies (in memory, written back to
// their files), an RFB server over its screen, serial, send-keys, pause/resume/reset and saved
// states (v86 state file + qcow2 internal snapshots).
import { createWriteStream, type WriteStream } from 'node:fs';
import { open, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { EngineCapabilities, LiveSnapshotState, StopMode } from '../../../src-shared/contracts/engine';
import { V86_MAX_CPUS, V86_MAX_MEMORY_MIB, chooseEngine, v86Problems } from '../../../src-shared/engine-choice';
import { AppError } from '../../../src-shared/errors';
import type { HostInfo } from '../../../src-shared/host-info';
import type { VmConfig } from '../../../src-shared/vm-config';
import { nicMacAddress } from '../../../src-shared/network-adapters';
import { writeFileAtomic } from '../../../src-node/atomic-file';
import { socketFile } from '../../../src-node/run-folder';
import { openV86BlockDevice, type V86BlockDevice } from '../../disk/block-device';
import { Qcow2Image } from '../../disk/qcow2-image';
import { encodePng } from '../../display/png-encoder';
import type { KeyStroke } from '../../input/key-mapping';
import { inspectIso } from '../../media/iso-image';
import { inspectFloppy } from '../../media/floppy-image';
import { RfbServer } from '../../rfb/rfb-server';
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
import type { JoinInternalNetwork, VmAttachment } from '../../network/internal-network-port';
import { strokeToSet1, V86Input } from './ps2-input';
import { V86Display } from './v86-display';
import { V86DriveAdapter } from './v86-disk';
import { loadV86Firmware } from './v86-firmware';
import { V86_VERSION, V86Machine, v86BootOrder } from './v86-machine';

/** qcow2 internal snapshot tag holding the disks of a saved state. */
export const V86_SAVED_STATE_TAG = 'maru-saved-state';
/** The v86 state file of a saved state, in the VM folder. */
export const V86_STATE_FILE = 'v86-saved-state.bin';
/** Pause between typed keys: v86's PS/2 buffer is small and the guest reads it by interrupt. */
const KEY_PACE_MS = 12;

export interface V86EngineOptions {
  readonly config: VmConfig;
  /** The host probe's findings: only used to explain the engine choice. */
  readonly host?: HostInfo | null;
  readonly paths: { readonly vmFolder: string; readonly socketFolder: string; readonly logsFolder: string };
  readonly log: (line: string) => void;
  /** Maru's resources folder (bundled firmware); default Electron's process.resourcesPath when present. */
  readonly resourcesDir?: string | null;
  readonly env?: NodeJS.ProcessEnv;
  readonly wasmPath?: string;
  /** Screen refresh period (ms), default 16. */
  readonly displayRefreshMs?: number;
  /** Joins the adapter to an internal network (the engine host owns and closes the port). */
  readonly joinInternalNetwork?: JoinInternalNetwork;
}

interface Drive {
  readonly id: string;
  readonly file: string;
  readonly device: V86BlockDevice;
  readonly adapter: V86DriveAdapter;
}

/** A floppy in a drive: v86 keeps it in memory; what the guest writes goes back to the file. */
interface LoadedFloppy {
  readonly path: string;
  /** The bytes v86 works on (in place). */
  readonly bytes: Uint8Array;
  /** The file as read (or last written back), to tell whether the guest changed anything. */
  saved: Uint8Array;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A VM on the embedded v86 emulator. */
export class V86Engine extends EngineBase<V86Machine> implements Engine {
  readonly kind = 'v86' as const;
  readonly capabilities: EngineCapabilities;

  private machine: V86Machine | null = null;
  private screen: V86Display | null = null;
  private rfb: RfbServer | null = null;
  private disks: Drive[] = [];
  private cdrom: { path: string; device: V86BlockDevice } | null = null;
  /** Drives A: and B: (config.floppies[0], [1]) and what is in them. */
  private readonly floppies: (LoadedFloppy | null)[] = [null, null];
  private serialLog: WriteStream | null = null;
  private readonly rfbPath: string;
  private readonly notes: string[] = [];
  private resumed = false;
  private tornDown = false;
  /** The NE2000's cable to an internal network's port, when adapter 1 is on one. */
  private network: { attachment: VmAttachment; card: { dispose(): void } } | null = null;

  constructor(private readonly options: V86EngineOptions) {
    super(options.config.name, options.log);
    const { config } = options;
    this.capabilities = {
      engine: 'v86',
      maxCpus: V86_MAX_CPUS,
      maxMemoryMiB: V86_MAX_MEMORY_MIB,
      firmware: ['bios'],
      secureBoot: false,
      tpm: false,
      // The state file holds RAM and devices; qcow2 disks get an internal snapshot beside it.
      saveState: true,
      snapshots: config.disks.length > 0,
      // v86 runs without ACPI (experimental upstream): there is no power button to press.
      acpiShutdown: false,
      absolutePointer: false,
      hotplugCdrom: true,
    };
    this.rfbPath = socketFile(options.paths.socketFolder, 'rfb');
    this.sm.onDidChange((c) => {
      if (c.to === 'off' || c.to === 'aborted') void this.teardown();
    });
  }

  // ---- start

  async start(options: { resumeFrom?: SavedState | null } = {}): Promise<void> {
    const resumeFrom = options.resumeFrom ?? null;
    const { config, log, paths } = this.options;
    try {
      this.checkConfig();
      const firmware = await loadV86Firmware({
        resourcesDir: this.options.resourcesDir ?? (process as { resourcesPath?: string }).resourcesPath ?? null,
        ...(this.options.env ? { env: this.options.env } : {}),
      });
      log(`v86 ${V86_VERSION}: BIOS ${firmware.files.bios}, VGA BIOS ${firmware.files.vgaBios}`);
      await this.openDisks();
      if (resumeFrom) await this.revertDisksTo(resumeFrom);
      const iso = config.cdroms[0]?.iso;
      if (iso) this.cdrom = await this.openIso(iso);
      for (const [unit, f] of config.floppies.entries()) {
        if (f.image) this.floppies[unit] = await this.readFloppy(f.image);
      }
      const [fda, fdb] = this.floppies.map((f) => f?.bytes);

      this.serialLog = createWriteStream(path.join(paths.logsFolder, 'serial.log'), { flags: 'a', mode: 0o600 });
      this.serialLog.on('error', (err) => log(`serial log: ${err.message}`));
      const display = new V86Display(
        this.options.displayRefreshMs !== undefined ? { refreshMs: this.options.displayRefreshMs } : {},
      );
      this.screen = display;
      const machine = await V86Machine.create({
        memoryBytes: config.memoryMiB * 1024 * 1024,
        firmware,
        ...(this.disks[0] ? { hda: this.disks[0].adapter } : {}),
        ...(this.disks[1] ? { hdb: this.disks[1].adapter } : {}),
        ...(this.cdrom ? { cdrom: new V86DriveAdapter(this.cdrom.device, { readAhead: true }) } : {}),
        ...(fda ? { fda } : {}),
        ...(fdb ? { fdb } : {}),
        bootOrder: v86BootOrder(config.bootOrder),
        display,
        ...(this.options.wasmPath ? { wasmPath: this.options.wasmPath } : {}),
        ...(config.nics.length > 0 ? { nicMac: nicMacAddress(config, 0) } : {}),
      });
      this.machine = machine;
      await this.connectNetwork(machine);
      machine.onSerialOutput((bytes) => {
        this.serialLog?.write(bytes);
        this.serialOut.fire(bytes);
      });
      this.rfb = new RfbServer({
        source: display,
        input: new V86Input(
          () => (this.sm.state === 'running' ? machine.input : undefined),
          () => ({ width: display.width, height: display.height }),
        ),
        desktopName: config.name,
        log: (m) => log(m),
      });
      await this.rfb.listen({ path: this.rfbPath });

      if (resumeFrom) {
        await machine.restoreState(await this.readStateFile(resumeFrom));
        this.resumed = true;
        log(`resumed from the saved state of ${resumeFrom.savedAt}`);
      }
      this.explainChoice();
      await machine.run();
      this.sm.set('running', resumeFrom ? 'resumed' : 'booted');
      if (resumeFrom && !resumeFrom.keep) await this.dropSavedState(resumeFrom);
    } catch (err) {
      await this.teardown();
      if (!this.sm.isFinal) this.sm.set('off', 'start failed');
      throw err;
    }
  }

  /**
   * v86 has one adapter, an NE2000: when the VM's first adapter is on an internal network (cable
   * in), its frames go to that network's port and the port's come back to it.
   */
  private async connectNetwork(machine: V86Machine): Promise<void> {
    const nic = this.options.config.nics[0];
    if (nic?.attachment !== 'internal' || !nic.network || !nic.cableConnected) return;
    const join = this.options.joinInternalNetwork;
    if (!join) {
      throw new AppError(
        'UNSUPPORTED',
        `Adapter 1 of VM ${this.label} is on internal network ${JSON.stringify(nic.network)}, which this engine ` +
          'runs only inside an engine host. Start the VM with Maru (maru start).',
      );
    }
    const port = await join(0, nic.network);
    let attachment: VmAttachment | null = null;
    const card = machine.attachNetwork((frame) => attachment?.send(frame));
    attachment = port.attachVm((frame) => card.receive(frame));
    this.network = { attachment, card };
    this.options.log(
      `adapter 1 (NE2000 ${nicMacAddress(this.options.config, 0)}) is on internal network ${JSON.stringify(nic.network)}`,
    );
  }

  /** Refuses what v86 cannot run, saying why and what to change. */
  private checkConfig(): void {
    const { config } = this.options;
    const problems = v86Problems(config);
    if (problems.length > 0) {
      throw new AppError(
        'UNSUPPORTED',
        `VM ${this.label} cannot run on the v86 engine: ${problems.join('; ')}. Change the VM ` +
          `("maru modify ${config.name} --cpus 1 --memory 512 --firmware bios --no-tpm"; its drives: ` +
          `"maru storage ${config.name} list"), or run it with QEMU ("maru modify ${config.name} --engine qemu").`,
      );
    }
  }

  private explainChoice(): void {
    const { host, config } = this.options;
    const why = host ? chooseEngine(config, host).reason : `the VM is set to the ${config.engine} engine`;
    this.notes.push(`Engine v86 (${why}): one 32-bit CPU, BIOS, PS/2 mouse (relative; use pointer lock).`);
    this.notes.push('v86 has no ACPI power button: stop the VM with --force, or shut the guest down from inside.');
  }

  private diskPath(file: string): string {
    return path.isAbsolute(file) ? file : path.join(this.options.paths.vmFolder, file);
  }

  private async openDisks(): Promise<void> {
    for (const d of this.options.config.disks) {
      const file = this.diskPath(d.file);
      const device = await openV86BlockDevice(file, { format: 'qcow2', onError: (err) => this.onDiskError(file, err) });
      this.disks.push({ id: d.id, file, device, adapter: new V86DriveAdapter(device) });
    }
  }

  private async openIso(isoPath: string): Promise<{ path: string; device: V86BlockDevice }> {
    const iso = await inspectIso(isoPath);
    const device = await openV86BlockDevice(iso.path, {
      format: 'raw',
      readOnly: true,
      onError: (err) => this.onDiskError(iso.path, err),
    });
    return { path: iso.path, device };
  }

  /** Reads a floppy image whole (v86 needs it in memory), after checking it is one. */
  private async readFloppy(file: string): Promise<LoadedFloppy> {
    const info = await inspectFloppy(file);
    const read = await readFile(info.path);
    if (read.byteLength !== info.bytes) {
      throw new AppError('IO', `The floppy image ${info.path} changed size while it was read; try again.`);
    }
    // An ArrayBuffer of its own: v86 works on it in place.
    const bytes = new Uint8Array(read.byteLength);
    bytes.set(read);
    return { path: info.path, bytes, saved: new Uint8Array(read) };
  }

  /** Writes what the guest changed on floppy `unit` back to its file (in place). Never throws: logs. */
  private async writeBackFloppy(unit: 0 | 1): Promise<void> {
    const f = this.floppies[unit];
    if (!f) return;
    const now = this.machine?.floppyContents(unit) ?? f.bytes;
    if (now.byteLength !== f.saved.byteLength || Buffer.compare(now, f.saved) === 0) return;
    try {
      const handle = await open(f.path, 'r+');
      try {
        await handle.write(now, 0, now.byteLength, 0);
        await handle.sync();
      } finally {
        await handle.close();
      }
      f.saved = new Uint8Array(now);
      this.options.log(`floppy ${f.path}: the guest's changes were written back`);
    } catch (err) {
      this.options.log(`floppy ${f.path}: writing the guest's changes back failed: ${(err as Error).message}`);
    }
  }

  private onDiskError(file: string, err: Error): void {
    const reason = `Disk I/O on ${file} failed: ${err.message}. The VM was stopped to protect its disks.`;
    this.options.log(reason);
    if (!this.sm.isFinal && this.sm.state !== 'starting') this.sm.set('aborted', reason);
  }

  // ---- saved states

  private stateFilePath(): string {
    return path.join(this.options.paths.vmFolder, V86_STATE_FILE);
  }

  private async readStateFile(saved: SavedState): Promise<ArrayBuffer> {
    const file = saved.vmstateNode || this.stateFilePath();
    if (saved.engineVersion && saved.engineVersion !== V86_VERSION) {
      throw new AppError(
        'UNSUPPORTED',
        `The saved state of VM ${this.label} was written by v86 ${saved.engineVersion}; this Maru runs v86 ` +
          `${V86_VERSION}, which cannot load it. ` +
          (saved.keep
            ? 'Restore a disk-only snapshot, or discard the state to boot from the snapshot’s disks.'
            : `Discard it with "maru discard-state ${this.options.config.name}" to boot the VM afresh.`),
      );
    }
    try {
      const bytes = await readFile(file);
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    } catch (err) {
      throw new AppError(
        'IO',
        `The saved state of VM ${this.label} cannot be read (${file}: ${(err as Error).message}). Discard it with ` +
          `"maru discard-state ${this.options.config.name}" to boot the VM afresh.`,
      );
    }
  }

  /** Puts every disk back to the saved state's snapshot (they must match the state file). */
  private async revertDisksTo(saved: SavedState): Promise<void> {
    for (const d of this.disks) {
      const image = d.device.image;
      if (!(image instanceof Qcow2Image)) continue;
      const snaps = await image.listSnapshots();
      if (!snaps.some((s) => s.name === saved.tag)) {
        throw new AppError(
          'IO',
          `VM ${this.label} has a saved state, but disk ${d.id} (${d.file}) lacks its snapshot "${saved.tag}", so the ` +
            `state and the disk would not match. Discard the state ("maru discard-state ${this.options.config.name}").`,
        );
      }
      await image.applySnapshot(saved.tag);
    }
  }

  /** The state is in RAM now: drop the snapshot and the file, so disks and a stale state never diverge. */
  private async dropSavedState(saved: SavedState): Promise<void> {
    for (const d of this.disks) {
      const image = d.device.image;
      if (image instanceof Qcow2Image && (await image.listSnapshots()).some((s) => s.name === saved.tag)) {
        await image.deleteSnapshot(saved.tag);
      }
    }
    await rm(saved.vmstateNode || this.stateFilePath(), { force: true });
  }

  private async writeStateFile(state: ArrayBuffer): Promise<string> {
    const file = this.stateFilePath();
    await writeFileAtomic(file, new Uint8Array(state), { mode: 0o600 });
    return file;
  }

  // ---- operations

  protected get handle(): V86Machine | null {
    return this.machine;
  }

  protected setGuestRunning(machine: V86Machine, running: boolean): Promise<void> {
    return running ? machine.run() : machine.stop();
  }

  protected async pressKeys(machine: V86Machine, stroke: KeyStroke): Promise<void> {
    machine.input.keyboard_send_scancodes(strokeToSet1(stroke));
    await sleep(KEY_PACE_MS);
  }

  stop(mode: StopMode): Promise<EngineStopOutcome> {
    return this.serialize(async () => {
      const machine = this.requireState('stop the VM', 'running', 'paused');
      if (mode === 'acpi') {
        throw new AppError(
          'UNSUPPORTED',
          `VM ${this.label} runs on the v86 engine, which has no ACPI power button to ask the guest to shut down. ` +
            `Shut the guest down from inside, or power it off with "maru stop ${this.options.config.name} --force".`,
        );
      }
      this.sm.set('stopping', 'forced');
      await machine.stop();
      await this.teardown();
      this.sm.set('off', 'stopped');
      return { forced: true };
    });
  }

  reset(): Promise<void> {
    return this.serialize(async () => {
      const machine = this.requireState('reset', 'running', 'paused');
      machine.restart();
    });
  }

  saveState(persist?: (state: SavedState) => Promise<void>): Promise<SavedState> {
    return this.serialize(async () => {
      const machine = this.requireState('save the state', 'running', 'paused');
      const before = this.enterSaving();
      try {
        // Halt the CPU and let disk I/O drain: the state file and the disks must agree.
        await machine.stop();
        for (const d of this.disks) await d.device.drain();
        const stateFile = await this.writeStateFile(await machine.saveState());
        const images: string[] = [];
        for (const d of this.disks) {
          const image = d.device.image;
          if (!(image instanceof Qcow2Image)) continue;
          await image.flush();
          if ((await image.listSnapshots()).some((s) => s.name === V86_SAVED_STATE_TAG)) {
            await image.deleteSnapshot(V86_SAVED_STATE_TAG); // left by a save whose marker never got written
          }
          await image.createSnapshot({ name: V86_SAVED_STATE_TAG });
          await image.flush();
          images.push(d.file);
        }
        const saved: SavedState = {
          engine: 'v86',
          savedAt: new Date().toISOString(),
          tag: V86_SAVED_STATE_TAG,
          // v86: the state file (RAM + devices); the disks hold snapshot `tag`.
          vmstateNode: stateFile,
          devices: this.disks.map((d) => d.id),
          images,
          engineVersion: V86_VERSION,
        };
        if (persist) await persist(saved);
        await this.teardown();
        this.sm.set('off', 'state saved');
        return saved;
      } catch (err) {
        return this.saveFailed(err, before, machine, !this.tornDown);
      }
    });
  }

  takeSnapshot(tag: string, stateFile: string): Promise<LiveSnapshotState> {
    return this.serialize(async () => {
      const machine = this.requireState('take a snapshot', 'running', 'paused');
      const wasRunning = this.sm.state === 'running';
      const images = this.qcow2Disks('take a snapshot');
      // Halt the CPU and let disk I/O drain: the state file and the disks must agree.
      await machine.stop();
      try {
        for (const d of this.disks) await d.device.drain();
        const state = new Uint8Array(await machine.saveState());
        await writeFileAtomic(stateFile, state, { mode: 0o600 });
        for (const image of images) {
          await image.flush();
          await image.createSnapshot({ name: tag });
          await image.flush();
        }
        return {
          engine: 'v86',
          engineVersion: V86_VERSION,
          tag,
          vmstateNode: stateFile,
          devices: this.disks.map((d) => d.id),
          images: this.disks.map((d) => d.file),
          stateBytes: state.byteLength,
        };
      } finally {
        if (wasRunning) await machine.run();
      }
    });
  }

  restoreSnapshot(): Promise<void> {
    // The block devices cache what they read: the VM restarts from the snapshot instead.
    return Promise.reject(new AppError('UNSUPPORTED', 'v86 restores a live snapshot by restarting the VM from it.'));
  }

  flattenDisks(): Promise<void> {
    return Promise.reject(
      new AppError('UNSUPPORTED', `Power VM ${this.label} off first: v86 makes its disks independent while it is off.`),
    );
  }

  deleteSnapshot(tag: string): Promise<void> {
    return this.serialize(async () => {
      const machine = this.requireState('delete a snapshot', 'running', 'paused');
      const wasRunning = this.sm.state === 'running';
      await machine.stop();
      try {
        for (const d of this.disks) await d.device.drain();
        for (const image of this.qcow2Disks('delete a snapshot')) {
          if ((await image.listSnapshots()).some((s) => s.name === tag)) await image.deleteSnapshot(tag);
          await image.flush();
        }
      } finally {
        if (wasRunning) await machine.run();
      }
    });
  }

  /** The open disks as qcow2 images; a raw disk cannot hold a snapshot. */
  private qcow2Disks(what: string): Qcow2Image[] {
    return this.disks.map((d) => {
      const image = d.device.image;
      if (!(image instanceof Qcow2Image)) {
        throw new AppError(
          'UNSUPPORTED',
          `Cannot ${what} of VM ${this.label}: disk ${d.id} (${d.file}) is a raw image, which has no snapshots. ` +
            'Convert it to qcow2 first.',
        );
      }
      return image;
    });
  }

  attachIso(isoPath: string): Promise<void> {
    return this.changeMedium(firstCdromId(this.options.config, 'change the CD/DVD'), isoPath);
  }

  eject(): Promise<void> {
    return this.changeMedium(firstCdromId(this.options.config, 'eject the CD/DVD'), null);
  }

  changeMedium(driveId: string, medium: string | null): Promise<void> {
    return this.serialize(async () => {
      const { config } = this.options;
      const cd = config.cdroms[0]?.id === driveId;
      const unit = config.floppies.findIndex((f) => f.id === driveId);
      const kind = cd ? 'CD/DVD' : 'floppy';
      const machine = this.requireState(medium ? `change the ${kind}` : `eject the ${kind}`, 'running', 'paused');
      if (cd) {
        const old = this.cdrom;
        if (medium) {
          const next = await this.openIso(medium);
          machine.insertCdrom(new V86DriveAdapter(next.device, { readAhead: true }));
          this.cdrom = next;
        } else {
          machine.ejectCdrom();
          this.cdrom = null;
        }
        if (old) await old.device.close();
        return;
      }
      if (unit !== 0 && unit !== 1) {
        const ids = [...config.cdroms.slice(0, 1), ...config.floppies].map((d) => d.id);
        throw new AppError(
          'NOT_FOUND',
          `VM ${this.label} has no CD/DVD or floppy drive "${driveId}" (it has ${ids.join(', ') || 'none'}).`,
        );
      }
      // Checked and read first: nothing changes in the drive when the image is not a floppy.
      const next = medium ? await this.readFloppy(medium) : null;
      await this.writeBackFloppy(unit);
      if (next) await machine.insertFloppy(unit, next.bytes);
      else machine.ejectFloppy(unit);
      this.floppies[unit] = next;
    });
  }

  // Network: v86's one adapter has no NAT yet, and its cable does not switch while it runs.
  setLinkState(): Promise<void> {
    return Promise.reject(
      new AppError(
        'UNSUPPORTED',
        `The v86 engine cannot plug or unplug a network cable while VM ${this.label} runs; change it while the VM is off.`,
      ),
    );
  }

  addPortForward(): Promise<void> {
    return this.noNat();
  }

  removePortForward(): Promise<void> {
    return this.noNat();
  }

  private noNat(): Promise<never> {
    return Promise.reject(
      new AppError(
        'UNSUPPORTED',
        `VM ${this.label} runs on the v86 engine, which has no NAT yet: power it off to change its port forwards ` +
          '(they apply when it runs on QEMU).',
      ),
    );
  }

  async screenshot(): Promise<Screenshot> {
    this.requireState('take a screenshot', 'running', 'paused');
    const display = this.screen!;
    display.refresh();
    const { width, height } = display;
    return { width, height, png: encodePng({ width, height, channels: 4, data: display.pixels }) };
  }

  /** The text on the screen when it is in text mode (for tests and logs). */
  screenText(): string[] {
    return this.screen?.mode === 'text' ? this.screen.textRows() : [];
  }

  async writeSerial(data: Uint8Array): Promise<void> {
    const machine = this.requireState('write to the serial port', 'running', 'paused');
    machine.sendSerial(data);
  }

  display(): DisplayEndpoint | null {
    return this.rfb ? { protocol: 'rfb', path: this.rfbPath } : null;
  }

  runtimeInfo(): EngineRuntimeInfo {
    return {
      accelerator: 'v86-jit',
      acceleratorReason: 'x86 emulated in-process by v86, its code translated to WebAssembly',
      notes: this.notes,
      cdrom: this.cdrom?.path ?? null,
      media: [
        ...this.options.config.cdroms
          .slice(0, 1)
          .map((c) => ({ id: c.id, kind: 'cdrom' as const, medium: this.cdrom?.path ?? null })),
        ...this.options.config.floppies.map((f, unit) => ({
          id: f.id,
          kind: 'floppy' as const,
          medium: this.floppies[unit]?.path ?? null,
        })),
      ],
      serialLog: path.join(this.options.paths.logsFolder, 'serial.log'),
      resumedFromSavedState: this.resumed,
      recovery: null, // in-process: nothing outlives the engine host
    };
  }

  /** Releases the emulator, the display server and the disks (flushed, closed). */
  private async teardown(): Promise<void> {
    if (this.tornDown) return;
    this.tornDown = true;
    const { log } = this.options;
    this.network?.card.dispose();
    this.network?.attachment.dispose();
    this.network = null;
    this.rfb?.dispose();
    this.screen?.dispose();
    await this.machine?.destroy().catch((err: unknown) => log(`stopping v86 failed: ${String(err)}`));
    // The CPU has stopped: what the guest wrote on its floppies goes back to their files.
    await this.writeBackFloppy(0);
    await this.writeBackFloppy(1);
    for (const d of this.disks) {
      await d.device.close().catch((err: unknown) => log(`closing ${d.file} failed: ${String(err)}`));
    }
    await this.cdrom?.device.close().catch((err: unknown) => log(`closing the CD-ROM image failed: ${String(err)}`));
    const serialLog = this.serialLog;
    if (serialLog) await new Promise<void>((resolve) => serialLog.end(resolve));
  }

  dispose(): void {
    void this.teardown().finally(() => {
      this.serialOut.dispose();
      this.sm.dispose();
    });
  }
}

/** Drops a v86 saved state while the VM is off: its qcow2 snapshots and its state file. */
export async function discardV86SavedState(saved: SavedState): Promise<void> {
  for (const file of saved.images) {
    if (!(await stat(file).catch(() => null))) continue;
    const image = await Qcow2Image.open(file);
    try {
      if ((await image.listSnapshots()).some((s) => s.name === saved.tag)) await image.deleteSnapshot(saved.tag);
      await image.flush();
    } finally {
      await image.close();
    }
  }
  if (saved.vmstateNode) await rm(saved.vmstateNode, { force: true });
}
