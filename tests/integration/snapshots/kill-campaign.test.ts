// kill -9 campaign on snapshots (QEMU): QEMU or the engine host is killed at a random moment
// of a take, a restore or a delete (and the CLI during a linked clone), ROUNDS times each (default 10; `bench/snapshot-kill-campaign.mjs`
// runs more). After each kill the next look at the VM finishes or undoes the operation: the
// tree and the images agree (every snapshot's tag in the disk, no stray tag), qemu-img check
// finds no corruption, and at the end every snapshot left still restores its own RAM marker.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createControlServices, type ControlHost } from '../../../src-main/services/control-services';
import { readRunStatus } from '../../../src-node/run-folder';
import { canRun, ensureBuilt, imageCheckCounts, MEDIA, snapshotTags } from '../qemu/qemu-test-kit';

const ROUNDS = Number(process.env['MARU_KILL_CAMPAIGN_ROUNDS'] ?? 10);
const SEED = Number(process.env['MARU_KILL_CAMPAIGN_SEED'] ?? 20261203);

let home: string;
let host: ControlHost;
let id: string;
let disk: string;

/** A small deterministic PRNG (mulberry32): the same seed, the same kill moments. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function until<T>(what: string, fn: () => Promise<T | null> | T | null, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== null) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function qemuPid(): number | null {
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'latin1');
      if (cmd.startsWith('qemu-system') || cmd.includes('/qemu-system')) {
        if (cmd.includes(id)) return Number(p);
      }
    } catch {
      // gone meanwhile
    }
  }
  return null;
}

async function markIs(expected: string): Promise<void> {
  const log = (await host.services.vm.status(id))!.serialLog!;
  const from = existsSync(log) ? readFileSync(log, 'latin1').length : 0;
  await host.services.vm.sendSerial(id, 'mark?');
  const got = await until(
    'MARU-MARK',
    () => /MARU-MARK=(\S*)/.exec(readFileSync(log, 'latin1').slice(from))?.[1] ?? null,
    30_000,
  );
  expect(got).toBe(expected);
}

async function setMark(value: string): Promise<void> {
  const log = (await host.services.vm.status(id))!.serialLog!;
  const from = existsSync(log) ? readFileSync(log, 'latin1').length : 0;
  // A guest that cold-booted after a kill reads its serial port only once booted: a line sent
  // before then is lost, so it is sent again (mark=X is idempotent) until the echo comes.
  let sentAt = 0;
  await until('echo', async () => {
    if (readFileSync(log, 'latin1').slice(from).includes(`MARU-ECHO:mark=${value}`)) return true;
    if (Date.now() - sentAt > 5_000) {
      sentAt = Date.now();
      await host.services.vm.sendSerial(id, `mark=${value}`);
    }
    return null;
  });
}

beforeAll(async () => {
  if (!canRun) return;
  ensureBuilt();
  home = mkdtempSync(path.join(os.tmpdir(), 'maru-kill-'));
  host = createControlServices({ maruHome: home, env: { ...process.env, MARU_HOME: home } });
  const created = await host.services.library.create({
    name: 'victim',
    os: 'linux32',
    engine: 'qemu',
    cpus: 1,
    memoryMiB: 128,
    diskGiB: 1,
    iso: MEDIA.i386,
  });
  id = created.vm.config.id;
  disk = created.vm.disks[0]!.path;
  const r = await host.services.vm.start(id);
  await until('MARU-READY', () => (readFileSync(r.status.serialLog!, 'latin1').includes('MARU-READY') ? true : null));
  await setMark('base');
  await host.services.snapshots.take(id, { name: 'base' });
}, 180_000);

afterAll(async () => {
  if (!host) return;
  await host.services.vm.stop(id, { force: true }).catch(() => undefined);
  host.dispose();
  rmSync(home, { recursive: true, force: true });
});

it.skipIf(!canRun)(
  `kill -9 of QEMU or the engine host during take, restore and delete (${ROUNDS} each) never leaves the tree and images apart`,
  async () => {
    const random = prng(SEED);
    const s = host.services.snapshots;
    const counts: Record<string, number> = {};
    const count = (k: string): void => void (counts[k] = (counts[k] ?? 0) + 1);
    const ops = ['take', 'restore', 'delete'] as const;
    // How long each operation takes here, unkilled: the kills land uniformly within that span.
    const span: Record<(typeof ops)[number], number> = { take: 0, restore: 0, delete: 0 };
    let t0 = Date.now();
    const probe = await s.take(id, { name: 'probe' });
    span.take = Date.now() - t0;
    t0 = Date.now();
    await s.restore(id, 'base');
    span.restore = Date.now() - t0;
    t0 = Date.now();
    await s.delete(id, probe.id);
    span.delete = Date.now() - t0;
    for (let round = 0; round < ROUNDS * ops.length; round++) {
      const op = ops[round % ops.length]!;
      const target = Math.floor(round / ops.length) % 2 === 0 ? 'qemu' : 'engine-host';
      // A running VM at a known snapshot: resume the newest snapshot left if it is not running.
      let vm = await host.services.library.show(id);
      if (vm.state !== 'running') {
        const tree = await s.list(id);
        if (vm.state !== 'saved') await s.restore(id, tree.snapshots.at(-1)!.id);
        await host.services.vm.start(id);
      }
      let victim: string | null = null;
      if (op === 'delete') {
        await setMark(`d${round}`);
        victim = (await s.take(id, { name: `d${round}` })).id;
      } else if (op === 'take') {
        await setMark(`t${round}`);
      }
      const run =
        op === 'take'
          ? s.take(id, { name: `t${round}` })
          : op === 'restore'
            ? s.restore(id, 'base')
            : s.delete(id, victim!);
      const settled = run.then(
        () => 'finished',
        (err: unknown) => `failed: ${(err as Error).message}`,
      );
      await new Promise((r) => setTimeout(r, Math.floor(random() * span[op])));
      const pid = target === 'qemu' ? qemuPid() : (readRunStatus(home, id).lock?.pid ?? null);
      if (pid) process.kill(pid, 'SIGKILL');
      const outcome = await settled;
      count(`${op} / ${target}: ${outcome === 'finished' ? 'finished before the kill' : 'cut short'}`);
      // The kill ends the run one way or another (a killed QEMU takes its engine host with it).
      vm = await until('the run to end', async () => {
        const v = await host.services.library.show(id);
        return v.state === 'running' || v.state === 'paused' ? (pid ? null : v) : v;
      });
      // The next look finishes or undoes what was cut short.
      const tree = await s.list(id);
      expect(tree.damaged).toBeNull();
      if (tree.recovered) count(`recovered: ${tree.recovered.replace(/"[^"]*"/g, 'S').replace(/\(.*\)/, '')}`);
      expect(
        snapshotTags(disk)
          .filter((t) => t.startsWith('maru-snap-'))
          .sort(),
      ).toEqual(tree.snapshots.map((x) => `maru-snap-${x.id}`).sort());
      expect(imageCheckCounts(disk).errors).toBe(0);
      expect(tree.snapshots.some((x) => x.name === 'base')).toBe(true);
    }
    // Every snapshot left restores its own RAM marker.
    const left = (await s.list(id)).snapshots;
    for (const snap of left) {
      const vm = await host.services.library.show(id);
      if (vm.state === 'running' || vm.state === 'paused') await host.services.vm.stop(id, { force: true });
      await s.restore(id, snap.id);
      await host.services.vm.start(id);
      await markIs(snap.name);
      count('snapshots restored at the end');
    }
    await host.services.vm.stop(id, { force: true });
    expect(imageCheckCounts(disk)).toEqual({ errors: 0, leaks: expect.any(Number) as number });
    console.log(
      `kill campaign (seed ${SEED}, ${ROUNDS} rounds per operation; unkilled take ${span.take} ms, ` +
        `restore ${span.restore} ms, delete ${span.delete} ms):\n${JSON.stringify(counts, null, 2)}`,
    );
  },
  30 * 60_000,
);

it.skipIf(!canRun || !existsSync('/usr/bin/qemu-io'))(
  `kill -9 of \`maru clone --linked\` at random moments (${ROUNDS} times) leaves the source and every listed clone whole`,
  async () => {
    const random = prng(SEED + 1);
    const src = await host.services.library.create({ name: 'lc-src', os: 'linux64', engine: 'qemu', diskGiB: 64 });
    const srcDisk = src.vm.disks[0]!.path;
    expect(spawnSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x77 0 4M', srcDisk]).status).toBe(0);
    const cli = path.resolve('dist/cli/maru.js');
    const env = { ...process.env, MARU_HOME: home };
    // How long one takes here, unkilled.
    const t0 = Date.now();
    expect(spawnSync(process.execPath, [cli, 'clone', 'lc-src', 'lc-probe', '--linked'], { env }).status).toBe(0);
    const span = Date.now() - t0;
    const readsSource = (image: string): boolean => {
      const r = spawnSync('qemu-io', ['-f', 'qcow2', '-r', '-c', 'read -P 0x77 0 4M', image], { encoding: 'utf8' });
      return r.status === 0 && !/verification failed|Could not/i.test(r.stdout + r.stderr);
    };
    let cut = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const child = spawn(process.execPath, [cli, 'clone', 'lc-src', `lc-${round}`, '--linked'], {
        env,
        stdio: 'ignore',
      });
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      await new Promise((r) => setTimeout(r, Math.floor(random() * span)));
      child.kill('SIGKILL');
      if ((await exited) !== 0) cut++;
      // The source still reads its data and is a clean image; every clone the library lists works.
      expect(imageCheckCounts(srcDisk).errors).toBe(0);
      expect(readsSource(srcDisk)).toBe(true);
      for (const v of await host.services.library.list()) {
        if (v.kind !== 'ok' || !v.name.startsWith('lc-') || v.name === 'lc-src') continue;
        const d = (await host.services.library.show(v.id)).disks[0]!.path;
        expect(imageCheckCounts(d).errors).toBe(0);
        expect(readsSource(d)).toBe(true);
      }
    }
    console.log(`linked clone kill campaign: ${ROUNDS} rounds, ${cut} cut short (unkilled ${span} ms)`);
  },
  10 * 60_000,
);
