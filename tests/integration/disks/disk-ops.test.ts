// The `disks` service with real qemu-img and real images, called through the typed control
// client as every front end calls it: a qcow2 with known data (qemu-io) converted by qemu-img
// to VDI, VMDK (monolithicSparse, monolithicFlat, twoGbMaxExtentSparse, streamOptimized), VHD,
// VHDX and raw is imported back and compared with `qemu-img compare`; grow and compact keep
// the data; convert writes each format; every bad input is refused with its reason and leaves
// no file; cancel removes the partial copy. Free-space refusals use a tmpfs (root, as CI runs).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statfsSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_USER_POLICY } from '../../../src-shared/contracts/access';
import { createControlClient, inProcessTransport, type ControlServices } from '../../../src-shared/contracts/control';
import type { DiskFormat } from '../../../src-shared/contracts/disks';
import type { JobProgress } from '../../../src-shared/contracts/jobs';
import { AppError } from '../../../src-shared/errors';
import { createControlServices, type ControlHost } from '../../../src-main/services/control-services';
import { canRun, ensureBuilt, MEDIA } from '../qemu/qemu-test-kit';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const isRoot = process.getuid?.() === 0;
const haveTools = ['qemu-img', 'qemu-io'].every((t) => spawnSync('which', [t]).status === 0);

function tool(bin: string, ...args: string[]): string {
  const r = spawnSync(bin, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** `qemu-img compare` (guest-visible contents; a larger image must be zero past the smaller's end). */
function compare(a: string, b: string): { code: number | null; text: string } {
  const r = spawnSync('qemu-img', ['compare', a, b], { encoding: 'utf8' });
  return { code: r.status, text: r.stdout + r.stderr };
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** Content and mtime of every file: proof the source was only read. */
function fingerprint(files: readonly string[]): string[] {
  return files.map((f) => `${f} ${sha256(f)} ${statSync(f).mtimeMs}`);
}

async function refusal(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, 'the call should have been refused').toBeInstanceOf(AppError);
  return err as AppError;
}

/** Entries of a folder, hidden (temporary) ones included. */
function entries(folder: string): string[] {
  return existsSync(folder) ? readdirSync(folder).sort() : [];
}

describe.skipIf(!haveTools)('disk operations with real qemu-img', () => {
  let root: string;
  let home: string;
  let host: ControlHost;
  let s: ControlServices;
  let src: string;
  const sources: Record<string, string> = {};
  const disksDir = () => path.join(home, 'disks');

  beforeAll(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'maru-disks-'));
    home = path.join(root, 'home');
    host = createControlServices({ maruHome: home, env: { ...process.env, MARU_HOME: home } });
    s = createControlClient(inProcessTransport(host.services, host, LOCAL_USER_POLICY));
    // 64 MiB: a pattern at the start, random bytes at 8 MiB, another pattern at 40 MiB, the rest never written.
    src = path.join(root, 'source.qcow2');
    tool('qemu-img', 'create', '-q', '-f', 'qcow2', src, '64M');
    const random = path.join(root, 'random.bin');
    writeFileSync(random, Buffer.from(Array.from({ length: MiB }, (_, i) => (i * 2654435761) >>> 24)));
    tool(
      'qemu-io',
      '-f',
      'qcow2',
      '-c',
      'write -P 0xab 0 4M',
      '-c',
      `write -s ${random} 8M 1M`,
      '-c',
      'write -P 0x5c 40M 1M',
      src,
    );
    const convert = (name: string, format: string, ...opts: string[]) => {
      const out = path.join(root, name);
      tool('qemu-img', 'convert', '-f', 'qcow2', '-O', format, ...opts, src, out);
      sources[name] = out;
    };
    convert('disk.vdi', 'vdi');
    convert('sparse.vmdk', 'vmdk', '-o', 'subformat=monolithicSparse');
    convert('flat.vmdk', 'vmdk', '-o', 'subformat=monolithicFlat');
    convert('split.vmdk', 'vmdk', '-o', 'subformat=twoGbMaxExtentSparse');
    convert('stream.vmdk', 'vmdk', '-o', 'subformat=streamOptimized');
    convert('disk.vhd', 'vpc');
    convert('disk.vhdx', 'vhdx');
    convert('disk.img', 'raw');
    sources['source.qcow2'] = src;
  });

  afterAll(() => {
    host?.dispose();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('inspects every format: format, VMDK kind, sizes, parts, nothing refused', async () => {
    const expected: Record<string, [DiskFormat, string | null, number]> = {
      'disk.vdi': ['vdi', null, 1],
      'sparse.vmdk': ['vmdk', 'monolithicSparse', 1],
      'flat.vmdk': ['vmdk', 'monolithicFlat', 2],
      'split.vmdk': ['vmdk', 'twoGbMaxExtentSparse', 2],
      'stream.vmdk': ['vmdk', 'streamOptimized', 1],
      'disk.vhd': ['vhd', null, 1],
      'disk.vhdx': ['vhdx', null, 1],
      'disk.img': ['raw', null, 1],
      'source.qcow2': ['qcow2', null, 1],
    };
    for (const [name, [format, subformat, parts]] of Object.entries(expected)) {
      const info = await s.disks.inspect(sources[name]!);
      expect(info, name).toMatchObject({
        path: sources[name],
        format,
        subformat,
        importProblem: null,
        backingFile: null,
      });
      expect(info.files, name).toHaveLength(parts);
      // VHD rounds to a CHS geometry when qemu-img writes it without force_size.
      expect(info.virtualSizeBytes, name).toBeGreaterThanOrEqual(64 * MiB);
      expect(info.virtualSizeBytes, name).toBeLessThan(65 * MiB);
      expect(info.actualSizeBytes, name).toBeGreaterThan(0);
    }
  });

  it('imports each format as qcow2 that qemu-img compare finds identical to the source, never touching the source', async () => {
    for (const name of Object.keys(sources)) {
      const before = fingerprint((await s.disks.inspect(sources[name]!)).files);
      const progress: JobProgress[] = [];
      const r = await s.disks.import(
        sources[name]!,
        { name: `imported-${name.replace(/\./g, '-')}` },
        { onProgress: (p) => progress.push(p) },
      );
      expect(r.path, name).toBe(path.join(disksDir(), `imported-${name.replace(/\./g, '-')}.qcow2`));
      expect(r.image.format, name).toBe('qcow2');
      expect(r.warnings, name).toEqual([]);
      const c = compare(src, r.path);
      expect(c.code, `${name}: ${c.text}`).toBe(0);
      expect(tool('qemu-img', 'check', r.path), name).toMatch(/No errors were found/);
      expect(
        progress.some((p) => p.phase === 'import' && p.fraction === 1),
        name,
      ).toBe(true);
      expect(fingerprint((await s.disks.inspect(sources[name]!)).files), name).toEqual(before);
    }
    // Nothing temporary is left beside the imports.
    expect(entries(disksDir()).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('names an import after its source by default and refuses a name that is taken, keeping the disk there', async () => {
    const r = await s.disks.import(sources['stream.vmdk']!, {});
    expect(path.basename(r.path)).toBe('stream.qcow2');
    const kept = sha256(r.path);
    const err = await refusal(s.disks.import(sources['disk.vdi']!, { name: 'stream' }));
    expect(err.code).toBe('ALREADY_EXISTS');
    expect(err.message).toContain(r.path);
    expect(sha256(r.path)).toBe(kept);
    expect(entries(disksDir()).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  describe('bad sources are refused with the reason, and nothing is written', () => {
    async function refusedImport(file: string, re: RegExp, code = 'INVALID_ARGUMENT', sourceFormat?: DiskFormat) {
      const before = entries(disksDir());
      const err = await refusal(s.disks.import(file, { name: 'bad', ...(sourceFormat ? { sourceFormat } : {}) }));
      expect(err.code, err.message).toBe(code);
      expect(err.message).toMatch(re);
      expect(entries(disksDir())).toEqual(before);
      return err;
    }

    it('an ISO (also when named .img and when the caller says raw)', async (ctx) => {
      if (!existsSync(MEDIA.biosUefi)) ctx.skip('the test ISO is not built (npm run fixtures)');
      await refusedImport(MEDIA.biosUefi, /CD\/DVD image \(ISO 9660\), not a hard disk/);
      const renamed = path.join(root, 'installer.img');
      copyFileSync(MEDIA.biosUefi, renamed);
      await refusedImport(renamed, /CD\/DVD image/);
      await refusedImport(renamed, /CD\/DVD image/, 'INVALID_ARGUMENT', 'raw');
      expect((await s.disks.inspect(renamed)).importProblem).toMatch(/CD\/DVD image/);
    });

    it('random bytes named .vdi, or with no disk name; raw only for .img/.raw/.bin or when asked', async () => {
      const bytes = Buffer.from(Array.from({ length: 3 * MiB }, (_, i) => (i * 7919) & 0xff));
      const vdi = path.join(root, 'random.vdi');
      writeFileSync(vdi, bytes);
      await refusedImport(vdi, /named like a VDI image, but it has no VDI header/);
      const dat = path.join(root, 'random.dat');
      writeFileSync(dat, bytes);
      const err = await refusedImport(dat, /no disk image format qemu-img knows.*source format raw/);
      expect(err.message).toContain(dat);
      // The caller says it is raw: imported as it is.
      const r = await s.disks.import(dat, { name: 'raw-by-request', sourceFormat: 'raw' });
      expect((await s.disks.inspect(r.path)).virtualSizeBytes).toBe(3 * MiB);
      // A structured image is not taken as raw, nor as a format it is not.
      await refusedImport(sources['disk.vdi']!, /is a VDI image, not a raw one/, 'INVALID_ARGUMENT', 'raw');
      await refusedImport(sources['disk.vdi']!, /is a VDI image, not VHDX/, 'INVALID_ARGUMENT', 'vhdx');
      const empty = path.join(root, 'empty.img');
      writeFileSync(empty, '');
      await refusedImport(empty, /is empty \(0 bytes\)/);
      await refusedImport(path.join(root, 'missing.vdi'), /does not exist/, 'NOT_FOUND');
    });

    it('truncated images: sparse, split and streamOptimized VMDK, VDI, VHD, VHDX, qcow2, flat VMDK', async () => {
      const cut = (name: string, part?: string): string => {
        const dir = mkdtempSync(path.join(root, 'cut-'));
        const files = part ? [sources[name]!, path.join(root, part)] : [sources[name]!];
        for (const f of files) copyFileSync(f, path.join(dir, path.basename(f)));
        const victim = path.join(dir, path.basename(part ?? sources[name]!));
        truncateSync(victim, Math.floor(statSync(victim).size / 2 / 4096) * 4096);
        return path.join(dir, name);
      };
      await refusedImport(cut('sparse.vmdk'), /damaged or truncated: .*points after EOF/);
      await refusedImport(cut('stream.vmdk'), /damaged or truncated: .*points after EOF/);
      await refusedImport(cut('split.vmdk', 'split-s001.vmdk'), /damaged or truncated/);
      await refusedImport(cut('flat.vmdk', 'flat-flat.vmdk'), /truncated: its part .*flat-flat\.vmdk holds/);
      await refusedImport(cut('disk.vdi'), /truncated: its \d+ blocks of 1 MiB need/);
      await refusedImport(cut('disk.vhd'), /damaged or truncated/);
      await refusedImport(cut('disk.vhdx'), /truncated|damaged/);
      await refusedImport(
        cut('source.qcow2'),
        /damaged or truncated: qemu-img check found \d+ errors \(.*exceeding the end of the file/,
      );
    });

    it('a VMDK whose grain table points outside the file', async () => {
      const broken = path.join(mkdtempSync(path.join(root, 'gt-')), 'broken.vmdk');
      copyFileSync(sources['sparse.vmdk']!, broken);
      const bytes = readFileSync(broken);
      // VMDK4 header: the grain directory's sector at byte 56; its first entry is the first grain table's sector.
      const gd = Number(bytes.readBigUInt64LE(56)) * 512;
      const gt = bytes.readUInt32LE(gd) * 512;
      expect(bytes.readUInt32LE(gt)).not.toBe(0); // grain 0 holds the 0xab pattern
      bytes.writeUInt32LE(0x7fffff00, gt);
      writeFileSync(broken, bytes);
      await refusedImport(broken, /damaged or truncated: qemu-img check found errors \(.*points after EOF\)/);
    });

    it('a split VMDK with a part missing', async () => {
      const dir = mkdtempSync(path.join(root, 'split-'));
      copyFileSync(sources['split.vmdk']!, path.join(dir, 'split.vmdk'));
      await refusedImport(path.join(dir, 'split.vmdk'), /missing: .*split-s001\.vmdk/, 'NOT_FOUND');
    });
  });

  it('cancel ends qemu-img and removes the partial copy', async () => {
    const big = path.join(root, 'big.vmdk');
    const q = path.join(root, 'big.qcow2');
    tool('qemu-img', 'create', '-q', '-f', 'qcow2', q, '1G');
    tool('qemu-io', '-f', 'qcow2', '-c', 'write -P 0x33 0 512M', q);
    tool('qemu-img', 'convert', '-f', 'qcow2', '-O', 'vmdk', q, big);
    rmSync(q);
    const controller = new AbortController();
    const seen: JobProgress[] = [];
    const err = await refusal(
      s.disks.import(
        big,
        { name: 'cancelled' },
        {
          signal: controller.signal,
          onProgress: (p) => {
            seen.push(p);
            if (p.phase === 'import') controller.abort();
          },
        },
      ),
    );
    expect(err.code).toBe('CANCELLED');
    expect(seen.every((p) => p.fraction < 1)).toBe(true);
    expect(entries(disksDir()).filter((f) => f.includes('cancelled'))).toEqual([]);
    // and convert the same way
    const out = path.join(root, 'cancelled.vdi');
    const controller2 = new AbortController();
    const err2 = await refusal(
      s.disks.convert(big, 'vdi', out, {
        signal: controller2.signal,
        onProgress: (p) => (p.phase === 'convert' ? controller2.abort() : undefined),
      }),
    );
    expect(err2.code).toBe('CANCELLED');
    expect(entries(root).filter((f) => f.includes('cancelled'))).toEqual([]);
    rmSync(big);
  });

  it('converts to every format (qemu-img compare identical), refusing a target that exists', async () => {
    const outDir = path.join(root, 'out');
    mkdirSync(outDir);
    const names: Record<DiskFormat, string> = {
      qcow2: 'c.qcow2',
      raw: 'c.img',
      vdi: 'c.vdi',
      vmdk: 'c.vmdk',
      vhd: 'c.vhd',
      vhdx: 'c.vhdx',
    };
    for (const [format, name] of Object.entries(names) as [DiskFormat, string][]) {
      const out = path.join(outDir, name);
      const r = await s.disks.convert(src, format, out);
      expect(r.image.format, format).toBe(format);
      expect(r.warnings, format).toEqual([]);
      // force_size: a VHD keeps the exact size
      expect(r.image.virtualSizeBytes, format).toBe(64 * MiB);
      const c = compare(src, out);
      expect(c.code, `${format}: ${c.text}`).toBe(0);
    }
    const kept = sha256(path.join(outDir, 'c.vdi'));
    const err = await refusal(s.disks.convert(src, 'vdi', path.join(outDir, 'c.vdi')));
    expect(err.code).toBe('ALREADY_EXISTS');
    expect(sha256(path.join(outDir, 'c.vdi'))).toBe(kept);
    // A name that does not say the format is written, with a warning.
    const odd = await s.disks.convert(src, 'vmdk', path.join(outDir, 'odd.disk'));
    expect(odd.warnings.join('\n')).toMatch(/holds a VMDK image but its name does not end in \.vmdk/);
    expect(entries(outDir).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  describe("a VM's disk", () => {
    let vmId: string;
    let disk: string;

    beforeAll(async () => {
      const created = await s.library.create({
        name: 'grow',
        os: 'linux64',
        engine: 'qemu',
        memoryMiB: 256,
        diskGiB: 0.25,
      });
      vmId = created.vm.config.id;
      disk = created.vm.disks[0]!.path;
      tool('qemu-io', '-f', 'qcow2', '-c', 'write -P 0xcd 0 32M', '-c', 'write -P 0xee 200M 8M', disk);
    });

    it('grows keeping the data; vm.json records the size; shrinking is refused with the reason', async () => {
      const copy = path.join(root, 'grow-before.qcow2');
      copyFileSync(disk, copy);
      const r = await s.disks.resize(vmId, 0, 1 * GiB);
      expect(r).toMatchObject({ diskId: 'disk0', oldSizeBytes: 256 * MiB, newSizeBytes: GiB, warnings: [] });
      expect((await s.disks.inspect(disk)).virtualSizeBytes).toBe(GiB);
      const vm = await s.library.show(vmId);
      expect(vm.config.disks[0]!.sizeBytes).toBe(GiB);
      expect(vm.disks[0]!.virtualSizeBytes).toBe(GiB);
      const c = compare(copy, disk);
      expect(c.code, c.text).toBe(0);
      tool(
        'qemu-io',
        '-f',
        'qcow2',
        '-r',
        '-c',
        'read -P 0xcd 0 32M',
        '-c',
        'read -P 0xee 200M 8M',
        '-c',
        'read -P 0 256M 768M',
        disk,
      );

      const kept = sha256(disk);
      const err = await refusal(s.disks.resize(vmId, 0, 512 * MiB));
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.message).toMatch(
        /is 1 GiB \(1073741824 bytes\); 512 MiB \(536870912 bytes\) would shrink it\. Maru does not shrink disks/,
      );
      expect(sha256(disk)).toBe(kept);
      expect((await refusal(s.disks.resize(vmId, 1, 2 * GiB))).message).toMatch(/has 1 disk: disk 1 does not exist/);
      rmSync(copy);
    });

    it('a 98 TiB disk on a host with less free space is grown, with a warning giving both figures', async () => {
      const free = statfsSync(path.dirname(disk));
      const freeBytes = free.bavail * free.bsize;
      const big = 98 * 2 ** 40;
      expect(big).toBeGreaterThan(freeBytes);
      const r = await s.disks.resize(vmId, 0, big);
      expect(r.newSizeBytes).toBe(big);
      expect(r.warnings).toHaveLength(1);
      expect(r.warnings[0]).toContain('98 TiB');
      // The free figure (give or take what other processes wrote meanwhile).
      const m = /more than the ([\d.]+) GiB free on the host disk holding /.exec(r.warnings[0]!);
      expect(m, r.warnings[0]).not.toBeNull();
      expect(Math.abs(Number(m![1]) - freeBytes / GiB)).toBeLessThan(1);
      tool('qemu-io', '-f', 'qcow2', '-r', '-c', 'read -P 0xcd 0 32M', disk);
      // Creating a VM that big says the same.
      const created = await s.library.create({ name: 'huge', os: 'linux64', engine: 'qemu', diskGiB: 98 * 1024 });
      expect(created.warnings.join('\n')).toMatch(/The disk's size, 98 TiB, is more than the .* free on the host disk/);
      await s.library.delete(created.vm.config.id, { deleteDisks: true });
    });

    it('compacts zeroed data away and keeps the data; refused while the disk holds internal snapshots', async () => {
      // The guest zeroes the 0xcd area: allocated zero clusters, which the copy leaves out.
      tool('qemu-io', '-f', 'qcow2', '-c', 'write -P 0 0 32M', disk);
      const copy = path.join(root, 'compact-before.qcow2');
      copyFileSync(disk, copy);
      tool('qemu-img', 'snapshot', '-c', 'keep-me', disk);
      const kept = sha256(disk);
      const err = await refusal(s.disks.compact(vmId, 0));
      expect(err.code).toBe('UNSUPPORTED');
      expect(err.message).toMatch(/holds 1 internal snapshot \(keep-me\).*the snapshots would be lost/);
      expect(sha256(disk)).toBe(kept);
      tool('qemu-img', 'snapshot', '-d', 'keep-me', disk);

      const progress: JobProgress[] = [];
      const r = await s.disks.compact(vmId, 0, { onProgress: (p) => progress.push(p) });
      expect(r.replaced).toBe(true);
      expect(r.bytesBefore - r.bytesAfter).toBeGreaterThanOrEqual(30 * MiB);
      expect(statSync(disk).blocks * 512).toBe(r.bytesAfter);
      expect(progress.some((p) => p.phase === 'compact')).toBe(true);
      const c = compare(copy, disk);
      expect(c.code, c.text).toBe(0);
      expect(tool('qemu-img', 'check', disk)).toMatch(/No errors were found/);
      expect(entries(path.dirname(disk)).filter((f) => f.startsWith('.'))).toEqual([]);
      // Nothing left to give back: the disk is left as it is.
      const again = await s.disks.compact(vmId, 0);
      expect(again.replaced).toBe(false);
      rmSync(copy);
    });

    it('keeps a linked clone an overlay on its base when compacting it', async () => {
      const clone = await s.library.linkedClone(vmId, 'grow-linked');
      const overlay = clone.disks[0]!.path;
      const backing = (await s.disks.inspect(overlay)).backingFile;
      expect(backing).not.toBeNull();
      tool('qemu-io', '-f', 'qcow2', '-c', 'write -P 0x77 1M 16M', '-c', 'write -P 0 1M 16M', overlay);
      const copy = path.join(root, 'overlay-before.qcow2');
      copyFileSync(overlay, copy);
      const r = await s.disks.compact(clone.config.id, 0);
      expect(r.replaced).toBe(true);
      expect((await s.disks.inspect(overlay)).backingFile).toBe(backing);
      // Compared through the same base: the copy sits in another folder, so name the base by its full path.
      const base = path.resolve(path.dirname(overlay), backing!);
      tool('qemu-img', 'rebase', '-u', '-f', 'qcow2', '-b', base, '-F', 'qcow2', copy);
      const c = compare(copy, overlay);
      expect(c.code, c.text).toBe(0);
      await s.library.delete(clone.config.id, { deleteDisks: true });
      rmSync(copy);
    });

    it.skipIf(!canRun)('refuses to grow or compact while the VM runs, and leaves the disk as it was', async () => {
      ensureBuilt();
      const kept = (await s.disks.inspect(disk)).virtualSizeBytes;
      await s.vm.start(vmId);
      try {
        for (const call of [() => s.disks.resize(vmId, 0, kept + GiB), () => s.disks.compact(vmId, 0)]) {
          const err = await refusal(call());
          expect(err.code).toBe('BUSY');
          expect(err.message).toMatch(/VM "grow" is running; a disk can be (grown|compacted) only while its VM is off/);
        }
        // The running VM's disk is in use: import and convert say so.
        const imp = await refusal(s.disks.import(disk, { name: 'in-use' }));
        expect(imp.code).toBe('BUSY');
        expect(imp.message).toMatch(/in use by another program/);
        expect((await s.disks.inspect(disk)).importProblem).toMatch(/in use/);
      } finally {
        await s.vm.stop(vmId, { force: true });
      }
      expect((await s.disks.inspect(disk)).virtualSizeBytes).toBe(kept);
      expect(entries(disksDir()).filter((f) => f.includes('in-use'))).toEqual([]);
    });
  });

  describe.skipIf(!isRoot)('too little free space (tmpfs)', () => {
    let mount: string;
    let small: ControlServices;
    let smallHost: ControlHost;

    beforeAll(() => {
      mount = mkdtempSync(path.join(os.tmpdir(), 'maru-disks-full-'));
      const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'tmpfs', mount], { encoding: 'utf8' });
      if (m.status !== 0) throw new Error(`cannot mount a tmpfs: ${m.stderr}`);
      const smallHome = path.join(mount, 'home');
      mkdirSync(smallHome);
      smallHost = createControlServices({ maruHome: smallHome, env: { ...process.env, MARU_HOME: smallHome } });
      small = createControlClient(inProcessTransport(smallHost.services, smallHost, LOCAL_USER_POLICY));
    });

    afterAll(() => {
      smallHost?.dispose();
      spawnSync('umount', ['-l', mount]);
      rmSync(mount, { recursive: true, force: true });
    });

    it('refuses an import and a convert before writing, giving what is needed and what is free', async () => {
      const err = await refusal(small.disks.import(sources['disk.vdi']!, { name: 'nope' }));
      expect(err.code).toBe('HOST_LIMIT');
      expect(err.message).toMatch(
        /needs about [\d.]+ MiB \(\d+ bytes\) in .*, but only [\d.]+ (KiB|MiB) \(\d+ bytes\) are free there\. Nothing was written/,
      );
      expect(entries(path.join(mount, 'home', 'disks'))).toEqual([]);
      const out = path.join(mount, 'out.img');
      const err2 = await refusal(small.disks.convert(src, 'raw', out));
      expect(err2.code).toBe('HOST_LIMIT');
      expect(err2.message).toMatch(/needs about 64 MiB \(67108864 bytes\)/);
      expect(existsSync(out)).toBe(false);
      expect(entries(mount).filter((f) => f !== 'home')).toEqual([]);
    });
  });
});
