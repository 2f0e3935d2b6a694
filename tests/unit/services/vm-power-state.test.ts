// The library's power states from the engine host's files: running / paused (state.json
// under a live lock), saved (marker), aborted (marker, or a lock whose engine host died), off.
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Library } from '../../../src-main/services/library/library-service';

describe('library power state', () => {
  let home = '';
  let lib: Library;
  let id = '';
  const run = (): string => path.join(home, 'run', id);
  const vm = (): string => path.join(home, 'vms', id);
  const stateOf = async (): Promise<string> => {
    const listed = (await lib.list()).find((e) => e.id === id);
    const shown = (await lib.show(id)).state;
    expect(listed?.kind === 'ok' ? listed.state : null).toBe(shown);
    return shown;
  };

  beforeEach(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'maru-power-'));
    lib = new Library({ maruHome: home, hostLimits: { totalMemoryBytes: 8 * 2 ** 30, cores: 4 } });
    id = (await lib.create({ name: 'vm', os: 'linux32', diskGiB: 0 })).vm.config.id;
  });
  afterEach(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('is off, then saved or aborted by marker (saved wins)', async () => {
    expect(await stateOf()).toBe('off');
    await writeFile(path.join(vm(), 'aborted'), JSON.stringify({ at: 'x', reason: 'QEMU was killed', logs: [] }));
    expect(await stateOf()).toBe('aborted');
    await writeFile(path.join(vm(), 'saved-state'), '{}');
    expect(await stateOf()).toBe('saved');
  });

  it('is running or paused under a live lock, as state.json says; paused VMs cannot be modified', async () => {
    await mkdir(run(), { recursive: true });
    await writeFile(path.join(run(), 'lock'), JSON.stringify({ pid: process.pid, startedAt: 'now' }));
    expect(await stateOf()).toBe('running');
    await writeFile(path.join(run(), 'state.json'), JSON.stringify({ state: 'paused' }));
    expect(await stateOf()).toBe('paused');
    await expect(lib.modify(id, { cpus: 2 })).rejects.toMatchObject({
      code: 'BUSY',
      message: expect.stringMatching(/is paused/),
    });
    await writeFile(path.join(run(), 'state.json'), '{"sta');
    expect(await stateOf()).toBe('running');
  });

  it('is aborted when the lock names a dead engine host', async () => {
    const dead = Number(
      spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout,
    );
    await mkdir(run(), { recursive: true });
    await writeFile(path.join(run(), 'lock'), JSON.stringify({ pid: dead, startedAt: 'then' }));
    expect(await stateOf()).toBe('aborted');
    await expect(lib.modify(id, { cpus: 2 })).resolves.toBeDefined();
  });
});
