// Finds guest firmware on the host: OVMF (UEFI) and its Secure Boot build, and SeaBIOS with
// its VGA BIOS — in distro folders, QEMU's own share folders and QEMU firmware descriptors.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { isFsError, statFile } from './tool-discovery';

export interface FirmwarePair {
  readonly code: string;
  readonly vars: string;
}

export interface SeabiosFiles {
  readonly bios: string;
  readonly vgabios: string | null;
}

export interface FirmwareFound {
  readonly ovmf: FirmwarePair | null;
  readonly ovmfSecureBoot: FirmwarePair | null;
  readonly seabios: SeabiosFiles | null;
}

/** Distro folders holding OVMF builds (Debian/Ubuntu, Fedora, Arch, older Arch). */
const LINUX_OVMF_DIRS = [
  '/usr/share/OVMF',
  '/usr/share/ovmf',
  '/usr/share/edk2/ovmf',
  '/usr/share/edk2/x64',
  '/usr/share/edk2-ovmf/x64',
];

/** Plain UEFI (code, vars) names, preferred first: 4 MiB builds, then the old 2 MiB ones. */
const OVMF_PLAIN_NAMES: readonly (readonly [string, string])[] = [
  ['OVMF_CODE_4M.fd', 'OVMF_VARS_4M.fd'],
  ['OVMF_CODE.4m.fd', 'OVMF_VARS.4m.fd'],
  ['OVMF_CODE.fd', 'OVMF_VARS.fd'],
];

/**
 * Secure Boot (code, vars) names. `.ms` vars have Microsoft's keys enrolled and Secure Boot on
 * (Debian/Ubuntu); Fedora's `OVMF_VARS.secboot.fd` is the same thing under another name.
 */
const OVMF_SECURE_NAMES: readonly (readonly [string, string])[] = [
  ['OVMF_CODE_4M.ms.fd', 'OVMF_VARS_4M.ms.fd'],
  ['OVMF_CODE_4M.secboot.fd', 'OVMF_VARS_4M.ms.fd'],
  ['OVMF_CODE.ms.fd', 'OVMF_VARS.ms.fd'],
  ['OVMF_CODE.secboot.fd', 'OVMF_VARS.ms.fd'],
  ['OVMF_CODE.secboot.fd', 'OVMF_VARS.secboot.fd'],
];

/** The edk2 builds QEMU ships in its own share folder (Homebrew, the Windows installer, Fedora). */
const QEMU_EDK2_PLAIN: readonly [string, string] = ['edk2-x86_64-code.fd', 'edk2-i386-vars.fd'];
/** Secure-Boot-capable code with QEMU's empty vars: no keys enrolled (setup mode), still SMM + secure flash. */
const QEMU_EDK2_SECURE: readonly [string, string] = ['edk2-x86_64-secure-code.fd', 'edk2-i386-vars.fd'];

/**
 * QEMU's data folders: the distro's, plus `<bin>/../share/qemu` (Homebrew, source installs)
 * and `<bin>/share` (the Windows installer) for every QEMU binary found.
 */
export function qemuShareDirs(platform: NodeJS.Platform, qemuBinaries: readonly string[]): string[] {
  const p = platform === 'win32' ? path.win32 : path.posix;
  const dirs: string[] = [];
  for (const bin of qemuBinaries) {
    const binDir = p.dirname(bin);
    if (platform === 'win32') dirs.push(p.join(binDir, 'share'));
    else dirs.push(p.join(binDir, '..', 'share', 'qemu'));
  }
  if (platform === 'linux') dirs.push('/usr/share/qemu', '/usr/local/share/qemu');
  if (platform === 'darwin') dirs.push('/opt/homebrew/share/qemu', '/usr/local/share/qemu');
  if (platform === 'win32') dirs.push('C:\\Program Files\\qemu\\share');
  return [...new Set(dirs)];
}

/**
 * Finds OVMF (plain and Secure Boot pairs) and SeaBIOS. With `onlyTheseDirs`, `shareDirs` are
 * the only folders searched (for OVMF names, QEMU's edk2 names, descriptors and SeaBIOS).
 */
export async function findFirmware(
  platform: NodeJS.Platform,
  shareDirs: readonly string[],
  options: { readonly onlyTheseDirs?: boolean } = {},
): Promise<FirmwareFound> {
  const join = platform === 'win32' ? path.win32.join : path.posix.join;
  const only = options.onlyTheseDirs === true;
  const ovmfDirs = only ? shareDirs : platform === 'linux' ? LINUX_OVMF_DIRS : [];
  const descriptorDirs = [
    ...(platform === 'win32' || only ? [] : ['/etc/qemu/firmware']),
    ...shareDirs.map((d) => join(d, 'firmware')),
  ];

  const plainCandidates = [
    ...ovmfDirs.flatMap((d) => OVMF_PLAIN_NAMES.map(([c, v]) => pairIn(join, d, c, v))),
    ...shareDirs.map((d) => pairIn(join, d, ...QEMU_EDK2_PLAIN)),
  ];
  const secureCandidates = [
    ...ovmfDirs.flatMap((d) => OVMF_SECURE_NAMES.map(([c, v]) => pairIn(join, d, c, v))),
    ...shareDirs.map((d) => pairIn(join, d, ...QEMU_EDK2_SECURE)),
  ];

  let ovmf = await firstExistingPair(plainCandidates);
  let ovmfSecureBoot = await firstExistingPair(secureCandidates);
  if (!ovmf || !ovmfSecureBoot) {
    const described = await pairsFromDescriptors(descriptorDirs);
    ovmf ??= await firstExistingPair(described.plain);
    ovmfSecureBoot ??= await firstExistingPair(described.secure);
  }

  const seabiosDirs = [...(platform === 'linux' && !only ? ['/usr/share/seabios'] : []), ...shareDirs];
  let seabios: SeabiosFiles | null = null;
  for (const dir of seabiosDirs) {
    const bios = await statFile(join(dir, 'bios-256k.bin'));
    if (!bios) continue;
    const vgabios = await statFile(join(dir, 'vgabios-stdvga.bin'));
    seabios = { bios: bios.path, vgabios: vgabios?.path ?? null };
    break;
  }
  return { ovmf, ovmfSecureBoot, seabios };
}

/** Every firmware file the verdict depends on, for the probe's cache key. */
export function firmwarePaths(found: FirmwareFound): string[] {
  return [
    found.ovmf?.code,
    found.ovmf?.vars,
    found.ovmfSecureBoot?.code,
    found.ovmfSecureBoot?.vars,
    found.seabios?.bios,
    found.seabios?.vgabios,
  ].map((p) => p ?? '');
}

function pairIn(join: (...parts: string[]) => string, dir: string, code: string, vars: string): FirmwarePair {
  return { code: join(dir, code), vars: join(dir, vars) };
}

async function firstExistingPair(candidates: readonly FirmwarePair[]): Promise<FirmwarePair | null> {
  for (const pair of candidates) {
    if ((await statFile(pair.code)) && (await statFile(pair.vars))) return pair;
  }
  return null;
}

/**
 * Reads QEMU firmware descriptors (docs/interop/firmware.json: `NN-name.json`, lowest NN
 * first) for x86_64 UEFI flash builds in raw format. Secure Boot = `secure-boot` +
 * `enrolled-keys` + `requires-smm`; plain = no `secure-boot` and no confidential-VM-only build.
 */
export async function pairsFromDescriptors(
  dirs: readonly string[],
): Promise<{ plain: FirmwarePair[]; secure: FirmwarePair[] }> {
  const plain: FirmwarePair[] = [];
  const secure: FirmwarePair[] = [];
  for (const dir of dirs) {
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => n.endsWith('.json')).sort();
    } catch (err) {
      if (isFsError(err)) continue; // no descriptor folder here
      throw err;
    }
    for (const name of names) {
      const descriptor = await readDescriptor(path.join(dir, name));
      if (!descriptor) continue;
      if (descriptor.secure) secure.push(descriptor.pair);
      else if (descriptor.plain) plain.push(descriptor.pair);
    }
  }
  return { plain, secure };
}

interface ParsedDescriptor {
  readonly pair: FirmwarePair;
  /** A Secure Boot build with keys enrolled, needing SMM. */
  readonly secure: boolean;
  /** A plain UEFI build: no Secure Boot, not a confidential-VM-only (SEV-ES/SNP, TDX) build. */
  readonly plain: boolean;
}

async function readDescriptor(file: string): Promise<ParsedDescriptor | null> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    // A broken or unreadable descriptor belongs to another package: skip it, keep looking.
    if (isFsError(err) || err instanceof SyntaxError) return null;
    throw err;
  }
  if (!isRecord(json)) return null;
  const types = json['interface-types'];
  const mapping = json['mapping'];
  const targets = json['targets'];
  const features = Array.isArray(json['features']) ? json['features'].filter((f) => typeof f === 'string') : [];
  if (!Array.isArray(types) || !types.includes('uefi') || !isRecord(mapping) || mapping['device'] !== 'flash') {
    return null;
  }
  const x86 = Array.isArray(targets) && targets.some((t) => isRecord(t) && t['architecture'] === 'x86_64');
  const executable = mapping['executable'];
  const template = mapping['nvram-template'];
  if (!x86 || !isRecord(executable) || !isRecord(template)) return null;
  const code = executable['filename'];
  const vars = template['filename'];
  if (typeof code !== 'string' || typeof vars !== 'string') return null;
  if (executable['format'] !== 'raw' || template['format'] !== 'raw') return null;
  const secureBoot = features.includes('secure-boot');
  const confidential = features.some((f) => f === 'amd-sev-es' || f === 'amd-sev-snp' || f === 'intel-tdx');
  return {
    pair: { code, vars },
    secure: secureBoot && features.includes('enrolled-keys') && features.includes('requires-smm'),
    plain: !secureBoot && !confidential,
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
