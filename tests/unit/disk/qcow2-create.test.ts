// createQcow2 / readQcow2Info against the real qemu-img and qemu-io: images we make must
// pass `qemu-img check` and take guest writes; headers qemu-img makes must read back.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, truncate, writeFile, copyFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createQcow2, readQcow2Info, QCOW2_MAX_VIRTUAL_SIZE } from '../../../src-emulator/disk/qcow2-create';
import { AppError } from '../../../src-shared/errors';
import type { JobProgress } from '../../../src-shared/contracts/jobs';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

interface QemuImgInfo {
  format: string;
  'virtual-size': number;
  'cluster-size': number;
  'format-specific': { data: { compat: string; 'refcount-bits': number; corrupt: boolean } };
}

function qemuImgInfo(file: string): QemuImgInfo {
  return JSON.parse(execFileSync('qemu-img', ['info', '--output=json', file], { encoding: 'utf8' })) as QemuImgInfo;
}

/** `qemu-img check`: exit status and its JSON report. */
function qemuImgCheck(file: string): { status: number | null; report: Record<string, unknown> } {
  const r = spawnSync('qemu-img', ['check', '--output=json', file], { encoding: 'utf8' });
  return { status: r.status, report: JSON.parse(r.stdout) as Record<string, unknown> };
}

async function expectAppError(p: Promise<unknown>, code: string, text?: RegExp): Promise<AppError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  const appErr = err as AppError;
  expect(appErr.code).toBe(code);
  if (text) expect(appErr.message).toMatch(text);
  return appErr;
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'maru-qcow2-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('createQcow2', () => {
  const sizes: [string, number][] = [
    ['1 MiB', 1 * MiB],
    ['1 GiB', 1 * GiB],
    ['64 GiB', 64 * GiB],
    ['an odd size (not a cluster multiple)', 7919 * 3 * 512],
    ['a size past one L1 entry (512 MiB + 512)', 512 * MiB + 512],
  ];
  it.each(sizes)('makes a %s image that qemu-img checks clean', async (_label, size) => {
    const file = path.join(dir, 'disk.qcow2');
    const progress: JobProgress[] = [];
    const result = await createQcow2(file, size, { onProgress: (p) => progress.push(p) });
    expect(result.virtualSize).toBe(size);

    const check = qemuImgCheck(file);
    expect(check.status).toBe(0);
    expect(check.report['check-errors']).toBe(0);
    expect(check.report).not.toHaveProperty('leaks');
    expect(check.report).not.toHaveProperty('corruptions');

    const info = qemuImgInfo(file);
    expect(info.format).toBe('qcow2');
    expect(info['virtual-size']).toBe(size);
    expect(info['cluster-size']).toBe(65536);
    expect(info['format-specific'].data.compat).toBe('1.1');
    expect(info['format-specific'].data['refcount-bits']).toBe(16);
    expect(info['format-specific'].data.corrupt).toBe(false);

    expect(progress[0]).toEqual({ phase: 'disk', fraction: 0 });
    expect(progress.at(-1)).toEqual({ phase: 'disk', fraction: 1 });
    expect(await readQcow2Info(file)).toEqual({ version: 3, virtualSize: size, clusterSize: 65536, backingFile: null });
  });

  it('rounds a size that is not a multiple of 512 up, as qemu-img does', async () => {
    const file = path.join(dir, 'odd.qcow2');
    const result = await createQcow2(file, 1000);
    expect(result.virtualSize).toBe(1024);
    expect(qemuImgInfo(file)['virtual-size']).toBe(1024);
    expect(qemuImgCheck(file).status).toBe(0);
  });

  it('keeps a 64 GiB image tiny on disk', async () => {
    const file = path.join(dir, 'big.qcow2');
    await createQcow2(file, 64 * GiB);
    const st = await stat(file);
    expect(st.size).toBe(4 * 64 * KiB); // header, refcount table, refcount block, L1 cluster
    expect(st.blocks * 512).toBeLessThan(256 * KiB);
  });

  it('makes an image a guest can write and read back (qemu-io)', async () => {
    const file = path.join(dir, 'rw.qcow2');
    await createQcow2(file, 2 * GiB);
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0xab 1G 3M', file]);
    const read = execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'read -P 0xab 1G 3M', file], { encoding: 'utf8' });
    expect(read).toMatch(/read 3145728\/3145728 bytes/);
    const zeros = execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'read -P 0 0 1M', file], { encoding: 'utf8' });
    expect(zeros).toMatch(/read 1048576\/1048576 bytes/);
    expect(qemuImgCheck(file).status).toBe(0);
  });

  it('refuses an existing file and leaves it untouched', async () => {
    const file = path.join(dir, 'taken.qcow2');
    await writeFile(file, 'precious data');
    const before = await stat(file);
    await expectAppError(createQcow2(file, GiB), 'ALREADY_EXISTS', /already exists/);
    expect(await readFile(file, 'utf8')).toBe('precious data');
    expect((await stat(file)).mtimeMs).toBe(before.mtimeMs);
  });

  it('removes the partial file when cancelled mid-way', async () => {
    const file = path.join(dir, 'cancel.qcow2');
    const ac = new AbortController();
    const p = createQcow2(file, 64 * GiB, {
      signal: ac.signal,
      onProgress: (pr) => {
        if (pr.fraction > 0) ac.abort();
      },
    });
    await expectAppError(p, 'CANCELLED');
    await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('creates nothing when cancelled before it starts', async () => {
    const file = path.join(dir, 'never.qcow2');
    const ac = new AbortController();
    ac.abort();
    await expectAppError(createQcow2(file, GiB, { signal: ac.signal }), 'CANCELLED');
    await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it.each([0, -512, 1.5, Number.NaN, QCOW2_MAX_VIRTUAL_SIZE + 512])('refuses size %s', async (size) => {
    const file = path.join(dir, 'bad.qcow2');
    await expectAppError(createQcow2(file, size), 'INVALID_ARGUMENT');
    await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('readQcow2Info', () => {
  it('reads an image made by qemu-img, with and without a backing file', async () => {
    const base = path.join(dir, 'base.qcow2');
    const overlay = path.join(dir, 'overlay.qcow2');
    const v2 = path.join(dir, 'v2.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', base, '3G']);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', overlay]);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'compat=0.10,cluster_size=4096', v2, '100M']);
    expect(await readQcow2Info(base)).toEqual({
      version: 3,
      virtualSize: 3 * GiB,
      clusterSize: 65536,
      backingFile: null,
    });
    expect(await readQcow2Info(overlay)).toEqual({
      version: 3,
      virtualSize: 3 * GiB,
      clusterSize: 65536,
      backingFile: 'base.qcow2',
    });
    expect(await readQcow2Info(v2)).toEqual({
      version: 2,
      virtualSize: 100 * MiB,
      clusterSize: 4096,
      backingFile: null,
    });
  });

  it('refuses a file that is not qcow2', async () => {
    const garbage = path.join(dir, 'garbage.bin');
    await writeFile(garbage, Buffer.from('this is certainly not a disk image, just some text'.repeat(100)));
    await expectAppError(readQcow2Info(garbage), 'INVALID_ARGUMENT', /not a usable qcow2 image.*magic/);
    const raw = path.join(dir, 'raw.img');
    execFileSync('qemu-img', ['create', '-q', '-f', 'raw', raw, '1M']);
    await expectAppError(readQcow2Info(raw), 'INVALID_ARGUMENT', /magic/);
    const empty = path.join(dir, 'empty');
    await writeFile(empty, '');
    await expectAppError(readQcow2Info(empty), 'INVALID_ARGUMENT', /magic/);
  });

  it('refuses a truncated image', async () => {
    const good = path.join(dir, 'good.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', good, '64G']);
    const inHeader = path.join(dir, 'cut-header.qcow2');
    await copyFile(good, inHeader);
    await truncate(inHeader, 50);
    await expectAppError(readQcow2Info(inHeader), 'INVALID_ARGUMENT', /truncated/);
    const afterHeader = path.join(dir, 'cut-tables.qcow2');
    await copyFile(good, afterHeader);
    await truncate(afterHeader, 4096);
    await expectAppError(readQcow2Info(afterHeader), 'INVALID_ARGUMENT', /truncated.*L1 table/);
  });

  it('says NOT_FOUND for a missing file', async () => {
    await expectAppError(readQcow2Info(path.join(dir, 'nope.qcow2')), 'NOT_FOUND', /nope\.qcow2/);
  });
});
