// Boot to the serial marker on the QEMU engine: `maru start VM --headless` (CLI process →
// detached engine host → qemu, QMP, serial socket) against the very same qemu command line
// run raw (taken from the engine host's logs/qemu-command.json), same image, interleaved;
// plus the engine host's own memory (RSS of the node process, qemu not included).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { maru, median, waitForMarker } from './lib/boot-bench-util.mjs';

export const description = 'QEMU (TCG) BIOS boot of maru-test-bios-uefi.iso to MARU-BOOT-OK on serial (wall time, s)';
export const baselineDescription =
  'the same qemu-system-x86_64 command line the engine host ran (logs/qemu-command.json: same sockets, serial log, ' +
  'disk and ISO), spawned directly, timed from spawn to the marker in the serial log';

const ISO = path.resolve('tests/fixtures/build/maru-test-bios-uefi.iso');
const MARKER = 'MARU-BOOT-OK';
const RUNS = Number(process.env.MARU_BENCH_QEMU_RUNS ?? 5);
const TIMEOUT_MS = 180_000;
const VM = 'bench-qemu';

/** Resident and peak resident memory of a process, in MiB (Linux /proc). */
function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

async function bootMaru(env, vmFolder, runFolder) {
  const serialLog = path.join(vmFolder, 'logs', 'serial.log');
  rmSync(serialLog, { force: true }); // any serial.log seen from now on is this run's
  const t0 = Date.now();
  const start = spawn(process.execPath, ['dist/cli/maru.js', 'start', VM, '--headless'], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  start.stderr.on('data', (d) => (err += d));
  const started = new Promise((resolve, reject) =>
    start.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`maru start failed: ${err}`)))),
  );
  const ms = await waitForMarker(serialLog, MARKER, t0, TIMEOUT_MS, 20);
  await started;
  // When the engine host had qemu running: the part of the boot time Maru adds before QEMU runs.
  const hostLog = readFileSync(path.join(vmFolder, 'logs', 'engine-host.log'), 'utf8');
  const spawned = /^(\S+) qemu started, pid (\d+)/m.exec(hostLog);
  const overheadMs = spawned ? Date.parse(spawned[1]) - t0 : NaN;
  const hostPid = JSON.parse(readFileSync(path.join(runFolder, 'lock'), 'utf8')).pid;
  const host = memoryOf(hostPid);
  // The engine host logs qemu's pid (state.json keeps it only in the engine's opaque recovery record).
  const qemu = spawned ? memoryOf(Number(spawned[2])) : null;
  maru(['stop', VM, '--force'], env);
  return { s: ms / 1000, host, qemu, overheadMs };
}

async function bootRaw(command, vmFolder, runFolder) {
  const serialLog = path.join(vmFolder, 'logs', 'serial.log');
  rmSync(serialLog, { force: true });
  mkdirSync(runFolder, { recursive: true, mode: 0o700 });
  const t0 = Date.now();
  const child = spawn(command.binary, command.argv, { stdio: 'ignore' });
  const exited = new Promise((r) => child.once('exit', r));
  try {
    return (await waitForMarker(serialLog, MARKER, t0, TIMEOUT_MS, 20)) / 1000;
  } finally {
    child.kill('SIGTERM');
    await exited;
    rmSync(runFolder, { recursive: true, force: true });
  }
}

export async function run() {
  if (!existsSync(ISO)) throw new Error(`${ISO} is missing: run scripts/build-fixtures.sh`);
  const home = mkdtempSync(path.join(os.tmpdir(), 'maru-bench-qemu-'));
  const env = { ...process.env, MARU_HOME: home };
  try {
    const created = JSON.parse(
      maru(
        ['create', '--name', VM, '--os', 'linux64', '--engine', 'qemu', '--firmware', 'bios', '--cpus', '1', '--memory', '256', '--disk', '1', '--iso', ISO, '--json'],
        env,
      ),
    ); // prettier-ignore
    const id = created.vm.config.id;
    const vmFolder = path.join(home, 'vms', id);
    const runFolder = path.join(home, 'run', id);
    // Warm-up: probe cache, page cache, and the command line to rerun raw.
    maru(['host'], env);
    await bootMaru(env, vmFolder, runFolder);
    const command = JSON.parse(readFileSync(path.join(vmFolder, 'logs', 'qemu-command.json'), 'utf8'));
    await bootRaw(command, vmFolder, runFolder);

    const maruTimes = [];
    const rawTimes = [];
    const hostRss = [];
    const hostHwm = [];
    const qemuRss = [];
    const overheads = [];
    for (let i = 0; i < RUNS; i++) {
      const m = await bootMaru(env, vmFolder, runFolder);
      maruTimes.push(m.s);
      hostRss.push(m.host.rss);
      hostHwm.push(m.host.hwm);
      if (m.qemu) qemuRss.push(m.qemu.rss);
      overheads.push(m.overheadMs);
      rawTimes.push(await bootRaw(command, vmFolder, runFolder));
    }
    const r1 = (x) => Number(x.toFixed(1));
    const r2 = (x) => Number(x.toFixed(2));
    return {
      rows: [
        {
          metric: `boot to ${MARKER}, median of ${RUNS}`,
          value: r2(median(maruTimes)),
          baseline: r2(median(rawTimes)),
          unit: 's',
          goalText: 'ratio ≤ 1.05',
          goal: (r) => r.value / r.baseline <= 1.05,
        },
        {
          metric: 'paired ratio maru/raw (median of per-pair ratios)',
          value: Number(median(maruTimes.map((m, i) => m / rawTimes[i])).toFixed(3)),
          baseline: null,
          unit: '×',
        },
        {
          metric: 'from `maru start` spawn to qemu running (median)',
          value: Math.round(median(overheads)),
          baseline: null,
          unit: 'ms',
        },
        {
          metric: 'engine host RSS at the marker (max of runs)',
          value: r1(Math.max(...hostRss)),
          baseline: null,
          unit: 'MiB',
          goalText: '≤ 80 MiB',
          goal: (r) => r.value <= 80,
        },
        {
          metric: 'engine host peak RSS (VmHWM, max of runs)',
          value: r1(Math.max(...hostHwm)),
          baseline: null,
          unit: 'MiB',
        },
        { metric: 'qemu RSS at the marker (guest: 256 MiB)', value: r1(median(qemuRss)), baseline: null, unit: 'MiB' },
      ],
      notes:
        `maru runs (s): ${maruTimes.map(r2).join(', ')}; raw runs (s): ${rawTimes.map(r2).join(', ')}. ` +
        `Interleaved maru/raw, after one warm-up of each; accelerator TCG (KVM unusable here). ` +
        `maru's time includes the CLI process (probe cache, checks), spawning the engine host and its QMP/serial setup.`,
    };
  } finally {
    spawnSync(process.execPath, ['dist/cli/maru.js', 'stop', VM, '--force'], { env });
    rmSync(home, { recursive: true, force: true });
  }
}
