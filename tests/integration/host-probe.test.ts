// The host probe against this machine's real QEMU: KVM present but unusable (kvm_pvm), TCG
// usable with SMM, firmware and swtpm found; the cache; a host without QEMU; a too-old QEMU.
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostInfo } from '../../src-shared/host-info';
import { HOST_PROBE_CACHE_FILE } from '../../src-main/services/host-probe/probe-cache';
import { probeHost } from '../../src-main/services/host-probe/host-probe';
import { formatHostReport } from '../../src-main/services/host-probe/format-host-report';

const hasQemu = existsSync('/usr/bin/qemu-system-x86_64');
const hasKvmDevice = existsSync('/dev/kvm');
// ENGINE-FACTS "This host": the KVM here is kvm_pvm (paravirtual, nested) and dies on x87.
const isPvmKvm = hasKvmDevice && existsSync('/sys/module/kvm_pvm');

/** Test-boot QEMUs carry `-name maru-host-probe`: none may outlive a probe. */
async function probeQemuProcesses(): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ESRCH') return ''; // exited while we looked
      throw err;
    });
    if (cmdline.includes('maru-host-probe')) found.push(pid);
  }
  return found;
}

async function probeTempDirs(): Promise<string[]> {
  return (await readdir(os.tmpdir())).filter((n) => n.startsWith('maru-host-probe-'));
}

/** Runs `fn` with PATH holding only `dir`, so no QEMU can be found through it. */
async function withPath<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const saved = process.env['PATH'];
  process.env['PATH'] = dir;
  try {
    return await fn();
  } finally {
    process.env['PATH'] = saved;
  }
}

describe.skipIf(!hasQemu)('host probe on this machine (real QEMU)', () => {
  let root = '';
  let maruHome = '';
  let info: HostInfo;
  let tempDirsBefore: string[] = [];
  let firstMs = 0;

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'maru-probe-it-'));
    maruHome = path.join(root, 'home');
    tempDirsBefore = await probeTempDirs();
    const t = performance.now();
    info = await probeHost({ maruHome });
    firstMs = performance.now() - t;
    console.log(`first probe: ${Math.round(firstMs)} ms\n${formatHostReport(info)}`);
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('finds QEMU ≥ 6.2, qemu-img, firmware and swtpm', () => {
    expect(info.qemu.versionOk).toBe(true);
    expect(info.qemu.binaries.map((b) => b.name)).toEqual(['qemu-system-x86_64', 'qemu-system-i386']);
    expect(info.qemu.binaries[0]?.version).toMatch(/^\d+\.\d+/);
    expect(info.qemu.img?.path).toBe('/usr/bin/qemu-img');
    expect(info.firmware.ovmf?.code).toMatch(/OVMF_CODE_4M\.fd$/);
    expect(info.firmware.ovmfSecureBoot?.code).toMatch(/OVMF_CODE_4M\.(ms|secboot)\.fd$/);
    expect(info.firmware.ovmfSecureBoot?.vars).toMatch(/OVMF_VARS_4M\.ms\.fd$/);
    expect(info.firmware.seabios?.bios).toMatch(/bios-256k\.bin$/);
    expect(info.firmware.seabios?.vgabios).toMatch(/vgabios-stdvga\.bin$/);
    expect(info.swtpm?.version).toMatch(/^\d+\.\d+/);
    expect(['ssd', 'hdd', 'unknown']).toContain(info.dataFolder.storage);
    expect(info.dataFolder.path).toBe(maruHome);
  });

  it('finds TCG usable with SMM and chooses it', () => {
    const tcg = info.accelerators.find((v) => v.name === 'tcg');
    expect(tcg).toMatchObject({ present: true, usable: true, smm: true, cpuModel: 'max' });
    expect(info.secureBootAccelerator).not.toBeNull();
  });

  it.skipIf(!hasKvmDevice)('finds KVM present (skipped without /dev/kvm: nothing to test)', () => {
    expect(info.accelerators.find((v) => v.name === 'kvm')?.present).toBe(true);
  });

  // Only a host with kvm_pvm is known to fail; on a host with a full KVM the verdict flips.
  it.skipIf(!isPvmKvm)('finds this host’s KVM unusable, says so, and falls back to TCG', () => {
    const kvm = info.accelerators.find((v) => v.name === 'kvm');
    expect(kvm).toMatchObject({ present: true, usable: false, cpuModel: null, smm: false });
    expect(kvm?.reason).toMatch(/KVM internal error|failed to set MSR/);
    expect(kvm?.smmReason).toMatch(/System Management Mode not supported/);
    expect(info.accelerator).toBe('tcg');
    expect(info.secureBootAccelerator).toBe('tcg');
    expect(info.findings.find((f) => f.id === 'kvm-unusable')?.message).toMatch(
      /^KVM present but cannot run guests \(.*\): running with software emulation \(TCG\), which is slower\.$/,
    );
    const report = formatHostReport(info).replace(/\s+/g, ' ');
    expect(report).toContain('KVM present but cannot run guests');
    expect(report).toContain('TCG (software emulation, slower) — KVM is present but cannot run guests');
  });

  it('leaves no QEMU process and no temp folder behind', async () => {
    expect(await probeQemuProcesses()).toEqual([]);
    expect(await probeTempDirs()).toEqual(tempDirsBefore);
  });

  it('reuses the cache (fast, same probedAt) with live free memory, and re-probes on refresh', async () => {
    const cacheFile = path.join(maruHome, HOST_PROBE_CACHE_FILE);
    const cached = JSON.parse(await readFile(cacheFile, 'utf8')) as { info: { freeMemoryBytes: number } };
    cached.info.freeMemoryBytes = 1; // a stale value the live reading must replace
    await writeFile(cacheFile, JSON.stringify(cached));

    const t = performance.now();
    const again = await probeHost({ maruHome });
    const cachedMs = performance.now() - t;
    console.log(`cached probe: ${cachedMs.toFixed(1)} ms`);
    expect(again.probedAt).toBe(info.probedAt);
    expect(again.freeMemoryBytes).toBeGreaterThan(1);
    expect(cachedMs).toBeLessThan(1000);

    const t2 = performance.now();
    const fresh = await probeHost({ maruHome, refresh: true });
    console.log(`refreshed probe: ${Math.round(performance.now() - t2)} ms`);
    expect(fresh.probedAt).not.toBe(info.probedAt);
    expect(fresh.accelerator).toBe(info.accelerator);
    expect((await probeHost({ maruHome })).probedAt).toBe(fresh.probedAt);
    expect(await probeQemuProcesses()).toEqual([]);
  });

  it('cancels mid-boot: kills the test guest, removes its folder, keeps the old cache', async () => {
    const before = await readFile(path.join(maruHome, HOST_PROBE_CACHE_FILE), 'utf8');
    const controller = new AbortController();
    const probe = probeHost({ maruHome, refresh: true, signal: controller.signal });
    setTimeout(() => controller.abort(), 300);
    await expect(probe).rejects.toMatchObject({ name: 'CancelledError', code: 'CANCELLED' });
    expect(await probeQemuProcesses()).toEqual([]);
    expect(await probeTempDirs()).toEqual(tempDirsBefore);
    expect(await readFile(path.join(maruHome, HOST_PROBE_CACHE_FILE), 'utf8')).toBe(before);
  });
});

describe('host probe without a usable QEMU', () => {
  let root = '';
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'maru-probe-noqemu-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('reports no binaries, no accelerator and a "QEMU not found" finding', async () => {
    const empty = path.join(root, 'empty-bin');
    await mkdir(empty);
    const maruHome = path.join(root, 'home-none');
    const info = await withPath(empty, () => probeHost({ maruHome, qemuSearchPath: [empty] }));
    expect(info.qemu.binaries).toEqual([]);
    expect(info.qemu.img).toBeNull();
    expect(info.qemu.versionOk).toBe(false);
    expect(info.accelerator).toBeNull();
    expect(info.secureBootAccelerator).toBeNull();
    expect(info.accelerators.some((v) => v.usable)).toBe(false);
    for (const v of info.accelerators.filter((a) => a.present)) expect(v.reason).toBe('not tested: QEMU not found');
    const finding = info.findings.find((f) => f.id === 'qemu-missing');
    expect(finding?.message).toMatch(/^QEMU not found/);
    expect(finding?.message).toContain('v86');
    expect(formatHostReport(info)).toContain('QEMU not found');

    // A corrupt cache is our own problem: it is re-probed, not reported.
    await writeFile(path.join(maruHome, HOST_PROBE_CACHE_FILE), '{"key": tru');
    const again = await withPath(empty, () => probeHost({ maruHome, qemuSearchPath: [empty] }));
    expect(again.probedAt).not.toBe(info.probedAt);
    expect(JSON.parse(await readFile(path.join(maruHome, HOST_PROBE_CACHE_FILE), 'utf8'))).toHaveProperty('info');
  });

  it('flags QEMU 5.2 as too old and does not use it', async () => {
    const bin = path.join(root, 'old-qemu');
    await mkdir(bin);
    const fake = path.join(bin, 'qemu-system-x86_64');
    await writeFile(fake, '#!/bin/sh\necho "QEMU emulator version 5.2.0"\necho "Copyright (c) 2003-2020"\n');
    await chmod(fake, 0o755);
    const info = await withPath(bin, () => probeHost({ maruHome: path.join(root, 'home-old'), qemuSearchPath: [bin] }));
    expect(info.qemu.binaries).toEqual([{ name: 'qemu-system-x86_64', path: fake, version: '5.2.0' }]);
    expect(info.qemu.versionOk).toBe(false);
    expect(info.accelerator).toBeNull();
    expect(info.accelerators.find((v) => v.name === 'tcg')?.reason).toBe('not tested: QEMU 5.2.0 is older than 6.2');
    const finding = info.findings.find((f) => f.id === 'qemu-too-old');
    expect(finding?.level).toBe('error');
    expect(finding?.message).toMatch(/^QEMU 5\.2\.0 found .*Maru needs qemu-system-x86_64 ≥ 6\.2/);
  });
});
