// The engine interface every engine implements (qemu now, v86 later): lifecycle, media,
// display, input, serial, capabilities and state events. Engine hosts and front ends only
// ever talk to this; the UI asks capabilities, never which engine it is.
import type {
  EngineCapabilities,
  EngineKind,
  EngineState,
  SavedStateMarker,
  StopMode,
} from '../../src-shared/contracts/engine';
import type { Disposable } from '../base/lifecycle';
import type { Event } from '../base/event';

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
  /** Current CD/DVD medium (absolute path) or null. */
  readonly cdrom: string | null;
  readonly serialLog: string | null;
  readonly resumedFromSavedState: boolean;
  /** Child processes the engine runs (qemu, swtpm), for crash recovery by a later engine host. */
  readonly children: { readonly qemu?: number; readonly swtpm?: number };
  readonly qmpSocket?: string;
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
  attachIso(isoPath: string): Promise<void>;
  eject(): Promise<void>;
  screenshot(): Promise<Screenshot>;
  /** Types text on a US keyboard layout. */
  sendKeys(text: string): Promise<void>;
  /** Presses keys together and releases them, e.g. ['ctrl', 'alt', 'delete']. */
  sendCombo(keys: readonly string[]): Promise<void>;
  writeSerial(data: Uint8Array): Promise<void>;
  display(): DisplayEndpoint | null;
  runtimeInfo(): EngineRuntimeInfo;
}
