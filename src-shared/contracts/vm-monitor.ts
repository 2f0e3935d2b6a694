// Read-only views of a VM for the log viewer and the performance graphs: its log files and
// real process counters. Nothing here is estimated: a figure that cannot be read is null.
import * as z from 'zod';
import { method, type MethodSpec } from './method';

export interface VmLogFile {
  /** File name inside the VM's logs/ folder (no path). */
  readonly name: string;
  readonly sizeBytes: number;
  readonly modifiedAt: string;
}

export interface VmLogText {
  readonly name: string;
  /** The last `tailBytes` of the file (UTF-8; a cut first line is dropped). */
  readonly text: string;
  readonly sizeBytes: number;
  /** True when the file is longer than what was returned. */
  readonly truncated: boolean;
}

export interface VmLogsService {
  list(vmRef: string): Promise<VmLogFile[]>;
  read(vmRef: string, name: string, tailBytes: number): Promise<VmLogText>;
}

/** One reading of a VM's processes (engine host + its children, e.g. qemu and swtpm). */
export interface VmStatsSample {
  readonly vmId: string;
  readonly running: boolean;
  /** Milliseconds since the epoch when the counters were read. */
  readonly sampledAtMs: number;
  /** Pids read (engine host first); empty when not running. */
  readonly pids: readonly number[];
  /** Cumulative CPU seconds (user + system) of those processes; null when unreadable (no /proc). */
  readonly cpuSeconds: number | null;
  /** Resident memory, bytes; null when unreadable. */
  readonly rssBytes: number | null;
  /** Cumulative bytes read from / written to storage by those processes; null when unreadable. */
  readonly ioReadBytes: number | null;
  readonly ioWriteBytes: number | null;
  /** Bytes the VM's disk files take on the host (sparse allocation), summed. */
  readonly diskAllocatedBytes: number;
  /** Host CPU cores, to scale CPU % (100 % = one core). */
  readonly hostCores: number;
}

/** Facts for the details pane that the VM config does not hold. */
export interface VmOverview {
  readonly vmId: string;
  /** Snapshots in snapshots.json (0 when there is none; null when the file cannot be read). */
  readonly snapshotCount: number | null;
  readonly logCount: number;
}

export interface VmStatsService {
  sample(vmRef: string): Promise<VmStatsSample>;
  overview(vmRef: string): Promise<VmOverview>;
}

const vmRef = z.string().min(1).max(256);
/** A plain file name: no separators, no `..`, not hidden. */
const logName = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[^/\\\0]+$/, 'a log name is a file name, not a path')
  .refine((n) => !n.startsWith('.'), 'a log name cannot start with a dot');

export const vmLogsMethods = {
  list: method(z.tuple([vmRef])),
  read: method(
    z.tuple([
      vmRef,
      logName,
      z
        .number()
        .int()
        .min(1)
        .max(4 * 1024 * 1024),
    ]),
  ),
} satisfies Record<keyof VmLogsService, MethodSpec>;

export const vmStatsMethods = {
  sample: method(z.tuple([vmRef])),
  overview: method(z.tuple([vmRef])),
} satisfies Record<keyof VmStatsService, MethodSpec>;
