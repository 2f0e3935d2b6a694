// The engine interface every engine implements (qemu, v86): lifecycle, media, display,
// input, serial, capabilities, state events, and what a later engine host needs to clean up
// after it. Engine hosts and front ends only ever talk to this; the UI asks capabilities,
// never which engine it is. Engines are created by kind in engine-host/engine-host.ts.
import type {
  EngineCapabilities,
  EngineKind,
  EngineState,
  LiveSnapshotState,
  RemovableMedium,
  SavedStateMarker,
  StopMode,
} from '../../src-shared/contracts/engine';
import type { Disposable } from '../base/lifecycle';
import type { Event } from '../base/event';
import { AppError } from '../../src-shared/errors';
import type { PortForward, VmConfig } from '../../src-shared/vm-config';

/** A state change, with why it happened when that matters (the reason of an `aborted`). */
export interface EngineStateChange {
  readonly from: EngineState;
  readonly to: EngineState;
  readonly reason?: string;
}

/** Where viewers connect to the screen: RFB (VNC) on a unix socket (named pipe on Windows). */
export interface DisplayEndpoint {
  readonly protocol: 'rfb';
  readonly path: string;
}

/** A screen capture: PNG bytes and the size. */
export interface Screenshot {
  readonly width: number;
  readonly height: number;
  readonly png: Uint8Array;
}

/** How the engine runs this VM (for status and the UI's "why"). */
export interface EngineRuntimeInfo {
  readonly accelerator: string | null;
  readonly acceleratorReason: string | null;
  readonly notes: readonly string[];
  /** Current medium of the first CD/DVD drive (absolute path) or null. */
  readonly cdrom: string | null;
  /** Every CD/DVD and floppy drive and its medium now. */
  readonly media: readonly RemovableMedium[];
  readonly serialLog: string | null;
  readonly resumedFromSavedState: boolean;
  /**
   * What this engine's own recovery needs to end its leftovers (child processes) should the
   * engine host die: JSON-serialisable, opaque to everyone else (the host stores it in
   * state.json as `engineRecovery`). Null when nothing of the engine outlives its host.
   */
  readonly recovery: unknown;
}

/** What `saveState` leaves for the next start (the host writes it as the saved-state marker). */
export type SavedState = SavedStateMarker;

export interface EngineStopOutcome {
  /** An ACPI stop whose guest did not power off within the timeout, so it was forced off. */
  readonly forced: boolean;
}

/**
 * One running VM. `start` brings it to `running` (or rejects, leaving nothing running);
 * every other call needs a started engine. The engine ends in `off` or `aborted`; after
 * that only `dispose` is meaningful. Errors users must see are AppErrors.
 */
export interface Engine extends Disposable {
  readonly kind: EngineKind;
  readonly capabilities: EngineCapabilities;
  readonly state: EngineState;
  readonly onDidChangeState: Event<EngineStateChange>;
  /** Bytes the guest wrote to its first serial port. */
  readonly onSerialOutput: Event<Uint8Array>;

  /** Boots the VM, or resumes `resumeFrom` when given (then the saved state is consumed). */
  start(options?: { resumeFrom?: SavedState | null }): Promise<void>;
  /** `acpi`: power button, then force off after `timeoutMs`; `force`: off at once. Resolves when off. */
  stop(mode: StopMode, options?: { timeoutMs?: number }): Promise<EngineStopOutcome>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  reset(): Promise<void>;
  /**
   * Saves RAM + devices + disks, then powers off; the next start resumes from what it
   * returns. `persist` runs once the state is safely saved and before the VM powers off
   * (the host writes its saved-state marker there); if it throws, the VM keeps running.
   */
  saveState(persist?: (state: SavedState) => Promise<void>): Promise<SavedState>;
  /**
   * A live snapshot `tag` of a running or paused VM: the guest stops only while RAM and
   * devices are written, and runs on afterwards if it ran. `stateFile`: where an engine that
   * keeps RAM outside its images (v86) writes it.
   */
  takeSnapshot(tag: string, stateFile: string): Promise<LiveSnapshotState>;
  /** Back to live snapshot `tag` in place, or UNSUPPORTED (the caller restarts the VM from it instead). */
  restoreSnapshot(tag: string, stateFile: string): Promise<void>;
  /** Removes snapshot `tag` from the images of the running VM. */
  deleteSnapshot(tag: string): Promise<void>;
  /** Makes the running VM's disk overlays independent of their bases (or UNSUPPORTED: power off first). */
  flattenDisks(): Promise<void>;
  // Input: keyboard and the first serial port.
  /** Types text on a US keyboard layout. */
  sendKeys(text: string): Promise<void>;
  /** Presses keys together and releases them, e.g. ['ctrl', 'alt', 'delete']. */
  sendCombo(keys: readonly string[]): Promise<void>;
  writeSerial(data: Uint8Array): Promise<void>;
  // Removable media. attachIso/eject: the first CD/DVD drive.
  attachIso(isoPath: string): Promise<void>;
  eject(): Promise<void>;
  /**
   * Puts an image in CD/DVD or floppy drive `drive` (its id in the config), or empties it
   * (null). NOT_FOUND for a drive the VM does not have; the image is checked first (an ISO for
   * a CD/DVD drive, a floppy-sized file for a floppy drive) and nothing changes when it fails.
   */
  changeMedium(drive: string, medium: string | null): Promise<void>;
  // Network adapters (`index`: the config's order, from 0), for this run; the caller stores the change.
  /** Plugs adapter `index`'s cable in or pulls it: the guest sees its link come or go. */
  setLinkState(index: number, connected: boolean): Promise<void>;
  /** Adds a port forward to NAT adapter `index` (the caller has checked that the host port is free). */
  addPortForward(index: number, rule: PortForward): Promise<void>;
  /** Removes the port forward on `rule`'s host address and port from NAT adapter `index`. */
  removePortForward(index: number, rule: PortForward): Promise<void>;
  // The screen.
  display(): DisplayEndpoint | null;
  screenshot(): Promise<Screenshot>;
  runtimeInfo(): EngineRuntimeInfo;
  /** After the VM aborted: repairs what the abort may have left (e.g. clusters leaked in qcow2 images). Never throws. */
  repairAfterAbort?(): Promise<void>;
  /**
   * Last resort when the engine host itself fails: asks the engine's child processes to end,
   * synchronously (the host exits right after). Never throws.
   */
  emergencyStop?(): void;
}

/**
 * The id of the VM's first CD/DVD drive, where `attachIso` and `eject` act; NOT_FOUND saying
 * how to add one when it has none.
 */
export function firstCdromId(config: VmConfig, what: string): string {
  const first = config.cdroms[0];
  if (!first) {
    throw new AppError(
      'NOT_FOUND',
      `Cannot ${what} of VM ${JSON.stringify(config.name)}: it has no CD/DVD drive. Add one while it is off ` +
        `("maru storage ${config.name} attach --type dvd --medium emptydrive").`,
    );
  }
  return first.id;
}
