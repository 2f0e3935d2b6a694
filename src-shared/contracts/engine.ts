// The engine contract: what every engine (qemu, v86) offers behind one interface, and the
// messages an engine host's control endpoint speaks. The UI asks capabilities, never names.

/** Power states of a running engine host, and the transitions allowed between them. */
export type EngineState = 'starting' | 'running' | 'paused' | 'saving' | 'stopping' | 'off' | 'aborted';

export const ENGINE_TRANSITIONS: Readonly<Record<EngineState, readonly EngineState[]>> = {
  starting: ['running', 'paused', 'aborted', 'off'],
  running: ['paused', 'saving', 'stopping', 'off', 'aborted', 'running'],
  paused: ['running', 'saving', 'stopping', 'off', 'aborted'],
  saving: ['off', 'running', 'paused', 'aborted'],
  stopping: ['off', 'aborted', 'running'],
  off: [],
  aborted: [],
};

export type StopMode = 'acpi' | 'force';

export interface EngineCapabilities {
  readonly engine: 'qemu' | 'v86';
  readonly maxCpus: number;
  readonly maxMemoryMiB: number;
  readonly firmware: readonly ('bios' | 'uefi')[];
  readonly secureBoot: boolean;
  readonly tpm: boolean;
  readonly saveState: boolean;
  readonly snapshots: boolean;
  readonly acpiShutdown: boolean;
  /** usb-tablet (absolute pointer) vs PS/2 relative mouse (pointer lock in the UI). */
  readonly absolutePointer: boolean;
  readonly hotplugCdrom: boolean;
}

/** What `status` on an engine host's control endpoint returns. */
export interface EngineStatus {
  readonly vmId: string;
  readonly engine: 'qemu' | 'v86';
  readonly state: EngineState;
  readonly pid: number;
  readonly startedAt: string;
  /** Accelerator in use (qemu) and why, e.g. "tcg: KVM present but cannot run guests". */
  readonly accelerator: string | null;
  readonly acceleratorReason: string | null;
  /** RFB endpoint (unix socket path) for viewers. */
  readonly display: string | null;
  readonly capabilities: EngineCapabilities;
  readonly cdrom: string | null;
}

/** Engine-host control endpoint: newline-delimited JSON requests and replies. */
export type EngineControlMethod =
  | 'status'
  | 'stop'
  | 'pause'
  | 'resume'
  | 'reset'
  | 'saveState'
  | 'attachIso'
  | 'eject'
  | 'screenshot'
  | 'sendKeys'
  | 'sendCombo'
  | 'serialSubscribe';

export interface EngineControlRequest {
  readonly id: number;
  readonly method: EngineControlMethod;
  readonly args: readonly unknown[];
}
