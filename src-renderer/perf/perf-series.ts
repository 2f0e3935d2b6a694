// Turns raw counter samples (cumulative CPU seconds and I/O bytes, RSS) into the series the
// performance graphs draw: CPU % between samples, RSS, I/O rates. Pure; keeps a bounded window.
import type { VmStatsSample } from '../../src-shared/contracts/vm-monitor';

export interface PerfPoint {
  /** Seconds relative to the newest point (≤ 0). */
  readonly t: number;
  readonly cpuPercent: number | null;
  readonly rssBytes: number | null;
  readonly readBytesPerS: number | null;
  readonly writeBytesPerS: number | null;
}

/** Samples kept (at one per second, two minutes). */
export const PERF_WINDOW = 120;

/** Appends a sample; a stopped VM or a new process (pids changed) restarts the series. */
export function addSample(samples: readonly VmStatsSample[], s: VmStatsSample): VmStatsSample[] {
  if (!s.running) return [];
  const last = samples[samples.length - 1];
  if (last && last.pids[0] !== s.pids[0]) return [s];
  const next = [...samples, s];
  return next.length > PERF_WINDOW + 1 ? next.slice(next.length - PERF_WINDOW - 1) : next;
}

function rate(a: number | null, b: number | null, dt: number): number | null {
  if (a === null || b === null || dt <= 0) return null;
  return Math.max(0, (b - a) / dt);
}

/** Points between consecutive samples: CPU % (100 % = one core), I/O per second; RSS as sampled. */
export function toSeries(samples: readonly VmStatsSample[]): PerfPoint[] {
  const out: PerfPoint[] = [];
  const newest = samples[samples.length - 1]?.sampledAtMs ?? 0;
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!;
    const b = samples[i]!;
    const dt = (b.sampledAtMs - a.sampledAtMs) / 1000;
    const cpu = rate(a.cpuSeconds, b.cpuSeconds, dt);
    out.push({
      t: (b.sampledAtMs - newest) / 1000,
      cpuPercent: cpu === null ? null : cpu * 100,
      rssBytes: b.rssBytes,
      readBytesPerS: rate(a.ioReadBytes, b.ioReadBytes, dt),
      writeBytesPerS: rate(a.ioWriteBytes, b.ioWriteBytes, dt),
    });
  }
  return out;
}
