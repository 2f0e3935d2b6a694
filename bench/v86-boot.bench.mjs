// Boot to the serial marker on the v86 engine: `maru start VM --headless` (CLI → detached
// engine host → V86Engine: ISO read on demand, RFB server, screen timer) against a raw v86
// script in a bare Node process on the same ISO, BIOS and memory, booted side by side.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { maru, median, waitForMarker } from './lib/boot-bench-util.mjs';

export const description = 'v86 boot of maru-test-i386.iso to MARU-BOOT-OK on serial (wall time, s)';
export const baselineDescription =
  'a raw v86 script (below, RAW_SCRIPT) in a bare node process: V86 with the same BIOS, VGA BIOS, 128 MiB and the ' +
  'ISO as an in-memory buffer, timed from process spawn to the marker on serial0-output-byte; each run boots it ' +
  'side by side with the maru boot, so both see the same machine load';

const ISO = path.resolve('tests/fixtures/build/maru-test-i386.iso');
const MARKER = 'MARU-BOOT-OK';
const RUNS = Number(process.env.MARU_BENCH_V86_RUNS ?? 5);
const TIMEOUT_MS = 300_000;

/** The baseline: v86 as one would script it directly (argv: wasm, bios, vgabios, iso, marker). */
const RAW_SCRIPT = `
import { readFileSync } from 'node:fs';
import { V86 } from 'v86';
const [wasm, bios, vga, iso, marker] = process.argv.slice(1);
const buf = (f) => { const b = readFileSync(f); return b.buffer.slice(b.byteOffset, b.byteOffset + b.length); };
const emulator = new V86({
  wasm_path: wasm, memory_size: 128 * 1024 * 1024,
  bios: { buffer: buf(bios) }, vga_bios: { buffer: buf(vga) }, cdrom: { buffer: buf(iso) },
  autostart: true, disable_keyboard: true, disable_mouse: true, disable_speaker: true,
});
let line = '';
emulator.add_listener('serial0-output-byte', (b) => {
  line = (line + String.fromCharCode(b)).slice(-64);
  if (line.includes(marker)) { process.stdout.write('marker\\n'); process.exit(0); }
});
`;

async function bootMaru(env, serialLog) {
  const t0 = Date.now();
  const start = spawn(process.execPath, ['dist/cli/maru.js', 'start', 'bench-v86', '--headless'], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  start.stderr.on('data', (d) => (err += d));
  const started = new Promise((resolve, reject) =>
    start.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`maru start failed: ${err}`)))),
  );
  // The serial log is rotated when the engine host starts: wait for the new one's marker.
  await started;
  const ms = await waitForMarker(serialLog, MARKER, t0, TIMEOUT_MS, 25);
  maru(['stop', 'bench-v86', '--force'], env);
  return ms / 1000;
}

async function bootRaw(args) {
  const t0 = Date.now();
  const child = spawn(process.execPath, ['--input-type=module', '-e', RAW_SCRIPT, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: path.resolve('.'),
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
  await new Promise((resolve) => child.on('exit', resolve));
  clearTimeout(timer);
  if (!out.includes('marker')) throw new Error(`raw v86 script did not reach the marker: ${err.slice(-500)}`);
  return (Date.now() - t0) / 1000;
}

export async function run() {
  if (!existsSync(ISO)) throw new Error(`${ISO} is missing: run "npm run fixtures"`);
  const home = mkdtempSync(path.join(os.tmpdir(), 'maru-bench-v86-'));
  const env = { ...process.env, MARU_HOME: home };
  try {
    const created = JSON.parse(
      maru(
        [
          'create',
          '--name',
          'bench-v86',
          '--os',
          'linux32',
          '--engine',
          'v86',
          '--memory',
          '128',
          '--disk',
          '0',
          '--iso',
          ISO,
          '--json',
        ],
        env,
      ),
    );
    const serialLog = path.join(created.vm.folder, 'logs', 'serial.log');
    maru(['host'], env); // the host probe runs once and is cached: not part of a boot
    const { V86_PATHS } = await firmwarePaths();
    const rawArgs = [V86_PATHS.wasm, V86_PATHS.bios, V86_PATHS.vga, ISO, MARKER];
    const maruTimes = [];
    const rawTimes = [];
    const ratios = [];
    for (let i = 0; i < RUNS; i++) {
      // Each pair boots at the same moment (v86 is single-threaded; this machine has 2 cores),
      // so both see the same machine load — other work here drifts too much between runs.
      const [m, r] = await Promise.all([bootMaru(env, serialLog), bootRaw(rawArgs)]);
      maruTimes.push(m);
      rawTimes.push(r);
      ratios.push(m / r);
    }
    const m = median(maruTimes);
    const b = median(rawTimes);
    return {
      rows: [
        {
          metric: `boot to ${MARKER}, median of ${RUNS} paired runs`,
          value: Number(m.toFixed(2)),
          baseline: Number(b.toFixed(2)),
          unit: 's',
          goalText: 'ratio ≤ 1.05',
          goal: (r) => r.value / r.baseline <= 1.05,
        },
        {
          metric: 'median of the per-pair ratios (maru / raw)',
          value: Number(median(ratios).toFixed(3)),
          unit: 'ratio',
          goalText: '≤ 1.05',
          goal: (r) => r.value <= 1.05,
        },
        {
          metric: 'boot to marker, fastest',
          value: Number(Math.min(...maruTimes).toFixed(2)),
          baseline: Number(Math.min(...rawTimes).toFixed(2)),
          unit: 's',
        },
      ],
      notes:
        `Pairs (maru / raw, booted side by side): ${maruTimes.map((t, i) => `${t.toFixed(1)}/${rawTimes[i].toFixed(1)}`).join(', ')} s. ` +
        `Maru's time includes the CLI, the engine host start and the launcher handshake; load average at the end ${os
          .loadavg()
          .map((l) => l.toFixed(1))
          .join(' ')}.`,
    };
  } finally {
    spawnSync(process.execPath, ['dist/cli/maru.js', 'stop', 'bench-v86', '--force'], { env });
    rmSync(home, { recursive: true, force: true });
  }
}

/** The same firmware the engine finds (Debian's SeaBIOS) and v86's wasm. */
async function firmwarePaths() {
  const dir = process.env.MARU_SEABIOS_DIR ?? '/usr/share/seabios';
  const wasm = path.resolve('node_modules/v86/build/v86.wasm');
  return { V86_PATHS: { wasm, bios: path.join(dir, 'bios-256k.bin'), vga: path.join(dir, 'vgabios-stdvga.bin') } };
}
