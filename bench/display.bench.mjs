// Frame delivery, guest framebuffer change → canvas paint, with the storm guest
// (tests/fixtures/storm: redraws the whole screen every frame, encodes frame n in rows 0–7,
// prints `F<n>` on COM1 after each frame). Maru path: real `maru start --headless` (QEMU
// engine, TCG) + `maru serve` + Chromium showing the app's display view (noVNC over the
// console WebSocket → engine host RFB proxy → QEMU's VNC unix socket). Baseline: the same
// image in a bare QEMU with its own websocket VNC and a static page running plain noVNC.
// Both pages run the same requestAnimationFrame decoder; guest-side times are when the
// bench process receives each serial line. Latency = first paint of n − serial arrival of n.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, writeFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { installDecoder, baselineHtml, startStaticServer } from './lib/display-page.mjs';

export const description =
  'display frame delivery with the storm guest (QEMU TCG): guest serial `F<n>` → first canvas paint of n, p50/p95 ms, and distinct frames painted per second';
export const baselineDescription =
  "the same storm image in a bare qemu-system-x86_64 (same machine flags) with QEMU's own websocket VNC (-vnc …,websocket=PORT) and plain noVNC (scaleViewport) in the same Chromium, same rAF decoder; serial over -serial tcp read directly by the bench";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'dist/cli/maru.js');
const QEMU = '/usr/bin/qemu-system-x86_64';
const CHROMIUM = process.env.MARU_CHROMIUM ?? '/usr/bin/chromium';
const ENGINES = (process.env.DISPLAY_BENCH_ENGINES ?? 'qemu,v86').split(',');
const RESOLUTIONS = (process.env.DISPLAY_BENCH_RES ?? '1024x768,1920x1080').split(',');
const WARMUP_MS = 2000;
const WINDOW_MS = Number(process.env.DISPLAY_BENCH_WINDOW_MS ?? 6000);
const PASSWORD = 'correct horse battery';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function cli(home, args, input) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    env: { ...process.env, MARU_HOME: home },
    encoding: 'utf8',
    input,
  });
  if (r.status !== 0) throw new Error(`maru ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Stamps Date.now() on each `F<8 hex>` line from a stream; first arrival wins. */
function serialStamper(stream) {
  const times = new Map();
  let buf = '';
  stream.on('data', (d) => {
    const now = Date.now();
    buf += d.toString('latin1');
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      const m = /^F([0-9A-Fa-f]{8})$/.exec(line);
      if (m) {
        const n = parseInt(m[1], 16);
        if (!times.has(n)) times.set(n, now);
      }
    }
  });
  return times;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}
async function freeVncDisplay() {
  for (let i = 0; i < 50; i++) {
    const d = 100 + Math.floor(Math.random() * 800);
    const ok = await new Promise((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(5900 + d, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (ok) return d;
  }
  throw new Error('no free VNC display');
}

function pct(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))];
}

/** Runs the decoder in `page` for the window and pairs paints with serial times. */
async function measure(page, selector, serialTimes) {
  await page.evaluate(installDecoder, selector);
  // The decoder must be seeing frames (n changing) before the window opens; a very slow
  // path (v86 at 1920×1080) is measured as it is once it has shown two distinct frames.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const k = await page.evaluate(() => Object.keys(window.__storm.seen).length);
    if (k >= 2) break;
    if (Date.now() > deadline) throw new Error(`canvas never showed changing storm frames (${k} seen)`);
    await sleep(250);
  }
  await sleep(WARMUP_MS);
  const t0 = Date.now();
  await sleep(WINDOW_MS);
  const t1 = Date.now();
  await sleep(500); // late serial lines for frames painted near the end
  const { seen, samples, clockSkew } = await page.evaluate(() => {
    window.__storm.running = false;
    return {
      seen: window.__storm.seen,
      samples: window.__storm.samples,
      clockSkew: Date.now() - (performance.timeOrigin + performance.now()),
    };
  });
  const painted = Object.entries(seen)
    .map(([n, t]) => [Number(n), t])
    .filter(([, t]) => t >= t0 && t < t1);
  const lat = [];
  let unmatched = 0;
  for (const [n, t] of painted) {
    const s = serialTimes.get(n);
    if (s === undefined) unmatched++;
    else lat.push(t - s);
  }
  lat.sort((a, b) => a - b);
  const serialInWindow = [...serialTimes.values()].filter((t) => t >= t0 && t < t1).length;
  return {
    fps: painted.length / ((t1 - t0) / 1000),
    p50: pct(lat, 0.5),
    p95: pct(lat, 0.95),
    frames: painted.length,
    matched: lat.length,
    unmatched,
    guestFps: serialInWindow / ((t1 - t0) / 1000),
    rafPerSec: samples, // total samples; informative only
    clockSkew,
  };
}

async function runMaru(ctx, res, engine) {
  const { home, browser, serveUrl } = ctx;
  const name = `storm-${engine}-${res}`;
  const vmDir = path.join(home, 'vms');
  const before = new Set(existsSync(vmDir) ? readdirSync(vmDir) : []);
  cli(home, ['create', '--name', name, '--os', 'other', '--memory', '64', '--disk', '0']);
  const id = readdirSync(vmDir).find((d) => !before.has(d));
  const folder = path.join(vmDir, id);
  mkdirSync(path.join(folder, 'disks'), { recursive: true });
  const img = path.join(ctx.imgDir, `storm-${res}.img`);
  spawnSync('qemu-img', ['convert', '-O', 'qcow2', img, path.join(folder, 'disks/disk0.qcow2')]);
  const size = JSON.parse(spawnSync('qemu-img', ['info', '--output=json', img], { encoding: 'utf8' }).stdout)[
    'virtual-size'
  ];
  const cfgFile = path.join(folder, 'vm.json');
  const cfg = JSON.parse(readFileSync(cfgFile, 'utf8'));
  cfg.disks = [{ id: 'disk0', file: 'disks/disk0.qcow2', bus: 'ide', sizeBytes: size }];
  cfg.bootOrder = ['disk'];
  cfg.engine = engine;
  cfg.display = { ...cfg.display, vga: 'std' };
  writeFileSync(cfgFile, JSON.stringify(cfg, null, 2));
  cli(home, ['start', name, '--headless']);
  const follower = spawn(process.execPath, [CLI, 'serial', name, '--follow'], {
    env: { ...process.env, MARU_HOME: home },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  follower.stdout.on('error', () => {});
  const serialTimes = serialStamper(follower.stdout);
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  try {
    const page = await context.newPage();
    await page.goto(serveUrl);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    await page
      .getByRole('listbox', { name: 'Virtual machines' })
      .getByRole('option', { name: new RegExp(name) })
      .click();
    await page.locator('[data-testid=vm-screen][data-status=connected]').waitFor({ timeout: 30_000 });
    return await measure(page, '[data-testid=vm-screen] canvas', serialTimes);
  } finally {
    await context.close();
    follower.kill('SIGTERM');
    spawnSync(process.execPath, [CLI, 'stop', name, '--force'], { env: { ...process.env, MARU_HOME: home } });
  }
}

async function runBaseline(ctx, res) {
  const { browser, tmp } = ctx;
  const disk = path.join(tmp, `base-${res}.qcow2`);
  spawnSync('qemu-img', ['convert', '-O', 'qcow2', path.join(ctx.imgDir, `storm-${res}.img`), disk]);
  const display = await freeVncDisplay();
  const wsPort = await freePort();
  const serialPort = await freePort();
  const qemu = spawn(
    QEMU,
    [
      '-nodefaults',
      '-no-user-config',
      '-display',
      'none',
      '-machine',
      'pc',
      '-accel',
      'tcg',
      '-cpu',
      'max',
      '-m',
      '64M',
      '-drive',
      `file=${disk},format=qcow2,if=ide,index=0`,
      '-device',
      'VGA,id=video0',
      '-device',
      'piix3-usb-uhci,id=usb',
      '-device',
      'usb-tablet,bus=usb.0',
      '-vnc',
      `127.0.0.1:${display},websocket=${wsPort}`,
      '-serial',
      `tcp:127.0.0.1:${serialPort},server=on,wait=off`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let qerr = '';
  qemu.stderr.on('data', (d) => (qerr += d));
  let sock;
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  try {
    // Serial: connect as soon as QEMU listens.
    for (let i = 0; ; i++) {
      try {
        sock = await new Promise((resolve, reject) => {
          const s = net.connect(serialPort, '127.0.0.1', () => resolve(s));
          s.once('error', reject);
        });
        break;
      } catch (e) {
        if (i > 100 || qemu.exitCode !== null) throw new Error(`baseline QEMU serial not reachable: ${qerr || e}`);
        await sleep(100);
      }
    }
    const serialTimes = serialStamper(sock);
    const page = await context.newPage();
    await page.goto(`${ctx.staticUrl}/?ws=${encodeURIComponent(`ws://127.0.0.1:${wsPort}`)}`);
    await page.locator('#screen[data-status=connected]').waitFor({ timeout: 30_000 });
    return await measure(page, '#screen canvas', serialTimes);
  } finally {
    await context.close();
    sock?.destroy();
    qemu.kill('SIGKILL');
    await new Promise((r) => (qemu.exitCode !== null ? r() : qemu.once('exit', r)));
  }
}

export async function run() {
  const { chromium } = await import('playwright-core');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'maru-bench-display-'));
  const home = path.join(tmp, 'home');
  mkdirSync(home);
  const imgDir = path.join(tmp, 'img');
  const built = spawnSync('bash', [path.join(ROOT, 'tests/fixtures/storm/build.sh'), imgDir], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`storm build failed: ${built.stderr}`);
  let serve;
  let browser;
  let staticSrv;
  const results = {};
  try {
    cli(home, ['serve', '--set-password', '--password-stdin'], PASSWORD + '\n');
    serve = spawn(process.execPath, [CLI, 'serve', '--port', '0'], {
      env: { ...process.env, MARU_HOME: home },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const serveUrl = await new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`maru serve did not start: ${out}`)), 15_000);
      serve.stdout.on('data', (d) => {
        out += d;
        const m = /Maru web console: (\S+)\s/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      serve.stderr.on('data', (d) => (out += d));
      serve.once('exit', (c) => reject(new Error(`maru serve exited ${c}: ${out}`)));
    });
    staticSrv = await startStaticServer(ROOT, (q) => baselineHtml(q.get('ws')));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    const ctx = { home, tmp, imgDir, browser, serveUrl, staticUrl: staticSrv.url };
    for (const res of RESOLUTIONS) {
      // Alternate: Maru/QEMU, baseline, Maru/v86 on the same machine state.
      const r = {};
      if (ENGINES.includes('qemu')) r.qemu = await runMaru(ctx, res, 'qemu');
      r.base = await runBaseline(ctx, res);
      if (ENGINES.includes('v86')) {
        try {
          r.v86 = await runMaru(ctx, res, 'v86');
        } catch (e) {
          r.v86Error = String(e?.message ?? e).split('\n')[0];
        }
      }
      results[res] = r;
      console.error(`display bench ${res}: ${JSON.stringify(results[res])}`);
    }
  } finally {
    await browser?.close().catch(() => {});
    if (serve) {
      serve.kill('SIGTERM');
      await new Promise((r) => (serve.exitCode !== null ? r() : serve.once('exit', r)));
    }
    await new Promise((r) => (staticSrv ? staticSrv.server.close(r) : r()));
    rmSync(tmp, { recursive: true, force: true });
  }
  const rows = [];
  const r1 = (x) => (Number.isFinite(x) ? Number(x.toFixed(1)) : null);
  const notes = [];
  for (const [res, r] of Object.entries(results)) {
    for (const engine of ENGINES) {
      const maru = r[engine];
      const base = r.base;
      const label = `${engine} ${res.replace('x', '×')}`;
      const is1024 = res === '1024x768';
      if (!maru) {
        notes.push(`${label}: not measured: ${r[engine + 'Error'] ?? 'skipped'}`);
        continue;
      }
      rows.push({
        metric: `${label} p50 latency`,
        value: r1(maru.p50),
        baseline: r1(base.p50),
        unit: 'ms',
        ...(is1024 ? { goalText: '≤ 16 ms', goal: (r) => r.value !== null && r.value <= 16 } : {}),
      });
      rows.push({ metric: `${label} p95 latency`, value: r1(maru.p95), baseline: r1(base.p95), unit: 'ms' });
      rows.push({
        metric: `${label} sustained fps`,
        value: r1(maru.fps),
        baseline: r1(base.fps),
        unit: 'frames/s',
        goalText: '≥ baseline',
        goal: (r) => r.value >= r.baseline,
      });
      for (const [who, m] of [['maru', maru], ...(engine === ENGINES[0] ? [['raw-noVNC baseline', base]] : [])])
        notes.push(
          `${label} ${who}: ${m.frames} distinct frames painted in ${WINDOW_MS / 1000} s (${m.matched} paired with serial, ${m.unmatched} without), guest drew ${r1(m.guestFps)} frames/s meanwhile, page Date.now()−(timeOrigin+now) = ${r1(m.clockSkew)} ms`,
        );
    }
  }
  notes.push(
    `Baseline for both engines is the bare-QEMU websocket VNC run at the same resolution. Window ${WINDOW_MS / 1000} s after ${WARMUP_MS / 1000} s warm-up; Chromium headless, --disable-gpu, viewport 1280×900, fit (scaleViewport) in both pages.`,
  );
  return { rows, notes: notes.join('\n') };
}
