// The probe cache: key comparison, and reading/writing the file in a real temp folder
// (corrupt, foreign-version and missing caches are misses, writes are atomic).
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HostInfo } from '../../../../src-shared/host-info';
import {
  HOST_PROBE_CACHE_FILE,
  canonicalJson,
  readProbeCache,
  sameCacheKey,
  writeProbeCache,
  type ProbeCacheKey,
} from '../../../../src-main/services/host-probe/probe-cache';

const key: ProbeCacheKey = {
  probeVersion: 1,
  platform: 'linux',
  arch: 'x64',
  kernelRelease: '6.1.0-13-amd64',
  kvmDevice: true,
  qemu: [{ path: '/usr/bin/qemu-system-x86_64', size: 19_000_000, mtimeMs: 1_700_000_000_000 }],
  swtpm: { path: '/usr/bin/swtpm', size: 100_000, mtimeMs: 1_700_000_000_000 },
  firmware: ['/usr/share/OVMF/OVMF_CODE_4M.fd', '/usr/share/OVMF/OVMF_VARS_4M.fd', '', '', '', ''],
  dataFolder: '/home/u/.local/share/maru',
};

const info = {
  probeVersion: 1,
  probedAt: '2025-01-01T00:00:00.000Z',
  qemu: { binaries: [], img: null, versionOk: false },
  firmware: { ovmf: null, ovmfSecureBoot: null, seabios: null },
  dataFolder: { path: '/x', storage: 'unknown', device: null },
  accelerators: [],
  findings: [],
} as unknown as HostInfo;

describe('cache key', () => {
  it('ignores property order', () => {
    const reordered = Object.fromEntries(Object.entries(key).reverse()) as unknown as ProbeCacheKey;
    expect(sameCacheKey(key, reordered)).toBe(true);
    expect(canonicalJson({ b: 1, a: { d: 2, c: 3 } })).toBe('{"a":{"c":3,"d":2},"b":1}');
  });

  it.each<[string, Partial<ProbeCacheKey>]>([
    ['a QEMU upgrade (mtime)', { qemu: [{ ...key.qemu[0]!, mtimeMs: 1_800_000_000_000 }] }],
    ['a QEMU upgrade (size)', { qemu: [{ ...key.qemu[0]!, size: 20_000_000 }] }],
    ['another QEMU binary', { qemu: [{ ...key.qemu[0]!, path: '/opt/homebrew/bin/qemu-system-x86_64' }] }],
    ['a new kernel', { kernelRelease: '6.1.0-14-amd64' }],
    ['/dev/kvm appearing or going', { kvmDevice: false }],
    ['a probe method change', { probeVersion: 2 }],
    ['swtpm removed', { swtpm: null }],
    ['OVMF installed', { firmware: ['a', 'b', 'c', 'd', '', ''] }],
  ])('changes with %s', (_what, change) => {
    expect(sameCacheKey(key, { ...key, ...change })).toBe(false);
  });
});

describe('cache file', () => {
  let dir = '';
  let file = '';
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'maru-cache-'));
    file = path.join(dir, HOST_PROBE_CACHE_FILE);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips and leaves no temp file', async () => {
    await writeProbeCache(file, { key, info });
    await writeProbeCache(file, { key, info: { ...info, probedAt: '2025-02-02T00:00:00.000Z' } });
    const back = await readProbeCache(file, 1);
    expect(back?.info.probedAt).toBe('2025-02-02T00:00:00.000Z');
    expect(sameCacheKey(back!.key, key)).toBe(true);
    expect(await readdir(dir)).toEqual([HOST_PROBE_CACHE_FILE]);
    expect(JSON.parse(await readFile(file, 'utf8'))).toHaveProperty('key.kernelRelease', key.kernelRelease);
  });

  it('treats a missing, corrupt or foreign-version cache as a miss', async () => {
    expect(await readProbeCache(file, 1)).toBeNull();
    await writeFile(file, '{"key": {"probeVersion": 1}, "info": ');
    expect(await readProbeCache(file, 1)).toBeNull();
    await writeFile(file, JSON.stringify({ key, info: { probeVersion: 1 } }));
    expect(await readProbeCache(file, 1)).toBeNull();
    await writeFile(file, JSON.stringify({ key, info }));
    expect(await readProbeCache(file, 2)).toBeNull();
    expect(await readProbeCache(file, 1)).not.toBeNull();
  });

  it('says which file it could not write', async () => {
    await expect(
      writeProbeCache(path.join(dir, 'missing-folder', HOST_PROBE_CACHE_FILE), { key, info }),
    ).rejects.toMatchObject({
      code: 'IO',
      message: expect.stringContaining('Cannot write the host probe cache'),
    });
  });
});
