// Linked clones and "try it on a copy" (real QEMU, real images): the clone reads the source's
// data through a frozen base that nobody writes again, boots, and writes only its own overlay;
// the source cannot be deleted while clones read its disks; a trial is started, discarded
// (gone with its disks) or kept (made independent while it runs, by QEMU's block-stream).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createControlServices, type ControlHost } from '../../../src-main/services/control-services';
import { canRun, ensureBuilt, imageCheckCounts, MEDIA } from '../qemu/qemu-test-kit';

function qemuIo(image: string, command: string): { code: number | null; out: string } {
  const r = spawnSync('qemu-io', ['-f', 'qcow2', '-c', command, image], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
}
function info(image: string): { 'backing-filename'?: string } {
  return JSON.parse(spawnSync('qemu-img', ['info', '-U', '--output=json', image], { encoding: 'utf8' }).stdout) as {
    'backing-filename'?: string;
  };
}
const sha = (f: string): string => createHash('sha256').update(readFileSync(f)).digest('hex');

describe.skipIf(!canRun || !existsSync('/usr/bin/qemu-io'))('linked clones and trials (QEMU)', () => {
  let home: string;
  let host: ControlHost;
  let srcId: string;
  let srcDisk: string;

  async function running(id: string): Promise<void> {
    const log = (await host.services.vm.status(id))!.serialLog!;
    const end = Date.now() + 180_000;
    while (!(existsSync(log) && readFileSync(log, 'latin1').includes('MARU-READY'))) {
      if (Date.now() > end) throw new Error('no MARU-READY');
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  beforeAll(async () => {
    ensureBuilt();
    home = mkdtempSync(path.join(os.tmpdir(), 'maru-linked-'));
    host = createControlServices({ maruHome: home, env: { ...process.env, MARU_HOME: home } });
    const created = await host.services.library.create({
      name: 'server',
      os: 'linux32',
      engine: 'qemu',
      cpus: 1,
      memoryMiB: 256,
      diskGiB: 64,
      iso: MEDIA.i386,
    });
    srcId = created.vm.config.id;
    srcDisk = created.vm.disks[0]!.path;
    expect(qemuIo(srcDisk, 'write -P 0xab 1M 64k').code).toBe(0);
  }, 120_000);

  afterAll(async () => {
    for (const v of await host.services.library.list()) {
      if (v.kind === 'ok') await host.services.vm.stop(v.id, { force: true }).catch(() => undefined);
    }
    host.dispose();
    rmSync(home, { recursive: true, force: true });
  });

  it('a linked clone of a 64 GiB disk is made at once, reads the source data, writes only its own overlay', async () => {
    const t0 = Date.now();
    const clone = await host.services.library.linkedClone(srcId, 'server-linked');
    const took = Date.now() - t0;
    expect(took).toBeLessThan(10_000); // the figure itself is measured in bench/linked-clone.bench.mjs
    expect(clone.config.linkedClone).toEqual({ sourceId: srcId, trial: false });
    const cloneDisk = clone.disks[0]!.path;
    const base = readdirSync(path.dirname(srcDisk)).find((f) => f.includes('.base-'))!;
    const basePath = path.join(path.dirname(srcDisk), base);
    expect(info(cloneDisk)['backing-filename']).toBe(basePath);
    expect(info(srcDisk)['backing-filename']).toBe(base);
    const baseHash = sha(basePath);
    // Both see the source's data; each writes its own overlay.
    expect(qemuIo(cloneDisk, 'read -P 0xab 1M 64k').out).not.toMatch(/Pattern verification failed/);
    expect(qemuIo(cloneDisk, 'write -P 0xcd 1M 64k').code).toBe(0);
    expect(qemuIo(srcDisk, 'read -P 0xab 1M 64k').out).not.toMatch(/Pattern verification failed/);
    // It boots.
    await host.services.vm.start(clone.config.id);
    await running(clone.config.id);
    await host.services.vm.stop(clone.config.id, { force: true });
    expect(sha(basePath)).toBe(baseHash);
    expect(imageCheckCounts(cloneDisk)).toEqual({ errors: 0, leaks: 0 });
    // The source cannot go while the clone reads its base.
    await expect(host.services.library.delete(srcId, { deleteDisks: true })).rejects.toThrow(/has linked clones/);
  }, 300_000);

  it('try it on a copy: discard removes the trial; keep makes it independent while it runs', async () => {
    const first = await host.services.snapshots.tryCopy(srcId);
    expect(first.trialName).toBe('server (trial)');
    expect((await host.services.library.show(first.trialId)).state).toBe('running');
    const discarded = await host.services.snapshots.endTrial(srcId, { keep: false });
    expect(discarded).toMatchObject({ trialId: first.trialId, outcome: 'discarded' });
    expect((await host.services.library.list()).some((v) => v.id === first.trialId)).toBe(false);

    const second = await host.services.snapshots.tryCopy('server');
    await running(second.trialId);
    const kept = await host.services.snapshots.endTrial(second.trialId, { keep: true });
    expect(kept.outcome).toBe('kept');
    const vm = await host.services.library.show(second.trialId);
    expect(vm.config.linkedClone).toBeUndefined();
    expect(vm.state).toBe('running');
    expect(info(vm.disks[0]!.path)['backing-filename']).toBeUndefined();
    await host.services.vm.stop(second.trialId, { force: true });
    expect(imageCheckCounts(vm.disks[0]!.path)).toEqual({ errors: 0, leaks: 0 });
    expect(qemuIo(vm.disks[0]!.path, 'read -P 0xab 1M 64k').out).not.toMatch(/Pattern verification failed/);
  }, 300_000);
});
