// OVA packages (a tar of NAME.ovf, its disks as streamOptimized VMDKs, and NAME.mf with their
// SHA digests, in that order — as VirtualBox writes them): writing Maru's export of a VM, and
// checking a package as VirtualBox's importer does before it trusts one (the descriptor's
// structure, every referenced file present with its size, the manifest's digests, each disk's
// capacity against its VMDK). Reading walks the tar's headers and reads bodies in place.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { JobOptions } from '../../../src-shared/contracts/jobs';
import { AppError, CancelledError } from '../../../src-shared/errors';
import type { PresetId } from '../../../src-shared/os-presets';
import { convertImage } from '../../../src-emulator/engines/qemu/qemu-img';
import {
  parsePaxRecords,
  parseTarHeader,
  TAR_BLOCK,
  TAR_END,
  tarHeader,
  tarPadding,
  TarFormatError,
} from '../backup/tar';
import { buildOvf, parseOvf, type OvfEnvelope } from './ovf';

export interface OvaEntry {
  readonly path: string;
  readonly size: number;
  /** Where its body starts in the package. */
  readonly offset: number;
}

function notAnOva(file: string, why: string): AppError {
  return new AppError('INVALID_ARGUMENT', `${file} is not a usable OVA appliance: ${why}.`);
}

/** The regular files of a tar package, in order (headers read, bodies skipped). */
export async function listOva(file: string): Promise<OvaEntry[]> {
  const fh = await open(file, 'r');
  try {
    const { size: total } = await fh.stat();
    const entries: OvaEntry[] = [];
    const block = Buffer.alloc(TAR_BLOCK);
    let at = 0;
    let pax: Record<string, string> = {};
    for (;;) {
      if (at + TAR_BLOCK > total) throw notAnOva(file, 'the package ends in the middle (it is cut short)');
      await readExactly(fh, block, at);
      let h;
      try {
        h = parseTarHeader(block);
      } catch (err) {
        if (err instanceof TarFormatError)
          throw notAnOva(file, `at byte ${at} it is not a tar header (${err.message})`);
        throw err;
      }
      if (h === null) return entries;
      const body = at + TAR_BLOCK;
      const size = pax['size'] !== undefined ? Number(pax['size']) : h.size;
      if (body + size > total) throw notAnOva(file, `${h.path || 'an entry'} is cut short`);
      if (h.typeflag === 'x') {
        const buf = Buffer.alloc(size);
        await readExactly(fh, buf, body);
        pax = parsePaxRecords(buf);
      } else {
        if (h.typeflag === '0') entries.push({ path: pax['path'] ?? h.path, size, offset: body });
        pax = {};
      }
      at = body + size + tarPadding(size);
    }
  } finally {
    await fh.close();
  }
}

async function readExactly(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  const { bytesRead } = await fh.read(buf, 0, buf.length, position);
  if (bytesRead !== buf.length) throw new AppError('IO', 'The file ended before the bytes it announces.');
}

async function readEntry(file: string, e: OvaEntry, max = 4 * 1024 * 1024): Promise<Buffer> {
  if (e.size > max) throw notAnOva(file, `${e.path} is larger than ${max} bytes`);
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(e.size);
    await readExactly(fh, buf, e.offset);
    return buf;
  } finally {
    await fh.close();
  }
}

async function digestOf(file: string, e: OvaEntry, algorithm: 'sha1' | 'sha256'): Promise<string> {
  const hash = createHash(algorithm);
  if (e.size > 0) {
    await pipeline(createReadStream(file, { start: e.offset, end: e.offset + e.size - 1 }), hash);
  }
  return hash.digest('hex');
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

/** A streamOptimized / monolithicSparse VMDK's capacity in bytes (its sparse extent header), or null. */
async function vmdkCapacity(file: string, e: OvaEntry): Promise<number | null> {
  if (e.size < 512) return null;
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(512);
    await readExactly(fh, head, e.offset);
    if (head.readUInt32LE(0) !== 0x564d444b) return null; // "KDMV"
    return Number(head.readBigUInt64LE(12)) * 512;
  } finally {
    await fh.close();
  }
}

export interface OvaCheck {
  readonly entries: readonly OvaEntry[];
  readonly ovf: OvfEnvelope;
  readonly ovfEntry: OvaEntry;
  /** What VirtualBox would refuse (empty: the package is sound). */
  readonly problems: readonly string[];
}

/**
 * Checks a package as VirtualBox's importer does: the descriptor comes first and reads as OVF
 * with no structural problem; every file it references is in the package with its declared
 * size; the manifest lists every file with a digest that matches; no disk is smaller than its
 * VMDK. Digests are computed over the bodies (the whole package is read once).
 */
export async function checkOva(file: string): Promise<OvaCheck> {
  const entries = await listOva(file);
  const ovfEntry = entries[0];
  if (!ovfEntry || !ovfEntry.path.toLowerCase().endsWith('.ovf')) {
    throw notAnOva(file, 'its first file is not an .ovf descriptor');
  }
  const ovf = parseOvf((await readEntry(file, ovfEntry)).toString('utf8'));
  const problems = [...ovf.problems];
  const byName = new Map(entries.map((e) => [e.path, e]));
  for (const f of ovf.files) {
    const e = byName.get(f.href);
    if (!e) problems.push(`File ${f.href}, referenced by the descriptor, is not in the package.`);
    else if (f.size !== null && f.size !== e.size)
      problems.push(`File ${f.href} has ${e.size} bytes; the descriptor says ${f.size}.`);
  }
  for (const d of ovf.disks) {
    const href = ovf.files.find((f) => f.id === d.fileRef)?.href;
    const e = href ? byName.get(href) : undefined;
    if (!e) continue;
    const capacity = await vmdkCapacity(file, e);
    if (capacity !== null && d.capacityBytes < capacity) {
      problems.push(`Disk ${d.diskId} says ${d.capacityBytes} bytes, but ${e.path} holds ${capacity}.`);
    }
  }
  const mfEntry = entries.find((e) => e.path.toLowerCase().endsWith('.mf'));
  if (!mfEntry) problems.push('The package has no manifest (.mf): its files cannot be verified.');
  else {
    const manifest = parseManifest((await readEntry(file, mfEntry)).toString('utf8'));
    for (const e of entries) {
      if (e === mfEntry || e.path.toLowerCase().endsWith('.cert')) continue;
      const listed = manifest.get(e.path);
      if (!listed) problems.push(`The manifest does not list ${e.path}.`);
      else if ((await digestOf(file, e, listed.algorithm)) !== listed.digest) {
        problems.push(
          `${e.path} does not match its ${listed.algorithm.toUpperCase()} digest in the manifest: it was changed or damaged.`,
        );
      }
    }
    for (const name of manifest.keys()) {
      if (!byName.has(name)) problems.push(`The manifest lists ${name}, which is not in the package.`);
    }
  }
  return { entries, ovf, ovfEntry, problems };
}

export interface OvaExportInput {
  readonly name: string;
  readonly os: PresetId;
  readonly cpus: number;
  readonly memoryMiB: number;
  /** The VM's disk images (qcow2), in order, with their virtual sizes. */
  readonly disks: readonly { readonly file: string; readonly format: string; readonly virtualBytes: number }[];
}

/** A name for files inside the package: the VM's name with only portable characters. */
function packageBase(name: string): string {
  return (
    name
      .replace(/[^A-Za-z0-9._-]+/g, '_')
      .replace(/^[._]+/, '')
      .slice(0, 80) || 'vm'
  );
}

/**
 * Writes `target` (which must not exist): each disk converted to a streamOptimized VMDK (with
 * progress by virtual size), then the tar — descriptor, disks, SHA-256 manifest — into a
 * temporary name, flushed, renamed into place. Cancel and failure leave nothing behind.
 */
export async function writeOva(
  qemuImg: string,
  vm: OvaExportInput,
  target: string,
  job: JobOptions = {},
): Promise<{ readonly bytes: number; readonly files: readonly string[] }> {
  const folder = path.dirname(target);
  const work = await mkdtemp(path.join(folder, `.${path.basename(target)}.export-`));
  const partial = path.join(folder, `.${path.basename(target)}.partial`);
  const base = packageBase(vm.name);
  try {
    const totalVirtual = vm.disks.reduce((n, d) => n + d.virtualBytes, 0) || 1;
    let before = 0;
    const vmdks: { name: string; file: string; size: number; capacity: number }[] = [];
    for (const [i, d] of vm.disks.entries()) {
      const name = `${base}-disk${String(i + 1).padStart(3, '0')}.vmdk`;
      const file = path.join(work, name);
      await convertImage(qemuImg, {
        source: d.file,
        sourceFormat: d.format,
        target: file,
        targetFormat: 'vmdk',
        targetOptions: ['subformat=streamOptimized'],
        onProgress: (f) =>
          job.onProgress?.({ phase: 'convert', fraction: (0.8 * (before + f * d.virtualBytes)) / totalVirtual }),
        ...(job.signal ? { signal: job.signal } : {}),
      });
      before += d.virtualBytes;
      vmdks.push({ name, file, size: (await stat(file)).size, capacity: d.virtualBytes });
    }
    if (job.signal?.aborted) throw new CancelledError('The export was cancelled.');
    const ovf = Buffer.from(
      buildOvf(
        vm,
        vmdks.map((v) => ({ href: v.name, sizeBytes: v.size, capacityBytes: v.capacity })),
      ),
      'utf8',
    );
    const mtime = Math.floor(Date.now() / 1000);
    const out = createWriteStream(partial, { flags: 'wx', mode: 0o600 });
    const manifest: string[] = [];
    const write = (b: Buffer) =>
      new Promise<void>((resolve, reject) => out.write(b, (err) => (err ? reject(err) : resolve())));
    try {
      const ovfName = `${base}.ovf`;
      await write(tarHeader({ path: ovfName, type: 'file', size: ovf.length, mode: 0o644, mtime }));
      await write(ovf);
      await write(Buffer.alloc(tarPadding(ovf.length)));
      manifest.push(`SHA256(${ovfName})= ${createHash('sha256').update(ovf).digest('hex')}`);
      const totalBytes = vmdks.reduce((n, v) => n + v.size, 0) || 1;
      let written = 0;
      for (const v of vmdks) {
        await write(tarHeader({ path: v.name, type: 'file', size: v.size, mode: 0o644, mtime }));
        const hash = createHash('sha256');
        for await (const chunk of createReadStream(v.file, { highWaterMark: 1 << 20 })) {
          if (job.signal?.aborted) throw new CancelledError('The export was cancelled.');
          const b = chunk as Buffer;
          hash.update(b);
          await write(b);
          written += b.length;
          job.onProgress?.({ phase: 'package', fraction: 0.8 + (0.2 * written) / totalBytes });
        }
        await write(Buffer.alloc(tarPadding(v.size)));
        manifest.push(`SHA256(${v.name})= ${hash.digest('hex')}`);
      }
      const mf = Buffer.from(`${manifest.join('\n')}\n`, 'utf8');
      await write(tarHeader({ path: `${base}.mf`, type: 'file', size: mf.length, mode: 0o644, mtime }));
      await write(mf);
      await write(Buffer.alloc(tarPadding(mf.length)));
      await write(TAR_END);
    } finally {
      await new Promise<void>((resolve) => out.end(resolve));
    }
    const fh = await open(partial, 'r');
    await fh.sync().finally(() => fh.close());
    const bytes = (await stat(partial)).size;
    // Never over a file that appeared meanwhile.
    if (
      await stat(target).then(
        () => true,
        () => false,
      )
    ) {
      throw new AppError('ALREADY_EXISTS', `${target} appeared while the export was written; nothing was replaced.`);
    }
    await rename(partial, target);
    job.onProgress?.({ phase: 'package', fraction: 1 });
    return { bytes, files: [`${base}.ovf`, ...vmdks.map((v) => v.name), `${base}.mf`] };
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export interface OvaDisks {
  readonly check: OvaCheck;
  /** qcow2 images made from the package's disks, in the order the hardware lists them. */
  readonly disks: readonly { readonly file: string; readonly capacityBytes: number; readonly controller: string }[];
}

/**
 * Reads a package for import: refuses it when the check finds problems (each one said), then
 * converts every disk the virtual system uses into a qcow2 under `folder` (qemu-img reads the
 * VMDK straight out of the package through a raw offset/size view: no extracted copy), with
 * progress by bytes and cancel. On failure or cancel the images made so far are removed.
 */
export async function convertOvaDisks(
  qemuImg: string,
  file: string,
  folder: string,
  job: JobOptions = {},
): Promise<OvaDisks> {
  job.onProgress?.({ phase: 'check', fraction: 0 });
  const check = await checkOva(file);
  if (check.problems.length > 0) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `${file} fails the checks an appliance must pass, so nothing was imported:\n- ${check.problems.join('\n- ')}`,
    );
  }
  const { ovf, entries } = check;
  const used = ovf.system.disks.map((d) => {
    const disk = ovf.disks.find((x) => x.diskId === d.diskId)!;
    const href = ovf.files.find((f) => f.id === disk.fileRef)!.href;
    return { disk, entry: entries.find((e) => e.path === href)!, controller: d.controller };
  });
  const total = used.reduce((n, u) => n + u.entry.size, 0) || 1;
  let before = 0;
  const made: { file: string; capacityBytes: number; controller: string }[] = [];
  try {
    for (const [i, u] of used.entries()) {
      const out = path.join(folder, `disk${i}.qcow2`);
      await convertImage(qemuImg, {
        // The VMDK inside the tar, read in place: a raw window onto the package.
        source: `json:${JSON.stringify({
          driver: 'vmdk',
          file: {
            driver: 'raw',
            offset: u.entry.offset,
            size: u.entry.size,
            file: { driver: 'file', filename: path.resolve(file) },
          },
        })}`,
        sourceFormat: 'vmdk',
        target: out,
        targetFormat: 'qcow2',
        onProgress: (f) => job.onProgress?.({ phase: 'convert', fraction: (before + f * u.entry.size) / total }),
        ...(job.signal ? { signal: job.signal } : {}),
      });
      made.push({ file: out, capacityBytes: u.disk.capacityBytes, controller: u.controller });
      before += u.entry.size;
    }
  } catch (err) {
    for (const m of made) await rm(m.file, { force: true });
    throw err;
  }
  return { check, disks: made };
}
