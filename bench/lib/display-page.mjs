// Helpers for bench/display.bench.mjs: the in-page frame decoder (a requestAnimationFrame
// loop that reads the storm guest's frame number off the canvas), the baseline page (plain
// noVNC straight onto QEMU's websocket VNC), and a tiny read-only static server for it.
import http from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import path from 'node:path';

/** Installed in the page: watches the first canvas under `selector`, records first-seen time of each n. */
export function installDecoder(selector) {
  const w = window;
  w.__storm = { seen: {}, samples: 0, running: true };
  const tick = () => {
    if (!w.__storm.running) return;
    const c = document.querySelector(selector);
    if (c && c.width >= 256 && c.height >= 8) {
      const ctx = c.getContext('2d');
      const now = performance.timeOrigin + performance.now();
      const row = ctx.getImageData(0, 4, 256, 1).data;
      let n = 0;
      for (let i = 0; i < 32; i++) {
        const o = (i * 8 + 4) * 4;
        const bit = row[o] + row[o + 1] + row[o + 2] > 384 ? 1 : 0;
        n = (n * 2 + bit) >>> 0;
      }
      w.__storm.samples++;
      if (!(n in w.__storm.seen)) w.__storm.seen[n] = now;
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}

export function baselineHtml(wsUrl) {
  return `<!doctype html><html><head><meta charset="utf-8"><title>raw noVNC baseline</title>
<style>html,body{margin:0;height:100%;background:#111}#screen{position:absolute;inset:0}</style></head>
<body><div id="screen" data-status="connecting"></div>
<script type="module">
import RFB from '/node_modules/@novnc/novnc/core/rfb.js';
const el = document.getElementById('screen');
const rfb = new RFB(el, ${JSON.stringify(wsUrl)}, { shared: true });
rfb.background = '#111';
rfb.scaleViewport = true;
rfb.resizeSession = true;
rfb.clipViewport = false;
rfb.addEventListener('connect', () => (el.dataset.status = 'connected'));
rfb.addEventListener('disconnect', () => (el.dataset.status = 'disconnected'));
window.__rfb = rfb;
</script></body></html>`;
}

const TYPES = {
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.html': 'text/html',
  '.json': 'application/json',
};

/** Serves `/` (the baseline page) and `/node_modules/@novnc/…` read-only from `root`. */
export function startStaticServer(root, pageFor) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'no-store' });
      res.end(pageFor(url.searchParams));
      return;
    }
    const rel = path.normalize(decodeURIComponent(url.pathname)).replace(/^\/+/, '');
    if (req.method !== 'GET' || !rel.startsWith('node_modules/@novnc/novnc/')) {
      res.writeHead(404).end();
      return;
    }
    const file = path.join(root, rel);
    try {
      if (!statSync(file).isFile()) throw new Error('not a file');
    } catch {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${server.address().port}` })),
  );
}
