// Pure helpers of the renderer: the performance series (CPU % from cumulative seconds, I/O
// rates, restarts), size formatting, and the quick ISO check before an upload.
import { describe, expect, it } from 'vitest';
import type { VmStatsSample } from '../../../src-shared/contracts/vm-monitor';
import { formatBytes } from '../../../src-shared/format-bytes';
import { formatMiB } from '../../../src-renderer/format/format-size';
import { precheckFile, precheckIso } from '../../../src-renderer/media/iso-precheck';
import { addSample, PERF_WINDOW, toSeries } from '../../../src-renderer/perf/perf-series';

function sample(t: number, cpu: number | null, patch: Partial<VmStatsSample> = {}): VmStatsSample {
  return {
    vmId: 'v',
    running: true,
    sampledAtMs: t,
    pids: [100],
    cpuSeconds: cpu,
    rssBytes: 1000,
    ioReadBytes: t,
    ioWriteBytes: 0,
    diskAllocatedBytes: 0,
    hostCores: 2,
    ...patch,
  };
}

describe('performance series', () => {
  it('CPU % and I/O rates between samples', () => {
    const s = [sample(0, 10), sample(1000, 10.5), sample(2000, 12)];
    const series = toSeries(s);
    expect(series.map((p) => p.cpuPercent)).toEqual([50, 150]);
    expect(series.map((p) => p.t)).toEqual([-1, 0]);
    expect(series[0]?.readBytesPerS).toBe(1000);
    expect(toSeries([sample(0, null), sample(1000, null)])[0]?.cpuPercent).toBeNull();
  });
  it('a stop clears the series, a new engine host restarts it, the window is bounded', () => {
    let s: VmStatsSample[] = [];
    for (let i = 0; i < PERF_WINDOW + 50; i++) s = addSample(s, sample(i * 1000, i));
    expect(s.length).toBe(PERF_WINDOW + 1);
    expect(addSample(s, sample(0, 0, { pids: [200] }))).toHaveLength(1);
    expect(addSample(s, sample(0, 0, { running: false }))).toEqual([]);
  });
});

describe('formatting', () => {
  it('bytes and MiB', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(64 * 1024 ** 3)).toBe('64 GiB');
    expect(formatBytes(-1)).toBe('—');
    expect(formatMiB(512)).toBe('512 MiB');
    expect(formatMiB(4096)).toBe('4 GiB');
    expect(formatMiB(12052)).toBe('11.8 GiB');
  });
});

describe('ISO pre-check', () => {
  it('looks for CD001 / BEA01 at byte 32769', async () => {
    const iso = new Uint8Array(40000);
    iso.set(
      [...'CD001'].map((c) => c.charCodeAt(0)),
      32769,
    );
    expect(await precheckFile(new Blob([iso]))).toEqual({ ok: true });
    expect(await precheckFile(new Blob([new Uint8Array(40000)]))).toEqual({ ok: false, reason: 'no-signature' });
    expect(await precheckFile(new Blob([]))).toEqual({ ok: false, reason: 'empty' });
    expect(await precheckFile(new Blob([new Uint8Array(100)]))).toEqual({ ok: false, reason: 'too-small' });
    expect(precheckIso(50000, new TextEncoder().encode('BEA01'))).toEqual({ ok: true });
  });
});
