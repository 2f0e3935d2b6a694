// Performance counters of a running VM, read from the host: the engine host named in the VM's
// run lock and its descendants (qemu, swtpm), via /proc on Linux. Nothing is estimated: where
// a counter cannot be read (no /proc, another user's process) it is null; a stopped VM has none.
import { readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { LibraryService } from '../../../src-shared/contracts/library';
import type { VmOverview, VmStatsSample, VmStatsService } from '../../../src-shared/contracts/vm-monitor';
import { readRunStatus } from '../../../src-node/run-folder';

/** Clock ticks per second for /proc/<pid>/stat times: USER_HZ, 100 on every Linux architecture Maru runs on. */
const USER_HZ = 100;

/** utime + stime in seconds from /proc/<pid>/stat (fields 14 and 15, after the parenthesised comm). */
export function cpuSecondsOfStat(stat: string): number | null {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) / USER_HZ : null;
}

export function rssBytesOfStatus(status: string): number | null {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) * 1024 : null;
}

export function ioOf(io: string): { read: number; write: number } | null {
  const r = /^read_bytes:\s+(\d+)/m.exec(io);
  const w = /^write_bytes:\s+(\d+)/m.exec(io);
  return r && w ? { read: Number(r[1]), write: Number(w[1]) } : null;
}

async function text(p: string): Promise<string | null> {
  return readFile(p, 'utf8').catch(() => null);
}

/** The pid and all its descendants (via /proc/<pid>/task/<tid>/children). */
async function processTree(pid: number): Promise<number[]> {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0 && out.length < 64) {
    const p = queue.shift()!;
    out.push(p);
    const tasks = await text(`/proc/${p}/task/${p}/children`);
    for (const c of (tasks ?? '').split(/\s+/).filter(Boolean)) queue.push(Number(c));
  }
  return out;
}

/**
 * Snapshots in a snapshots.json document: a top-level array, or an object with a `snapshots`
 * array (the snapshot tree's own format is the snapshots service's); null when neither.
 */
export function countSnapshots(doc: unknown): number | null {
  if (Array.isArray(doc)) return doc.length;
  if (typeof doc === 'object' && doc !== null) {
    const list = (doc as { snapshots?: unknown }).snapshots;
    if (Array.isArray(list)) return list.length;
    if (typeof list === 'object' && list !== null) return Object.keys(list).length;
  }
  return null;
}

export class VmStats implements VmStatsService {
  constructor(
    private readonly maruHome: string,
    private readonly library: Pick<LibraryService, 'show'>,
  ) {}

  async overview(vmRef: string): Promise<VmOverview> {
    const details = await this.library.show(vmRef);
    const raw = await text(path.join(details.folder, 'snapshots.json'));
    let snapshotCount: number | null = 0;
    if (raw !== null) {
      try {
        snapshotCount = countSnapshots(JSON.parse(raw) as unknown);
      } catch {
        snapshotCount = null; // being written, or damaged: "unknown", never guessed
      }
    }
    const logs = await readdir(path.join(details.folder, 'logs')).catch(() => [] as string[]);
    return { vmId: details.config.id, snapshotCount, logCount: logs.filter((n) => !n.startsWith('.')).length };
  }

  async sample(vmRef: string): Promise<VmStatsSample> {
    const details = await this.library.show(vmRef);
    const id = details.config.id;
    const diskAllocatedBytes = details.disks.reduce((n, d) => n + (d.allocatedBytes ?? 0), 0);
    const base = {
      vmId: id,
      sampledAtMs: Date.now(),
      diskAllocatedBytes,
      hostCores: os.availableParallelism(),
    };
    const run = readRunStatus(this.maruHome, id);
    if (!run.alive || !run.lock) {
      return {
        ...base,
        running: false,
        pids: [],
        cpuSeconds: null,
        rssBytes: null,
        ioReadBytes: null,
        ioWriteBytes: null,
      };
    }
    const pid = run.lock.pid;
    const pids = process.platform === 'linux' ? await processTree(pid) : [pid];
    let cpu: number | null = null;
    let rss: number | null = null;
    let ioRead: number | null = null;
    let ioWrite: number | null = null;
    if (process.platform === 'linux') {
      for (const p of pids) {
        const dir = path.join('/proc', String(p));
        const [st, status, io] = await Promise.all([
          text(path.join(dir, 'stat')),
          text(path.join(dir, 'status')),
          text(path.join(dir, 'io')),
        ]);
        const c = st ? cpuSecondsOfStat(st) : null;
        if (c !== null) cpu = (cpu ?? 0) + c;
        const r = status ? rssBytesOfStatus(status) : null;
        if (r !== null) rss = (rss ?? 0) + r;
        const i = io ? ioOf(io) : null;
        if (i) {
          ioRead = (ioRead ?? 0) + i.read;
          ioWrite = (ioWrite ?? 0) + i.write;
        }
      }
    }
    return {
      ...base,
      sampledAtMs: Date.now(),
      running: true,
      pids,
      cpuSeconds: cpu,
      rssBytes: rss,
      ioReadBytes: ioRead,
      ioWriteBytes: ioWrite,
    };
  }
}
