// The engine contract: what every engine (qemu, v86) offers behind one interface, the
// messages an engine host's control endpoint speaks, and the files it leaves for the library.
// The UI asks capabilities, never names.
import * as z from 'zod';
import type { HostInfo } from '../host-info';
import { MAX_NICS, portForwardSchema, type PortForward, type VmConfig } from '../vm-config';

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

/** True when `to` may follow `from` (see ENGINE_TRANSITIONS). */
export function isEngineTransitionAllowed(from: EngineState, to: EngineState): boolean {
  return ENGINE_TRANSITIONS[from].includes(to);
}

/** A state after which the engine host ends. */
export function isFinalEngineState(state: EngineState): boolean {
  return state === 'off' || state === 'aborted';
}

export type StopMode = 'acpi' | 'force';

export type EngineKind = 'qemu' | 'v86';

export interface EngineCapabilities {
  readonly engine: EngineKind;
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
  readonly engine: EngineKind;
  readonly state: EngineState;
  /** The engine host's pid. */
  readonly pid: number;
  readonly startedAt: string;
  /** Accelerator in use (qemu) and why, e.g. "tcg: KVM present but cannot run guests". */
  readonly accelerator: string | null;
  readonly acceleratorReason: string | null;
  /** RFB endpoint (unix socket path) for viewers. */
  readonly display: string | null;
  readonly capabilities: EngineCapabilities;
  /** The ISO in the first CD/DVD drive now (absolute path), null when empty or when there is no drive. */
  readonly cdrom: string | null;
  /** Every CD/DVD and floppy drive and the image in it now. */
  readonly media?: readonly RemovableMedium[];
  /** Things the user should know about how this VM runs (software emulation, adjusted devices …). */
  readonly notes?: readonly string[];
  /** The serial port's log file. */
  readonly serialLog?: string | null;
  /** True when this start resumed a saved state. */
  readonly resumedFromSavedState?: boolean;
}

/** A CD/DVD or floppy drive of a running VM and what is in it. */
export interface RemovableMedium {
  /** The drive's id in the VM's config (`cd0`, `fd0` …). */
  readonly id: string;
  readonly kind: 'cdrom' | 'floppy';
  /** The image in it (absolute path), null when empty. */
  readonly medium: string | null;
}

/** How `stop` ended. */
export interface StopResult {
  readonly state: EngineState;
  /** ACPI stop whose guest did not power off in time, so it was forced off. */
  readonly forced: boolean;
  readonly message: string;
}

/** A screen capture as it crosses the control socket. */
export interface ScreenshotWire {
  readonly width: number;
  readonly height: number;
  /** PNG bytes, base64. */
  readonly pngBase64: string;
}

/**
 * Engine-host control service: request/response methods on the control endpoint
 * (newline-delimited JSON `{id, method, args}` → `{id, ok, value | error}`).
 * `serialSubscribe` is a stream: after its reply the host sends `{id, stream: 'serial',
 * data}` (base64) messages and a final `{id, stream: 'end'}`.
 */
export interface EngineControlService {
  status(): Promise<EngineStatus>;
  stop(options: { mode: StopMode; timeoutMs?: number | undefined }): Promise<StopResult>;
  pause(): Promise<EngineStatus>;
  resume(): Promise<EngineStatus>;
  reset(): Promise<EngineStatus>;
  saveState(): Promise<StopResult>;
  attachIso(isoPath: string): Promise<EngineStatus>;
  eject(): Promise<EngineStatus>;
  /** Puts an image (absolute path) in CD/DVD or floppy drive `drive`, or empties it (null). */
  changeMedium(drive: string, medium: string | null): Promise<EngineStatus>;
  screenshot(): Promise<ScreenshotWire>;
  sendKeys(text: string): Promise<void>;
  /** Key names pressed together, e.g. ['ctrl', 'alt', 'delete'] (QEMU qcode names or aliases). */
  sendCombo(keys: readonly string[]): Promise<void>;
  /** Bytes for the guest's first serial port (UTF-8 text). */
  serialWrite(text: string): Promise<void>;
  serialSubscribe(options: { history: boolean }): Promise<{ subscribed: true }>;
  /** Live snapshot `tag` of RAM, devices and every writable image; `stateFile` where an engine keeps RAM outside its images (v86). */
  snapshotTake(options: { tag: string; stateFile: string }): Promise<LiveSnapshotState>;
  /** Puts the running VM back to live snapshot `tag` (RAM, devices, disks). */
  snapshotRestore(options: { tag: string; stateFile: string }): Promise<EngineStatus>;
  /** Removes snapshot `tag` from the running VM's images. */
  snapshotDelete(options: { tag: string }): Promise<void>;
  /** Copies into each disk overlay what it reads from its base, then drops the base (a linked clone made independent). */
  flattenDisks(): Promise<void>;
  /** Plugs network adapter `nicIndex`'s cable in or pulls it (adapters counted from 0). */
  setLinkState(nicIndex: number, connected: boolean): Promise<void>;
  /** Adds a port forward to NAT adapter `nicIndex` for this run (the caller has checked the host port). */
  addPortForward(nicIndex: number, rule: PortForward): Promise<void>;
  /** Removes the port forward on `rule`'s host address and port from NAT adapter `nicIndex` for this run. */
  removePortForward(nicIndex: number, rule: PortForward): Promise<void>;
}

/**
 * Where a live snapshot lives, engine by engine (the snapshot tree keeps it): restoring it
 * while the VM is off writes it as the saved-state marker (with `keep`), so the next start
 * resumes from it. `stateBytes`: size of the saved RAM + devices, when the engine can tell.
 */
export interface LiveSnapshotState extends Omit<SavedStateMarker, 'savedAt' | 'keep'> {
  readonly stateBytes: number | null;
}

const MAX_TEXT = 64 * 1024;
const nicIndex = z
  .number()
  .int()
  .min(0)
  .max(MAX_NICS - 1);

/** Runtime table: argument schemas per method, checked against the interface. */
export const engineControlMethods = {
  status: z.tuple([]),
  stop: z.tuple([
    z.object({
      mode: z.enum(['acpi', 'force']),
      timeoutMs: z
        .number()
        .int()
        .min(0)
        .max(24 * 3600 * 1000)
        .optional(),
    }),
  ]),
  pause: z.tuple([]),
  resume: z.tuple([]),
  reset: z.tuple([]),
  saveState: z.tuple([]),
  attachIso: z.tuple([z.string().min(1).max(4096)]),
  eject: z.tuple([]),
  changeMedium: z.tuple([z.string().min(1).max(64), z.string().min(1).max(4096).nullable()]),
  screenshot: z.tuple([]),
  sendKeys: z.tuple([z.string().min(1).max(MAX_TEXT)]),
  sendCombo: z.tuple([z.array(z.string().min(1).max(32)).min(1).max(8)]),
  serialWrite: z.tuple([z.string().min(1).max(MAX_TEXT)]),
  serialSubscribe: z.tuple([z.object({ history: z.boolean() })]),
  snapshotTake: z.tuple([z.object({ tag: z.string().min(1).max(128), stateFile: z.string().min(1).max(4096) })]),
  snapshotRestore: z.tuple([z.object({ tag: z.string().min(1).max(128), stateFile: z.string().min(1).max(4096) })]),
  snapshotDelete: z.tuple([z.object({ tag: z.string().min(1).max(128) })]),
  flattenDisks: z.tuple([]),
  setLinkState: z.tuple([nicIndex, z.boolean()]),
  addPortForward: z.tuple([nicIndex, portForwardSchema]),
  removePortForward: z.tuple([nicIndex, portForwardSchema]),
} satisfies Record<keyof EngineControlService, z.ZodType>;

export type EngineControlMethod = keyof EngineControlService;

export interface EngineControlRequest {
  readonly id: number;
  readonly method: EngineControlMethod;
  readonly args: readonly unknown[];
}

/** Messages the engine host sends on its control endpoint. */
export type EngineControlMessage =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | {
      readonly id: number;
      readonly ok: false;
      readonly error: { readonly code: string; readonly message: string };
    }
  | { readonly id: number; readonly stream: 'serial'; readonly data: string }
  | { readonly id: number; readonly stream: 'end'; readonly state: EngineState };

// ---- what the files an engine host leaves hold (their names: src-node/run-folder.ts) ----

/** `run/<uuid>/state.json` (version 2: what an engine leaves for recovery is its own, opaque record). */
export interface EngineRunState {
  readonly version: 2;
  readonly vmId: string;
  readonly engine: EngineKind;
  readonly state: EngineState;
  /** Engine host pid. */
  readonly pid: number;
  readonly startedAt: string;
  readonly updatedAt: string;
  /** Control endpoint: unix socket path (named pipe on Windows). */
  readonly controlEndpoint: string;
  /** Folder holding the sockets: `run/<uuid>` or a short fallback when that path is too long. */
  readonly socketFolder: string;
  readonly display: string | null;
  /**
   * What the engine needs to end its leftovers (child processes) should this engine host die:
   * the engine's own record, written from its `runtimeInfo().recovery` and read only by that
   * engine kind's recovery (src-emulator/engines/engine-leftovers.ts). Null when nothing of the
   * engine can outlive its host.
   */
  readonly engineRecovery: unknown;
}

/** `vms/<uuid>/aborted`. */
export interface AbortedMarker {
  readonly at: string;
  readonly reason: string;
  /** Logs worth reading (absolute paths). */
  readonly logs: readonly string[];
}

/** `vms/<uuid>/saved-state`. */
export interface SavedStateMarker {
  readonly engine: EngineKind;
  readonly engineVersion: string | null;
  readonly savedAt: string;
  /** qemu: internal snapshot tag holding RAM + devices. */
  readonly tag: string;
  /** qemu: the node whose image holds the vmstate, and every node snapshotted. */
  readonly vmstateNode: string;
  readonly devices: readonly string[];
  /** qemu: image files holding the snapshot (for discarding it offline). */
  readonly images: readonly string[];
  /**
   * The state belongs to a user's snapshot (a live snapshot restored while the VM was off):
   * resuming and discarding leave the snapshot in the images (and the state file) in place.
   */
  readonly keep?: boolean;
}

/** `run/<uuid>/launch.json`: everything an engine host needs; it never reads main-side code. */
export interface EngineLaunchSpec {
  readonly version: 1;
  readonly vmId: string;
  readonly engine: EngineKind;
  readonly config: VmConfig;
  readonly host: HostInfo;
  readonly paths: {
    readonly maruHome: string;
    readonly vmFolder: string;
    readonly runFolder: string;
    readonly socketFolder: string;
    readonly logsFolder: string;
  };
  readonly options: {
    /** Default wait for an ACPI power-off before forcing it (ms). */
    readonly acpiTimeoutMs: number;
  };
  readonly launchedAt: string;
  readonly launcherPid: number;
}

/**
 * Launcher → an engine host started with `--await-launch`: the launch file to run and the log
 * to write (the host also checks that both paths are absolute).
 */
export const engineHostLaunchMessageSchema = z.object({
  type: z.literal('maru-launch'),
  launchFile: z.string().min(1),
  logFile: z.string().min(1),
});
export type EngineHostLaunchMessage = Readonly<z.infer<typeof engineHostLaunchMessageSchema>>;

/** First message an engine host sends its parent (Node IPC or Electron parentPort). */
export type EngineHostParentMessage =
  | { readonly type: 'maru-engine-host'; readonly event: 'ready'; readonly status: EngineStatus }
  | {
      readonly type: 'maru-engine-host';
      readonly event: 'failed';
      readonly error: { readonly code: string; readonly message: string };
    };
