// A disk that fills up during a live snapshot (real QEMU, TCG): $MARU_HOME on a 700 MiB tmpfs,
// a guest whose RAM no longer fits in what is left. The take fails with the figures and what
// to do, the guest is kept paused, the tree and the image are as before, and once space is
// freed the guest resumes with its RAM intact, the snapshot can be taken, the earlier one
// restores, and `qemu-img check` finds nothing wrong. Mounting a tmpfs needs root (CI is).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createControlServices, type ControlHost } from '../../../src-main/services/control-services';
import { canRun, ensureBuilt, imageCheckCounts, MEDIA, snapshotTags } from '../qemu/qemu-test-kit';

const isRoot = process.getuid?.() === 0;
const MiB = 2 ** 20;

describe.skipIf(!canRun || !isRoot)('a disk that fills up during a snapshot (real QEMU, tmpfs)', () => {
  let mount: string;
  let host: ControlHost;
  let id: string;
  let disk: string;
  let serialLog: string;
  let at = 0;
  const ballast = (): string => path.join(mount, 'ballast');
  const s = () => host.services;

  async function answer(command: string, re: RegExp): Promise<string> {
    await s().vm.sendSerial(id, command);
    const end = Date.now() + 60_000;
    for (;;) {
      const text = readFileSync(serialLog, 'latin1');
      const m = re.exec(text.slice(at));
      if (m) {
        at += m.index + m[0].length;
        return m[1] ?? m[0];
      }
      if (Date.now() > end) throw new Error(`no ${re} after "${command}"`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  beforeAll(async () => {
    ensureBuilt();
    mount = mkdtempSync(path.join(os.tmpdir(), 'maru-full-'));
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=700m,mode=0700', 'tmpfs', mount], { encoding: 'utf8' });
    if (m.status !== 0) throw new Error(`cannot mount a tmpfs: ${m.stderr}`);
    const home = path.join(mount, 'home');
    host = createControlServices({ maruHome: home, env: { ...process.env, MARU_HOME: home } });
    const created = await s().library.create({
      name: 'full',
      os: 'linux64',
      engine: 'qemu',
      cpus: 1,
      memoryMiB: 512,
      diskGiB: 1,
      iso: MEDIA.biosUefi,
    });
    id = created.vm.config.id;
    disk = created.vm.disks[0]!.path;
    serialLog = (await s().vm.start(id)).status.serialLog!;
    const end = Date.now() + 180_000;
    while (!(existsSync(serialLog) && readFileSync(serialLog, 'latin1').includes('MARU-READY'))) {
      if (Date.now() > end) throw new Error('no MARU-READY');
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 240_000);

  afterAll(async () => {
    await host?.services.vm.stop(id, { force: true }).catch(() => undefined);
    host?.dispose();
    spawnSync('umount', ['-l', mount]);
    rmSync(mount, { recursive: true, force: true });
  });

  it('fails the take with the figures, keeps the guest paused, loses nothing, and works once space is freed', async () => {
    await answer('mark=before', /MARU-ECHO:mark=before/);
    const a = await s().snapshots.take(id, { name: 'A' });
    // 160 MiB of RAM the guest fills; then leave the tmpfs 60 MiB: the state cannot fit.
    expect(await answer('fill=160', /MARU-FILLED=(\d+)/)).toBe('160');
    await answer('mark=after', /MARU-ECHO:mark=after/);
    const free = statfsSync(mount);
    writeFileSync(ballast(), Buffer.alloc(Math.max(0, free.bavail * free.bsize - 60 * MiB)));

    const failed = await s()
      .snapshots.take(id, { name: 'B' })
      .catch((e: unknown) => e);
    expect(failed).toMatchObject({ code: 'HOST_LIMIT' });
    expect((failed as Error).message).toMatch(/filled up while taking the snapshot \(\d+ MiB free now\)/);
    expect((failed as Error).message).toMatch(/nothing was lost.*VM is paused.*Free some space/s);

    // Paused; the tree and the image hold A only; nothing is corrupt.
    expect((await s().vm.status(id))?.state).toBe('paused');
    const tree = await s().snapshots.list(id);
    expect(tree.snapshots.map((x) => x.name)).toEqual(['A']);
    expect(tree.currentId).toBe(a.id);
    expect(tree.problems).toEqual([]);
    expect(snapshotTags(disk)).toEqual([`maru-snap-${a.id}`]);
    expect(imageCheckCounts(disk).errors).toBe(0);

    // Space freed: the guest goes on where it was, the snapshot is taken, A still restores.
    rmSync(ballast());
    await s().vm.resume(id);
    expect(await answer('mark?', /MARU-MARK=(\S*)/)).toBe('after');
    const b = await s().snapshots.take(id, { name: 'B' });
    expect((await s().snapshots.list(id)).snapshots.map((x) => x.id)).toEqual([a.id, b.id]);
    await s().snapshots.restore(id, a.id);
    expect(await answer('mark?', /MARU-MARK=(\S*)/)).toBe('before');
    await s().snapshots.restore(id, b.id);
    expect(await answer('mark?', /MARU-MARK=(\S*)/)).toBe('after');

    await s().vm.stop(id, { force: true });
    expect(imageCheckCounts(disk)).toEqual({ errors: 0, leaks: 0 });
  }, 300_000);
});
