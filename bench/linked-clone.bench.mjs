// Linked clones and making a trial independent: `maru clone VM NAME --linked` of a VM with a
// 64 GiB disk (sparse, 1 GiB written), and `maru try --keep` of a powered-off trial (qemu-img
// rebase pulling the base into the overlay) against `qemu-img convert` of the same chain to a
// new file — the raw tool's own way of making an independent copy — in the same run.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { maru, median } from './lib/boot-bench-util.mjs';

export const description =
  'Linked clone of a 64 GiB disk (s), and flattening a trial (MB/s) vs qemu-img convert of the same chain';
export const baselineDescription =
  'clone: none (the goal is absolute, ≤ 1 s); flattening: `qemu-img convert -O qcow2` of the trial overlay (reading ' +
  'through its base) into a new file, timed the same way, one job at a time';

const RUNS = Number(process.env.MARU_BENCH_LINKED_RUNS ?? 3);
const WRITTEN_MIB = Number(process.env.MARU_BENCH_LINKED_WRITTEN_MIB ?? 1024);

function tool(bin, args) {
  const r = spawnSync(bin, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

export async function run() {
  const home = mkdtempSync(path.join(os.tmpdir(), 'maru-bench-linked-'));
  const env = { ...process.env, MARU_HOME: home };
  try {
    const created = JSON.parse(
      maru(
        ['create', '--name', 'big', '--os', 'linux64', '--engine', 'qemu', '--memory', '256', '--disk', '64', '--json'],
        env,
      ),
    );
    const disk = created.vm.disks[0].path;
    maru(['host'], env); // warm-up: the host probe (where qemu-img is) is cached from now on
    // 1 GiB of real data (non-zero), written through QEMU's qcow2 driver.
    tool('qemu-io', ['-f', 'qcow2', '-c', `write -P 0x5a 0 ${WRITTEN_MIB}M`, disk]);
    const cloneTimes = [];
    const flattenMbps = [];
    const convertMbps = [];
    for (let i = 0; i < RUNS; i++) {
      let t0 = process.hrtime.bigint();
      maru(['clone', 'big', `linked-${i}`, '--linked', '--json'], env);
      cloneTimes.push(Number(process.hrtime.bigint() - t0) / 1e9);
      maru(['delete', `linked-${i}`, '--delete-disks'], env);
      // A trial (running), its chain copied by qemu-img convert, then kept (QEMU block-stream live).
      const trial = JSON.parse(maru(['try', 'big', '--json'], env));
      const overlay = JSON.parse(maru(['show', trial.trialId, '--json'], env)).disks[0].path;
      const out = path.join(home, `convert-${i}.qcow2`);
      t0 = process.hrtime.bigint();
      tool('qemu-img', ['convert', '-U', '-f', 'qcow2', '-O', 'qcow2', overlay, out]);
      convertMbps.push(WRITTEN_MIB / (Number(process.hrtime.bigint() - t0) / 1e9));
      rmSync(out, { force: true });
      t0 = process.hrtime.bigint();
      maru(['try', trial.trialId, '--keep', '--json'], env);
      flattenMbps.push(WRITTEN_MIB / (Number(process.hrtime.bigint() - t0) / 1e9));
      maru(['stop', trial.trialId, '--force'], env);
      maru(['delete', trial.trialId, '--delete-disks'], env);
    }
    const r2 = (x) => Number(x.toFixed(2));
    return {
      rows: [
        {
          metric: `linked clone of a 64 GiB disk (${WRITTEN_MIB} MiB written), CLI wall time, median of ${RUNS}`,
          value: r2(median(cloneTimes)),
          baseline: null,
          unit: 's',
          goalText: '≤ 1 s',
          goal: (r) => r.value <= 1,
        },
        {
          metric: `making a running trial independent (maru try --keep: block-stream), median of ${RUNS}`,
          value: Math.round(median(flattenMbps)),
          baseline: Math.round(median(convertMbps)),
          unit: 'MB/s',
        },
      ],
      details: { cloneTimes, flattenMbps, convertMbps },
    };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
