// Log rotation at each start (src-node/log-rotation.ts), on real files: each generation moves
// up one, the oldest is dropped, missing logs are skipped.
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rotateLogs } from '../../../src-node/log-rotation';

describe('rotateLogs', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'maru-logs-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps three generations, newest at .1, and skips logs that do not exist', async () => {
    for (let run = 1; run <= 5; run++) {
      await rotateLogs(dir, ['serial.log', 'qemu.log']);
      await writeFile(path.join(dir, 'serial.log'), `run ${run}`);
    }
    expect((await readdir(dir)).sort()).toEqual(['serial.log', 'serial.log.1', 'serial.log.2', 'serial.log.3']);
    const read = (n: string) => readFile(path.join(dir, n), 'utf8');
    expect([await read('serial.log'), await read('serial.log.1'), await read('serial.log.3')]).toEqual([
      'run 5',
      'run 4',
      'run 2',
    ]);
  });
});
