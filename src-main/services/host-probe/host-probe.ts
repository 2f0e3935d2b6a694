// The host probe: what this machine can run — QEMU and its version, firmware, swtpm, storage,
// and accelerator verdicts from real test boots — cached in $MARU_HOME/host-probe.json.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { HostInfo, ToolInfo } from '../../../src-shared/host-info';
import { AppError } from '../../../src-shared/errors';
import { chooseAccelerator, chooseSecureBootAccelerator, probeAccelerators } from './accelerator-probe';
import { findFirmware, firmwarePaths, qemuShareDirs, type FirmwareFound } from './firmware-discovery';
import { buildHostFindings, type HostFacts } from './host-findings';
import {
  HOST_PROBE_CACHE_FILE,
  canonicalJson,
  readProbeCache,
  sameCacheKey,
  writeProbeCache,
  type ProbeCacheKey,
} from './probe-cache';
import { detectStorageKind } from './storage-kind';
import {
  MIN_QEMU_VERSION,
  QEMU_SYSTEM_BINARIES,
  findExecutable,
  isFsError,
  isQemuVersionOk,
  readToolVersion,
  toolSearchDirs,
  type LocatedFile,
  type QemuSystemBinary,
  type ToolSearch,
} from './tool-discovery';

/** Bump when the probe's method or output changes: old caches are then re-probed. */
export const HOST_PROBE_VERSION = 1;
/** Default limit for one TCG test boot (it takes ~0.2 s here; slow hosts get room). */
export const DEFAULT_TCG_TIMEOUT_MS = 15_000;
/**
 * Limit for one hardware-accelerated test boot. A working KVM/HVF/WHPX needs well under a
 * second; a paravirtual KVM that emulates real mode (this host's kvm_pvm) needs ~4.5 s to get
 * SeaBIOS to the boot sector, and its verdict must not be mistaken for a hang.
 */
export const HARDWARE_TIMEOUT_MS = 10_000;

export interface ProbeHostOptions {
  /** Maru's data folder: holds the cache, and its disk is the one whose kind (SSD/HDD) is reported. */
  readonly maruHome: string;
  /** Ignore the cache and probe again (boots test guests: about a second here). */
  readonly refresh?: boolean;
  /** Folders to look for QEMU programs in, instead of PATH and the usual install folders (tests). */
  readonly qemuSearchPath?: string[];
  /** Folders to look for firmware (OVMF, SeaBIOS) in, instead of the distro and QEMU folders (tests, custom builds). */
  readonly firmwareSearchPath?: string[];
  /** Folders to look for swtpm in, instead of PATH (tests, custom builds). */
  readonly swtpmSearchPath?: string[];
  /** Limit for one TCG test boot (default 15 s); hardware-accelerated boots get at most 10 s. */
  readonly timeoutMs?: number;
  /** Cancels the probe; running test guests are killed and a CancelledError is thrown. */
  readonly signal?: AbortSignal;
}

/** What the file system shows without running anything: cheap, so it is redone on every call. */
interface HostLayout {
  readonly qemu: Readonly<Record<QemuSystemBinary, LocatedFile | null>>;
  readonly img: LocatedFile | null;
  readonly swtpm: LocatedFile | null;
  readonly firmware: FirmwareFound;
  readonly kvmDevice: boolean;
}

const inFlight = new Map<string, Promise<HostInfo>>();

/**
 * Probes the host, or returns the cached verdict when nothing it depends on changed (free
 * memory is always read live). Concurrent calls for the same folder share one probe.
 */
export function probeHost(opts: ProbeHostOptions): Promise<HostInfo> {
  const maruHome = path.resolve(opts.maruHome);
  const flightKey = canonicalJson({
    maruHome,
    search: opts.qemuSearchPath ?? null,
    firmware: opts.firmwareSearchPath ?? null,
    swtpm: opts.swtpmSearchPath ?? null,
    refresh: opts.refresh === true,
  });
  const running = inFlight.get(flightKey);
  if (running) return running;
  const probe = probeHostOnce(maruHome, opts).finally(() => inFlight.delete(flightKey));
  inFlight.set(flightKey, probe);
  return probe;
}

async function probeHostOnce(maruHome: string, opts: ProbeHostOptions): Promise<HostInfo> {
  try {
    await mkdir(maruHome, { recursive: true });
  } catch (err) {
    if (!isFsError(err)) throw err;
    throw new AppError('IO', `Cannot create the Maru data folder ${maruHome}: ${err.message}.`, { path: maruHome });
  }
  const search: ToolSearch = {
    platform: process.platform,
    pathEnv: process.env['PATH'] ?? process.env['Path'],
    ...(opts.qemuSearchPath ? { qemuSearchPath: opts.qemuSearchPath } : {}),
  };
  const layout = await readHostLayout(search, opts);
  const key = cacheKeyFor(layout, maruHome);
  const cacheFile = path.join(maruHome, HOST_PROBE_CACHE_FILE);

  if (!opts.refresh) {
    const cached = await readProbeCache(cacheFile, HOST_PROBE_VERSION);
    if (cached && sameCacheKey(cached.key, key)) return { ...cached.info, freeMemoryBytes: os.freemem() };
  }

  const info = await runProbe(layout, maruHome, opts);
  await writeProbeCache(cacheFile, { key, info });
  return info;
}

async function readHostLayout(
  search: ToolSearch,
  overrides: Pick<ProbeHostOptions, 'firmwareSearchPath' | 'swtpmSearchPath'> = {},
): Promise<HostLayout> {
  const qemuDirs = toolSearchDirs(search, true);
  const [x86, i386, img, swtpm] = await Promise.all([
    findExecutable('qemu-system-x86_64', qemuDirs, search.platform),
    findExecutable('qemu-system-i386', qemuDirs, search.platform),
    findExecutable('qemu-img', qemuDirs, search.platform),
    findExecutable('swtpm', overrides.swtpmSearchPath ?? toolSearchDirs(search, false), search.platform),
  ]);
  const binaries = [x86, i386].filter((b): b is LocatedFile => b !== null).map((b) => b.path);
  const firmware = overrides.firmwareSearchPath
    ? await findFirmware(search.platform, overrides.firmwareSearchPath, { onlyTheseDirs: true })
    : await findFirmware(search.platform, qemuShareDirs(search.platform, binaries));
  return {
    qemu: { 'qemu-system-x86_64': x86, 'qemu-system-i386': i386 },
    img,
    swtpm,
    firmware,
    kvmDevice: search.platform === 'linux' && existsSync('/dev/kvm'),
  };
}

/** The cache key: what the layout shows plus the kernel release and the data folder. */
function cacheKeyFor(layout: HostLayout, maruHome: string): ProbeCacheKey {
  return {
    probeVersion: HOST_PROBE_VERSION,
    platform: process.platform,
    arch: process.arch,
    kernelRelease: os.release(),
    kvmDevice: layout.kvmDevice,
    qemu: [layout.qemu['qemu-system-x86_64'], layout.qemu['qemu-system-i386'], layout.img].filter(
      (f): f is LocatedFile => f !== null,
    ),
    swtpm: layout.swtpm,
    firmware: firmwarePaths(layout.firmware),
    dataFolder: maruHome,
  };
}

async function runProbe(layout: HostLayout, maruHome: string, opts: ProbeHostOptions): Promise<HostInfo> {
  const startedAt = performance.now();
  const located = QEMU_SYSTEM_BINARIES.map((name) => ({ name, file: layout.qemu[name] }));
  const [binaryVersions, imgVersion, swtpmVersion, storage] = await Promise.all([
    Promise.all(located.map(({ file }) => (file ? readToolVersion(file.path) : Promise.resolve(null)))),
    layout.img ? readToolVersion(layout.img.path) : Promise.resolve(null),
    layout.swtpm ? readToolVersion(layout.swtpm.path) : Promise.resolve(null),
    detectStorageKind(maruHome),
  ]);
  const binaries: (ToolInfo & { name: string })[] = [];
  located.forEach(({ name, file }, i) => {
    if (file) binaries.push({ name, path: file.path, version: binaryVersions[i] ?? null });
  });
  const x86 = binaries.find((b) => b.name === 'qemu-system-x86_64') ?? null;
  const versionOk = isQemuVersionOk(x86?.version ?? null);

  const tcgTimeoutMs = opts.timeoutMs ?? DEFAULT_TCG_TIMEOUT_MS;
  const accelerators = await probeAccelerators({
    qemuPath: versionOk && x86 ? x86.path : null,
    notTestedReason: notTestedReason(binaries.length > 0, x86),
    platform: process.platform,
    arch: process.arch,
    tcgTimeoutMs,
    hardwareTimeoutMs: Math.min(tcgTimeoutMs, HARDWARE_TIMEOUT_MS),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });

  const facts: HostFacts = {
    probeVersion: HOST_PROBE_VERSION,
    probedAt: new Date().toISOString(),
    platform: process.platform,
    osRelease: os.release(),
    arch: process.arch,
    cpuModel: os.cpus()[0]?.model.trim() || 'unknown',
    cores: os.availableParallelism(),
    totalMemoryBytes: os.totalmem(),
    freeMemoryBytes: os.freemem(),
    qemu: {
      binaries,
      img: layout.img ? { path: layout.img.path, version: imgVersion } : null,
      versionOk,
    },
    firmware: layout.firmware,
    swtpm: layout.swtpm ? { path: layout.swtpm.path, version: swtpmVersion } : null,
    dataFolder: {
      path: maruHome,
      storage: storage.storage,
      device: storage.device,
      ...(storage.note ? { note: storage.note } : {}),
    },
    accelerators,
    accelerator: chooseAccelerator(accelerators),
    secureBootAccelerator: chooseSecureBootAccelerator(accelerators),
    probeMs: 0,
  };
  return { ...facts, findings: buildHostFindings(facts), probeMs: Math.round(performance.now() - startedAt) };
}

function notTestedReason(anyQemu: boolean, x86: ToolInfo | null): string {
  if (!anyQemu) return 'QEMU not found';
  if (!x86) return 'qemu-system-x86_64 not found';
  return `QEMU ${x86.version ?? '(unknown version)'} is older than ${MIN_QEMU_VERSION}`;
}
