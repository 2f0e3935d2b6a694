// Reading an appliance wherever its descriptor and files are — the entries of an OVA's tar, or
// the files beside a loose .ovf — with one check (VirtualBox's importer's rules: descriptor,
// files and sizes, manifest digests, VMDK headers) and one conversion of its disks to qcow2.
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { JobOptions } from '../../../src-shared/contracts/jobs';
import { AppError, CancelledError } from '../../../src-shared/errors';
import { convertImage } from '../../../src-emulator/engines/qemu/qemu-img';
import { hrefProblem, parseOvf, type OvfEnvelope } from './ovf';

/** One file of an appliance: a tar entry, or a file beside the descriptor. */
export interface ApplianceFile {
  /** Its name as the descriptor and the manifest write it. */
  readonly name: string;
  readonly size: number;
}

/** Where an appliance's descriptor and files come from; ova.ts and ovf-folder.ts make one. */
export interface ApplianceSource {
  /** The OVA or the .ovf (absolute): what messages name. */
  readonly path: string;
  /** Where its files are, for messages: "in the package", "in /some/folder". */
  readonly place: string;
  readonly descriptor: ApplianceFile;
  readonly manifest: ApplianceFile | null;
  /** An OVA must carry a manifest; beside a loose .ovf one is optional. */
  readonly manifestRequired: boolean;
  /**
   * Every file the source holds, which the manifest must list (an OVA's entries); null when the
   * appliance is the descriptor and the files it references (a folder holds other files too).
   */
  readonly allFiles: readonly ApplianceFile[] | null;
  /** The file `name` names (confined to the package or the descriptor's folder); null: not there; or why it is refused. */
  find(name: string): Promise<ApplianceFile | null | { readonly refused: string }>;
  /** `length` bytes of `file` from `position` (all of them, or an error). */
  read(file: ApplianceFile, position: number, length: number): Promise<Buffer>;
  digest(file: ApplianceFile, algorithm: 'sha1' | 'sha256'): Promise<string>;
  /** What qemu-img opens to read `file` as a VMDK in place (a `json:` filename; the file is only read). */
  qemuSource(file: ApplianceFile): string;
}

export interface ApplianceReading {
  readonly source: ApplianceSource;
  readonly ovf: OvfEnvelope;
  /** The files the descriptor references that were found, by href. */
  readonly files: ReadonlyMap<string, ApplianceFile>;
  /** What VirtualBox would refuse (empty: the appliance is sound). */
  readonly problems: readonly string[];
}

const MAX_TEXT = 4 * 1024 * 1024;

async function readText(source: ApplianceSource, f: ApplianceFile): Promise<string> {
  if (f.size > MAX_TEXT) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `${source.path}: ${f.name} is larger than ${MAX_TEXT} bytes; it is not a descriptor or manifest Maru reads.`,
    );
  }
  return (await source.read(f, 0, f.size)).toString('utf8');
}

/** `SHA256(name)= hex` / `SHA1(name)= hex` lines of a manifest. */
function parseManifest(text: string): Map<string, { algorithm: 'sha1' | 'sha256'; digest: string }> {
  const out = new Map<string, { algorithm: 'sha1' | 'sha256'; digest: string }>();
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const m = /^(SHA1|SHA256)\((.+)\)\s*=\s*([0-9a-fA-F]+)\s*$/.exec(line);
    if (!m) throw new AppError('INVALID_ARGUMENT', `The appliance's manifest has a line it cannot read: "${line}".`);
    out.set(m[2]!, { algorithm: m[1] === 'SHA1' ? 'sha1' : 'sha256', digest: m[3]!.toLowerCase() });
  }
  return out;
}

const GD_AT_END = 0xffffffffffffffffn;

/**
 * A disk file's sparse extent header (monolithicSparse / streamOptimized VMDK): its capacity in
 * bytes, or why it is not one Maru imports. Only these are read: a VMDK text descriptor (or a
 * header with no capacity, which points at one) may name extent files anywhere on this host.
 */
async function sparseVmdk(source: ApplianceSource, f: ApplianceFile): Promise<number | string> {
  const notOne = `${f.name} is not a sparse or streamOptimized VMDK, the only disk files Maru imports from an appliance`;
  if (f.size < 1536) return `${notOne} (it has only ${f.size} bytes).`;
  const head = await source.read(f, 0, 512);
  if (head.readUInt32LE(0) !== 0x564d444b) return `${notOne}.`; // "KDMV"
  const capacity = Number(head.readBigUInt64LE(12)) * 512;
  if (capacity <= 0) return `${notOne} (its header holds no capacity and refers to a descriptor).`;
  const gdOffset = head.readBigUInt64LE(56);
  const overhead = Number(head.readBigUInt64LE(64)) * 512;
  const cut = `${f.name} is cut short: it ends at byte ${f.size}`;
  if (gdOffset === GD_AT_END) {
    // A stream's footer (a copy of the header) sits before its end-of-stream marker (VMDK 5.0 spec, "Stream-Optimized Compressed Sparse Extents").
    const footer = await source.read(f, f.size - 1024, 512);
    if (footer.readUInt32LE(0) !== 0x564d444b) return `${cut}, where its stream's footer should be.`;
  } else if (Number(gdOffset) * 512 >= f.size || overhead > f.size) {
    return `${cut}, before its grain directory and metadata.`;
  }
  return capacity;
}

/**
 * Checks an appliance as VirtualBox's importer does: the descriptor reads as OVF with no
 * structural problem; every file it references is there (and, beside a loose .ovf, inside its
 * folder) with its declared size; the manifest lists every file with a digest that matches
 * (an OVA must have one); every disk is a sparse VMDK, whole, no larger than its Disk says.
 */
export async function checkAppliance(source: ApplianceSource): Promise<ApplianceReading> {
  const ovf = parseOvf(await readText(source, source.descriptor));
  const problems = [...ovf.problems];
  const files = new Map<string, ApplianceFile>();
  for (const f of ovf.files) {
    if (!f.href || hrefProblem(f.href) !== null || files.has(f.href)) continue;
    const found = await source.find(f.href);
    if (found === null) problems.push(`File ${f.href}, referenced by the descriptor, is not ${source.place}.`);
    else if ('refused' in found) problems.push(found.refused);
    else {
      files.set(f.href, found);
      if (f.size !== null && f.size !== found.size)
        problems.push(`File ${f.href} has ${found.size} bytes; the descriptor says ${f.size}.`);
    }
  }
  for (const d of ovf.disks) {
    const href = ovf.files.find((f) => f.id === d.fileRef)?.href;
    const file = href !== undefined ? files.get(href) : undefined;
    if (!file) continue;
    const capacity = await sparseVmdk(source, file);
    if (typeof capacity === 'string') problems.push(capacity);
    else if (d.capacityBytes < capacity) {
      problems.push(`Disk ${d.diskId} says ${d.capacityBytes} bytes, but ${file.name} holds ${capacity}.`);
    }
  }
  if (!source.manifest) {
    if (source.manifestRequired) problems.push('The package has no manifest (.mf): its files cannot be verified.');
  } else {
    const manifest = parseManifest(await readText(source, source.manifest));
    const covered = source.allFiles ?? [source.descriptor, ...files.values()];
    const verify = async (f: ApplianceFile, listed: { algorithm: 'sha1' | 'sha256'; digest: string }) => {
      if ((await source.digest(f, listed.algorithm)) !== listed.digest) {
        problems.push(
          `${f.name} does not match its ${listed.algorithm.toUpperCase()} digest in the manifest: it was changed or damaged.`,
        );
      }
    };
    for (const f of covered) {
      if (f === source.manifest || f.name.toLowerCase().endsWith('.cert')) continue;
      const listed = manifest.get(f.name);
      if (!listed) problems.push(`The manifest does not list ${f.name}.`);
      else await verify(f, listed);
    }
    for (const [name, listed] of manifest) {
      if (covered.some((f) => f.name === name)) continue;
      // Beside a loose .ovf, a listed file the descriptor does not reference is still checked.
      const found = source.allFiles || hrefProblem(name) !== null ? null : await source.find(name);
      if (found === null || 'refused' in found)
        problems.push(`The manifest lists ${name}, which is not ${source.place}.`);
      else await verify(found, listed);
    }
  }
  return { source, ovf, files, problems };
}

export interface ApplianceDisks {
  readonly check: ApplianceReading;
  /** qcow2 images made from the appliance's disks, in the order the hardware lists them. */
  readonly disks: readonly { readonly file: string; readonly capacityBytes: number; readonly controller: string }[];
}

/**
 * Reads an appliance for import: refuses it when the check finds problems (each one said), then
 * converts every disk the virtual system uses into a qcow2 under `folder` — qemu-img reads each
 * VMDK in place (inside the tar, or beside the descriptor), read-only — with progress by bytes
 * and cancel. On failure or cancel the images made so far are removed.
 */
export async function convertApplianceDisks(
  qemuImg: string,
  source: ApplianceSource,
  folder: string,
  job: JobOptions = {},
): Promise<ApplianceDisks> {
  job.onProgress?.({ phase: 'check', fraction: 0 });
  const check = await checkAppliance(source);
  if (check.problems.length > 0) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `${source.path} fails the checks an appliance must pass, so nothing was imported:\n- ${check.problems.join('\n- ')}`,
    );
  }
  const { ovf, files } = check;
  const used = ovf.system.disks.map((d) => {
    const disk = ovf.disks.find((x) => x.diskId === d.diskId)!;
    const href = ovf.files.find((f) => f.id === disk.fileRef)!.href;
    return { disk, file: files.get(href)!, controller: d.controller };
  });
  const total = used.reduce((n, u) => n + u.file.size, 0) || 1;
  let before = 0;
  const made: { file: string; capacityBytes: number; controller: string }[] = [];
  let out = '';
  try {
    for (const [i, u] of used.entries()) {
      out = path.join(folder, `disk${i}.qcow2`);
      try {
        await convertImage(qemuImg, {
          source: source.qemuSource(u.file),
          sourceFormat: 'vmdk',
          target: out,
          targetFormat: 'qcow2',
          onProgress: (f) => job.onProgress?.({ phase: 'convert', fraction: (before + f * u.file.size) / total }),
          ...(job.signal ? { signal: job.signal } : {}),
        });
      } catch (err) {
        if (err instanceof CancelledError || !(err instanceof AppError) || err.code !== 'IO') throw err;
        const stderr = err.details?.['stderr'];
        const said =
          typeof stderr === 'string' && stderr.trim()
            ? stderr
                .trim()
                .replace(/^qemu-img:\s*/gm, '')
                .replace(/\n+/g, '; ')
            : err.message;
        throw new AppError(
          'INVALID_ARGUMENT',
          `${source.path}: disk file ${u.file.name} cannot be read as a VMDK (qemu-img: ${said}); it is damaged or cut short, so nothing was imported.`,
        );
      }
      made.push({ file: out, capacityBytes: u.disk.capacityBytes, controller: u.controller });
      before += u.file.size;
    }
  } catch (err) {
    for (const m of made) await rm(m.file, { force: true });
    if (out) await rm(out, { force: true });
    throw err;
  }
  return { check, disks: made };
}
