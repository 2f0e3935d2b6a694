// OVA packages (a tar of NAME.ovf, its disks as streamOptimized VMDKs, and NAME.mf with their
// SHA digests, in that order — as VirtualBox writes them): writing Maru's export of a VM, and
// reading a package as an appliance source (the check and the import are appliance-reader.ts's).
// Reading walks the tar's headers and reads bodies in place.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { JobOptions } from '../../../src-shared/contracts/jobs';
import { AppError, CancelledError } from '../../../src-shared/errors';
import type { PresetId } from '../../../src-shared/os-presets';
import type { NicConfig } from '../../../src-shared/vm-config';
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
import { checkAppliance, type ApplianceFile, type ApplianceReading, type ApplianceSource } from './appliance-reader';
import { buildOvf } from './ovf';

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

/** An OVA as an appliance source: the descriptor is its first entry, bodies are read in place. */
export async function openOva(file: string): Promise<ApplianceSource & { readonly entries: readonly OvaEntry[] }> {
  const pkg = path.resolve(file);
  const entries = await listOva(pkg);
  const descriptor = entries[0];
  if (!descriptor || !descriptor.path.toLowerCase().endsWith('.ovf')) {
    throw notAnOva(pkg, 'its first file is not an .ovf descriptor');
  }
  const asFile = (e: OvaEntry): ApplianceFile & OvaEntry => ({ ...e, name: e.path });
  const files = entries.map(asFile);
  const entryOf = (f: ApplianceFile): OvaEntry => {
    const e = entries.find((x) => x.path === f.name);
    if (!e) throw new AppError('INTERNAL', `${f.name} is not an entry of ${pkg}.`);
    return e;
  };
  return {
    path: pkg,
    place: 'in the package',
    entries,
    descriptor: files[0]!,
    manifest: files.find((e) => e.name.toLowerCase().endsWith('.mf')) ?? null,
    manifestRequired: true,
    allFiles: files,
    find: async (name) => files.find((e) => e.name === name) ?? null,
    async read(f, position, length) {
      const e = entryOf(f);
      if (position < 0 || position + length > e.size) throw notAnOva(pkg, `${e.path} is shorter than it should be`);
      const fh = await open(pkg, 'r');
      try {
        const buf = Buffer.alloc(length);
        await readExactly(fh, buf, e.offset + position);
        return buf;
      } finally {
        await fh.close();
      }
    },
    async digest(f, algorithm) {
      const e = entryOf(f);
      const hash = createHash(algorithm);
      if (e.size > 0) await pipeline(createReadStream(pkg, { start: e.offset, end: e.offset + e.size - 1 }), hash);
      return hash.digest('hex');
    },
    qemuSource(f) {
      const e = entryOf(f);
      // The VMDK inside the tar, read in place: a raw window onto the package.
      return `json:${JSON.stringify({
        driver: 'vmdk',
        file: { driver: 'raw', offset: e.offset, size: e.size, file: { driver: 'file', filename: pkg } },
      })}`;
    },
  };
}

/**
 * Checks a package as VirtualBox's importer does (appliance-reader.ts): the descriptor comes
 * first, then every referenced file, the manifest's digests (the whole package is read once)
 * and each disk's VMDK header.
 */
export async function checkOva(file: string): Promise<ApplianceReading> {
  return checkAppliance(await openOva(file));
}

export interface OvaExportInput {
  readonly name: string;
  readonly os: PresetId;
  readonly cpus: number;
  readonly memoryMiB: number;
  /** The VM's disk images (qcow2), in order, with their virtual sizes. */
  readonly disks: readonly { readonly file: string; readonly format: string; readonly virtualBytes: number }[];
  /** Its network adapters (an ethernet item each); absent: one NAT adapter. */
  readonly nics?: readonly NicConfig[];
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
