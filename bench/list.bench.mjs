// `maru list` with 500 VMs: wall time of the real CLI process (node dist/cli/maru.js list
// --json) against a bare Node process that only reads and JSON-parses the same 500 files.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const description = '`maru list --json` with 500 VMs (process wall time, ms)';
export const baselineDescription =
  'a bare `node` process that reads and JSON.parses the same 500 vm.json files (no validation, no output formatting)';

const COUNT = 500;
const RUNS = 15;

function time(cmd, args, env) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', maxBuffer: 64 << 20 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return { ms, stdout: r.stdout };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
function p95(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(s.length * 0.95) - 1)];
}

export async function run() {
  const home = mkdtempSync(path.join(os.tmpdir(), 'maru-bench-list-'));
  const env = { ...process.env, MARU_HOME: home };
  try {
    // Build the library with the real service (each VM gets a real, sparse qcow2 disk).
    const { Library } = await import('./lib/library-for-bench.mjs');
    const lib = await Library(home);
    const presets = ['linux64', 'linux32', 'dos', 'windows98', 'windowsxp', 'other'];
    for (let i = 0; i < COUNT; i++) {
      await lib.create({ name: `bench-vm-${String(i).padStart(3, '0')}`, os: presets[i % presets.length], diskGiB: 1 });
    }
    const maru = [];
    const base = [];
    const baselineScript =
      "const fs=require('fs'),p=require('path');const d=p.join(process.env.MARU_HOME,'vms');const out=[];" +
      "for(const v of fs.readdirSync(d)){out.push(JSON.parse(fs.readFileSync(p.join(d,v,'vm.json'),'utf8')).name)}" +
      'process.stdout.write(JSON.stringify(out))';
    // Warm the page cache once, then interleave the two so both see the same machine state.
    time(process.execPath, ['dist/cli/maru.js', 'list', '--json'], env);
    for (let i = 0; i < RUNS; i++) {
      const m = time(process.execPath, ['dist/cli/maru.js', 'list', '--json'], env);
      const listed = JSON.parse(m.stdout);
      if (listed.length !== COUNT) throw new Error(`maru list returned ${listed.length} VMs, expected ${COUNT}`);
      maru.push(m.ms);
      base.push(time(process.execPath, ['-e', baselineScript], env).ms);
    }
    const vmDirs = readdirSync(path.join(home, 'vms')).length;
    return {
      rows: [
        {
          metric: `list ${COUNT} VMs, median of ${RUNS}`,
          value: Number(median(maru).toFixed(1)),
          baseline: Number(median(base).toFixed(1)),
          unit: 'ms',
          goalText: '≤ 300 ms',
          goal: (r) => r.value <= 300,
        },
        {
          metric: `list ${COUNT} VMs, p95 of ${RUNS}`,
          value: Number(p95(maru).toFixed(1)),
          baseline: Number(p95(base).toFixed(1)),
          unit: 'ms',
        },
      ],
      notes: `${vmDirs} VM folders; times include Node start-up (${process.version}).`,
    };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
