// How soon QEMU's own VNC server can hand over a frame at all: the floor under any viewer of
// the QEMU engine's display (Maru's and the noVNC baseline in display.bench.mjs alike). The storm
// guest (tests/fixtures/storm) redraws the whole screen as fast as it can and prints `F<n>` on
// COM1 after frame n; a minimal RFB client here, on QEMU's VNC socket, asks for the cheapest
// encoding there is (raw, 32 bpp: no compression in QEMU, a copy here), keeps one incremental
// update request in flight, reads frame n off rows 0–7 of each complete update, and measures
// serial arrival of `F<n>` → update with n fully received. No browser, no proxy, no decoding.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const description =
  "QEMU's VNC server as a frame source (storm guest, TCG): guest serial `F<n>` → raw update with n fully received by a minimal RFB client, p50/p95 ms and frames/s";
export const baselineDescription = 'none: this is the floor under both display paths of display.bench.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WINDOW_MS = 8000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const r1 = (x) => Number(x.toFixed(1));

/** A byte reader over a socket: `read(n)` resolves with exactly n bytes. */
function byteReader(socket) {
  let chunks = [];
  let have = 0;
  let wake = null;
  socket.on('data', (d) => {
    chunks.push(d);
    have += d.length;
    wake?.();
  });
  return async (n) => {
    while (have < n) await new Promise((r) => (wake = r));
    wake = null;
    const all = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    const rest = all.subarray(n);
    chunks = rest.length ? [rest] : [];
    have = rest.length;
    return all.subarray(0, n);
  };
}

async function measure(image) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'maru-bench-vncfloor-'));
  const sock = path.join(dir, 'vnc.sock');
  const qemu = spawn(
    'qemu-system-x86_64',
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
      `file=${image},format=raw,if=ide,index=0,snapshot=on`,
      '-device',
      'VGA',
      '-vnc',
      `unix:${sock}`,
      '-serial',
      'stdio',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const serial = new Map();
  let line = '';
  qemu.stdout.on('data', (d) => {
    const now = performance.now();
    line += d.toString('latin1');
    let i;
    while ((i = line.indexOf('\n')) >= 0) {
      const m = /^F([0-9A-Fa-f]{8})/.exec(line.slice(0, i).trim());
      line = line.slice(i + 1);
      if (m && !serial.has(parseInt(m[1], 16))) serial.set(parseInt(m[1], 16), now);
    }
  });
  let qerr = '';
  qemu.stderr.on('data', (d) => (qerr += d));
  let socket;
  try {
    for (let i = 0; ; i++) {
      try {
        socket = await new Promise((resolve, reject) => {
          const s = net.connect(sock, () => resolve(s));
          s.once('error', reject);
        });
        break;
      } catch (e) {
        if (i > 100 || qemu.exitCode !== null) throw new Error(`QEMU's VNC socket not reachable: ${qerr || e}`);
        await sleep(100);
      }
    }
    socket.setNoDelay?.(true);
    const read = byteReader(socket);
    await read(12);
    socket.write('RFB 003.008\n');
    const types = (await read(1))[0];
    await read(types);
    socket.write(Buffer.from([1])); // security None
    await read(4);
    socket.write(Buffer.from([1])); // shared
    const init = await read(24);
    let width = init.readUInt16BE(0);
    let height = init.readUInt16BE(2);
    await read(init.readUInt32BE(20));
    // 32 bpp, depth 24, little-endian, true colour, R at 16, G at 8, B at 0.
    socket.write(Buffer.from([0, 0, 0, 0, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0]));
    const enc = Buffer.alloc(12);
    enc[0] = 2;
    enc.writeUInt16BE(2, 2);
    enc.writeInt32BE(0, 4); // raw
    enc.writeInt32BE(-223, 8); // DesktopSize
    socket.write(enc);
    const request = (incremental) => {
      const b = Buffer.alloc(10);
      b[0] = 3;
      b[1] = incremental;
      b.writeUInt16BE(width, 6);
      b.writeUInt16BE(height, 8);
      socket.write(b);
    };
    let fb = Buffer.alloc(width * height * 4);
    request(0);
    const seen = new Map();
    const start = performance.now();
    let measuring = false;
    while (performance.now() - start < 2000 + WINDOW_MS) {
      const head = await read(4);
      if (head[0] !== 0) throw new Error(`unexpected server message ${head[0]}`);
      const rects = head.readUInt16BE(2);
      for (let r = 0; r < rects; r++) {
        const h = await read(12);
        const [x, y, w, hh, e] = [
          h.readUInt16BE(0),
          h.readUInt16BE(2),
          h.readUInt16BE(4),
          h.readUInt16BE(6),
          h.readInt32BE(8),
        ];
        if (e === -223) {
          [width, height] = [w, hh];
          fb = Buffer.alloc(width * height * 4);
          continue;
        }
        if (e !== 0) throw new Error(`QEMU sent encoding ${e}, asked for raw`);
        const px = await read(w * hh * 4);
        for (let row = 0; row < hh; row++) px.copy(fb, ((y + row) * width + x) * 4, row * w * 4, (row + 1) * w * 4);
      }
      request(1);
      const now = performance.now();
      if (!measuring && now - start >= 2000) measuring = true; // warm-up over
      let n = 0;
      for (let i = 0; i < 32; i++) {
        const o = (4 * width + i * 8 + 4) * 4;
        n = (n * 2 + (fb[o] + fb[o + 1] + fb[o + 2] > 384 ? 1 : 0)) >>> 0;
      }
      if (measuring && !seen.has(n)) seen.set(n, now);
    }
    await sleep(100); // serial lines still on their way
    const lat = [...seen].filter(([n]) => serial.has(n)).map(([n, t]) => t - serial.get(n));
    lat.sort((a, b) => a - b);
    return {
      p50: lat[Math.floor(lat.length / 2)],
      p95: lat[Math.min(lat.length - 1, Math.ceil(lat.length * 0.95) - 1)],
      fps: seen.size / (WINDOW_MS / 1000),
      paired: lat.length,
      frames: seen.size,
    };
  } finally {
    socket?.destroy();
    qemu.kill('SIGKILL');
    await new Promise((r) => (qemu.exitCode !== null ? r() : qemu.once('exit', r)));
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run() {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'maru-bench-vncfloor-img-'));
  try {
    const built = spawnSync('bash', [path.join(ROOT, 'tests/fixtures/storm/build.sh'), tmp], { encoding: 'utf8' });
    if (built.status !== 0) throw new Error(`storm build failed: ${built.stderr}`);
    const rows = [];
    const notes = [];
    for (const res of ['1024x768', '1920x1080']) {
      const m = await measure(path.join(tmp, `storm-${res}.img`));
      const label = res.replace('x', '×');
      rows.push(
        {
          metric: `${label} raw frame received p50 (after the guest drew it)`,
          value: r1(m.p50),
          baseline: null,
          unit: 'ms',
        },
        { metric: `${label} p95`, value: r1(m.p95), baseline: null, unit: 'ms' },
        { metric: `${label} distinct frames received`, value: r1(m.fps), baseline: null, unit: 'frames/s' },
      );
      notes.push(`${label}: ${m.frames} distinct frames in ${WINDOW_MS / 1000} s, ${m.paired} paired with serial`);
    }
    return {
      rows,
      notes:
        `${notes.join('; ')}. ${spawnSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0]}, ` +
        `TCG, ${os.cpus().length} cores. QEMU refreshes remote displays on a 30 ms timer (GUI_REFRESH_INTERVAL_DEFAULT), ` +
        `so at most ~33 frames/s leave it; a viewer's decode, transport and the browser's next frame (up to 16.7 ms) come on top.`,
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
