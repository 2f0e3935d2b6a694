// Presence of files (src-node/file-presence.ts) in a real temp folder: a path that is there or
// not, and a new file that never replaces an existing one (its content is kept).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createNewFile, pathExists } from '../../../src-node/file-presence';

describe('file presence', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'maru-presence-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('tells a path that exists from one that does not', async () => {
    await writeFile(path.join(dir, 'a'), 'x');
    expect(await pathExists(path.join(dir, 'a'))).toBe(true);
    expect(await pathExists(dir)).toBe(true);
    expect(await pathExists(path.join(dir, 'missing'))).toBe(false);
  });

  it('creates a new file, and refuses an existing one without touching it', async () => {
    const file = path.join(dir, 'disk.img');
    const fh = await createNewFile(file, 'never overwritten.');
    await fh.writeFile('new');
    await fh.close();
    await expect(createNewFile(file, 'never overwritten.')).rejects.toMatchObject({
      code: 'ALREADY_EXISTS',
      message: `${file} already exists; never overwritten.`,
    });
    expect(await readFile(file, 'utf8')).toBe('new');
    await expect(createNewFile(path.join(dir, 'no', 'such', 'folder'), 'x')).rejects.toMatchObject({ code: 'IO' });
  });
});
