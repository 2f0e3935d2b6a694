// The QMP commands and events Maru uses, typed (QEMU's qapi schema, 7.2): argument and
// return shapes per command, data shapes per event. Only what the engine needs is listed.

export interface QmpVersion {
  readonly qemu: { readonly major: number; readonly minor: number; readonly micro: number };
  readonly package: string;
}

/** The greeting QEMU sends first on a QMP connection. */
export interface QmpGreeting {
  readonly QMP: { readonly version: QmpVersion; readonly capabilities: readonly string[] };
}

export type QmpRunState =
  | 'debug'
  | 'inmigrate'
  | 'internal-error'
  | 'io-error'
  | 'paused'
  | 'postmigrate'
  | 'prelaunch'
  | 'finish-migrate'
  | 'restore-vm'
  | 'running'
  | 'save-vm'
  | 'shutdown'
  | 'suspended'
  | 'watchdog'
  | 'guest-panicked'
  | 'colo';

export type QmpJobStatus =
  | 'undefined'
  | 'created'
  | 'running'
  | 'paused'
  | 'ready'
  | 'standby'
  | 'waiting'
  | 'pending'
  | 'aborting'
  | 'concluded'
  | 'null';

export interface QmpJobInfo {
  readonly id: string;
  readonly type: string;
  readonly status: QmpJobStatus;
  readonly 'current-progress': number;
  readonly 'total-progress': number;
  readonly error?: string;
}

export interface QmpBlockInfo {
  readonly device: string;
  readonly qdev?: string;
  readonly removable: boolean;
  readonly locked: boolean;
  readonly tray_open?: boolean;
  readonly inserted?: {
    readonly file: string;
    readonly 'node-name'?: string;
    readonly ro: boolean;
    readonly drv: string;
  };
}

export interface QmpKeyValue {
  readonly type: 'qcode';
  readonly data: string;
}

type NoArgs = undefined;
type Empty = Record<string, never>;

/** Snapshot job arguments (QEMU ≥ 6.0: `snapshot-save`, `snapshot-load`; `snapshot-delete` has no vmstate). */
export interface QmpSnapshotJobArgs {
  readonly 'job-id': string;
  readonly tag: string;
  readonly vmstate: string;
  readonly devices: readonly string[];
}

/** command → [arguments, return value]. */
export interface QmpCommandMap {
  qmp_capabilities: { args: { enable?: readonly string[] } | NoArgs; ret: Empty };
  'query-version': { args: NoArgs; ret: QmpVersion };
  'query-status': { args: NoArgs; ret: { status: QmpRunState; running: boolean; singlestep?: boolean } };
  stop: { args: NoArgs; ret: Empty };
  cont: { args: NoArgs; ret: Empty };
  system_reset: { args: NoArgs; ret: Empty };
  system_powerdown: { args: NoArgs; ret: Empty };
  quit: { args: NoArgs; ret: Empty };
  screendump: { args: { filename: string; device?: string; head?: number }; ret: Empty };
  'send-key': { args: { keys: readonly QmpKeyValue[]; 'hold-time'?: number }; ret: Empty };
  'query-block': { args: NoArgs; ret: QmpBlockInfo[] };
  'blockdev-change-medium': {
    args: {
      id: string;
      filename: string;
      format?: string;
      force?: boolean;
      'read-only-mode'?: 'retain' | 'read-only' | 'read-write';
    };
    ret: Empty;
  };
  'blockdev-open-tray': { args: { id: string; force?: boolean }; ret: Empty };
  'blockdev-remove-medium': { args: { id: string }; ret: Empty };
  'blockdev-close-tray': { args: { id: string }; ret: Empty };
  'query-jobs': { args: NoArgs; ret: QmpJobInfo[] };
  'job-dismiss': { args: { id: string }; ret: Empty };
  'snapshot-save': { args: QmpSnapshotJobArgs; ret: Empty };
  'snapshot-load': { args: QmpSnapshotJobArgs; ret: Empty };
  'snapshot-delete': { args: Omit<QmpSnapshotJobArgs, 'vmstate'>; ret: Empty };
  'block-stream': { args: { 'job-id': string; device: string; 'auto-dismiss'?: boolean }; ret: Empty };
  'query-named-block-nodes': { args: { flat?: boolean }; ret: QmpBlockNodeInfo[] };
  /** A network client's link (a NIC's qdev id: the NIC and its peer) up or down: the cable. */
  set_link: { args: { name: string; up: boolean }; ret: Empty };
  /** An HMP command (hostfwd_add, hostfwd_remove have no QMP form); returns HMP's output text. */
  'human-monitor-command': { args: { 'command-line': string; 'cpu-index'?: number }; ret: string };
}

/** What Maru reads of `query-named-block-nodes`: a node's internal snapshots and their state sizes. */
export interface QmpBlockNodeInfo {
  readonly 'node-name'?: string;
  readonly image?: { readonly snapshots?: readonly { readonly name: string; readonly 'vm-state-size': number }[] };
}

export type QmpCommandName = keyof QmpCommandMap;
export type QmpArgs<C extends QmpCommandName> = QmpCommandMap[C]['args'];
export type QmpReturn<C extends QmpCommandName> = QmpCommandMap[C]['ret'];

/** The commands that start a job (the `job-id` is added by the client). */
export type QmpJobCommand = 'snapshot-save' | 'snapshot-load' | 'snapshot-delete' | 'block-stream';

/** event name → data. */
export interface QmpEventMap {
  SHUTDOWN: { guest: boolean; reason: string };
  POWERDOWN: undefined;
  STOP: undefined;
  RESUME: undefined;
  RESET: { guest: boolean; reason: string };
  JOB_STATUS_CHANGE: { id: string; status: QmpJobStatus };
  DEVICE_TRAY_MOVED: { device: string; id: string; 'tray-open': boolean };
  BLOCK_IO_ERROR: { device: string; 'node-name'?: string; operation: string; action: string; reason: string };
  GUEST_PANICKED: { action: string };
}

export type QmpEventName = keyof QmpEventMap;

export interface QmpTimestamp {
  readonly seconds: number;
  readonly microseconds: number;
}

/** Any event as it arrives. */
export interface QmpEventMessage {
  readonly event: string;
  readonly data?: unknown;
  readonly timestamp: QmpTimestamp;
}
