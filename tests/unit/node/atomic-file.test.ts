// Atomic files (src-node/atomic-file.ts), on real files: a replace leaves the new content and
// no temporary file; a write that fails (the target is a folder, the data cannot be written)
// leaves the old content and no temporary file; JSON round trips and tolerant reads.
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fsyncFolder, readJsonSync, writeFileAtomic, writeJsonAtomic } from '../../../src-node/atomic-file';

describe('atomic files', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'maru-atomic-'));
  });
  afterEach(async () => {
    await chmod(dir, 0o700).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  it('replaces a file whole, with the mode asked for a new one, and leaves no temporary file', async () => {
    const file = path.join(dir, 'vm.json');
    await writeFile(file, 'old');
    await writeFileAtomic(file, 'new content');
    expect(await readFile(file, 'utf8')).toBe('new content');
    await writeFileAtomic(path.join(dir, 'secret'), new Uint8Array([1, 2, 3]), { mode: 0o600 });
    expect((await stat(path.join(dir, 'secret'))).mode & 0o777).toBe(0o600);
    expect((await readdir(dir)).sort()).toEqual(['secret', 'vm.json']);
  });

  it('keeps the old content and removes the temporary file when the rename fails (target is a folder)', async () => {
    const target = path.join(dir, 'state.json');
    await mkdir(target);
    await writeFile(path.join(target, 'inside'), 'keep me');
    await expect(writeFileAtomic(target, '{"x":1}')).rejects.toMatchObject({
      code: expect.stringMatching(/EISDIR|ENOTEMPTY|EEXIST/),
    });
    expect(await readFile(path.join(target, 'inside'), 'utf8')).toBe('keep me');
    expect(await readdir(dir)).toEqual(['state.json']);
  });

  it('removes the temporary file when the data cannot be written', async () => {
    const file = path.join(dir, 'launch.json');
    await writeFile(file, 'old');
    // A value that fails while being written (not before the temporary file exists).
    const poisoned = { [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new Error('disk on fire')) }) };
    await expect(writeFileAtomic(file, poisoned as unknown as Uint8Array)).rejects.toThrow();
    expect(await readFile(file, 'utf8')).toBe('old');
    expect(await readdir(dir)).toEqual(['launch.json']);
  });

  // Root writes into a read-only folder anyway: nothing to refuse there.
  it.skipIf(process.getuid?.() === 0)('keeps the old content when the folder cannot take a new file', async () => {
    const file = path.join(dir, 'x.json');
    await writeFile(file, 'old');
    await chmod(dir, 0o500);
    await expect(writeFileAtomic(file, 'new')).rejects.toMatchObject({ code: 'EACCES' });
    expect(await readFile(file, 'utf8')).toBe('old');
  });

  it('writes JSON privately and reads it back; missing or half-written JSON reads as null', async () => {
    const file = path.join(dir, 'state.json');
    await writeJsonAtomic(file, { state: 'running', pid: 12 });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readFile(file, 'utf8')).toBe('{\n  "state": "running",\n  "pid": 12\n}\n');
    expect(readJsonSync<{ state: string }>(file)).toEqual({ state: 'running', pid: 12 });
    expect(readJsonSync(path.join(dir, 'none.json'))).toBeNull();
    expect(readJsonSync(path.join(file, 'below-a-file.json'))).toBeNull();
    await writeFile(file, '{"state": "runn');
    expect(readJsonSync(file)).toBeNull();
    await fsyncFolder(dir);
  });
});
