// Security of `maru serve` against a real server on loopback (real HTTP, real WebSockets,
// the real library service): every attempt below is counted, and every one must be refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { WebSocket } from 'ws';
import { WebServer } from '../../../src-main/server/web-server';
import { setPassword } from '../../../src-main/server/password-store';
import { Library } from '../../../src-main/services/library/library-service';
import { createControlServices } from '../../../src-main/services/control-services';

const PASSWORD = 'a long test password';
let home: string;
let server: WebServer;
let base: string;
let origin: string;
let vmA: string;
let vmB: string;
let rfbServer: net.Server;
let rfbPath: string;
let floodBytes = 0;

async function login(password = PASSWORD, headers: Record<string, string> = { Origin: origin }) {
  const res = await fetch(base + 'api/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify({ password }),
  });
  const cookie = res.headers.get('set-cookie')?.split(';')[0] ?? '';
  const body = (await res.json()) as { value?: { csrfToken: string } };
  return { status: res.status, cookie, csrf: body.value?.csrfToken ?? '' };
}

function upgrade(pathname: string, headers: Record<string, string>): Promise<{ status: number; ws?: WebSocket }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(base.replace('http', 'ws') + pathname.replace(/^\//, ''), { headers });
    ws.on('open', () => resolve({ status: 101, ws }));
    ws.on('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0 });
      ws.terminate();
    });
    ws.on('error', () => resolve({ status: -1 }));
  });
}

beforeAll(async () => {
  home = mkdtempSync(path.join(os.tmpdir(), 'maru-sec-'));
  await setPassword(home, PASSWORD);
  const library = new Library({ maruHome: home });
  vmA = (await library.create({ name: 'A', os: 'dos', diskGiB: 0 })).vm.config.id;
  vmB = (await library.create({ name: 'B', os: 'dos', diskGiB: 0 })).vm.config.id;
  // A stand-in display endpoint that floods bytes (an engine host sending frames as fast as it can).
  const runDir = mkdtempSync(path.join(os.tmpdir(), 'maru-rfb-'));
  rfbPath = path.join(runDir, 'rfb.sock');
  const chunk = Buffer.alloc(64 * 1024, 0xab);
  rfbServer = net.createServer((s) => {
    s.on('error', () => undefined);
    const pump = () => {
      while (floodBytes < 512 * 1024 * 1024) {
        floodBytes += chunk.length;
        if (!s.write(chunk)) {
          s.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
  await new Promise<void>((r) => rfbServer.listen(rfbPath, r));
  mkdirSync(path.join(home, 'web'), { recursive: true });
  server = new WebServer({
    host: '127.0.0.1',
    port: 0,
    maruHome: home,
    rendererDir: path.join(home, 'web'),
    services: {
      ...createControlServices({ maruHome: home, confineMedia: true }).services,
      library,
      host: { info: () => Promise.reject(new Error('not used')), limits: () => Promise.reject(new Error('not used')) },
    },
    limits: { consoleTicketMs: 300, maxControlMessageBytes: 64 * 1024, maxSendBufferBytes: 4 * 1024 * 1024 },
    consoleEndpoint: async (id) => (id === vmA ? rfbPath : null),
    log: () => undefined,
  });
  const started = await server.start();
  base = started.url;
  origin = base.replace(/\/$/, '');
});

afterAll(async () => {
  await server?.close();
  await new Promise<void>((r) => rfbServer?.close(() => r()));
  rmSync(path.dirname(rfbPath), { recursive: true, force: true });
  rmSync(home, { recursive: true, force: true });
});

describe('maru serve security', () => {
  it('the page carries the library only for a signed-in user, and no text of it can end its data block', async () => {
    writeFileSync(path.join(home, 'web', 'index.html'), '<!doctype html><html><head></head><body></body></html>');
    // A vm.json whose parse error quotes markup: the list reports it, inside the page.
    const bad = path.join(home, 'vms', '11111111-2222-4333-8444-555555555555');
    mkdirSync(bad, { recursive: true });
    writeFileSync(path.join(bad, 'vm.json'), '</script><img src=x onerror=alert(1)>');
    try {
      const anonymous = await (await fetch(base)).text();
      expect(anonymous).not.toContain('maru-initial-list');
      const { cookie } = await login();
      const res = await fetch(base, { headers: { Cookie: cookie } });
      expect(res.headers.get('cache-control')).toBe('no-store');
      const html = await res.text();
      const m = /<script type="application\/json" id="maru-initial-list">(.*?)<\/script>/s.exec(html);
      expect(m, html.slice(0, 300)).not.toBeNull();
      expect(html.match(/<\/script>/g)).toHaveLength(1); // only the block's own end tag
      const list = JSON.parse(m![1]!) as { kind: string; name?: string; error?: string }[];
      expect(list.filter((v) => v.kind === 'ok').map((v) => v.name)).toEqual(['A', 'B']);
      expect(list.find((v) => v.kind === 'inaccessible')?.error).toContain('"</script><"');
    } finally {
      rmSync(bad, { recursive: true, force: true });
      rmSync(path.join(home, 'web', 'index.html'));
    }
  });

  it('source maps only for a signed-in session; the rest of the bundle stays public', async () => {
    const assets = path.join(home, 'web', 'assets');
    mkdirSync(assets, { recursive: true });
    writeFileSync(path.join(assets, 'app.js'), 'console.log(1);\n//# sourceMappingURL=app.js.map\n');
    writeFileSync(path.join(assets, 'app.js.map'), '{"version":3,"sources":["secret-source.tsx"]}');
    try {
      expect((await fetch(base + 'assets/app.js')).status).toBe(200);
      for (const p of ['assets/app.js.map', 'assets/app.js%2Emap', 'assets/APP.js.MAP', 'assets/missing.js.map']) {
        const res = await fetch(base + p);
        expect(res.status, p).toBe(401);
        expect(await res.text()).not.toContain('secret-source');
      }
      const { cookie } = await login();
      const signedIn = await fetch(base + 'assets/app.js.map', { headers: { Cookie: cookie } });
      expect(signedIn.status).toBe(200);
      expect(signedIn.headers.get('cache-control')).toBe('private, no-store');
      expect(await signedIn.text()).toContain('secret-source');
    } finally {
      rmSync(assets, { recursive: true, force: true });
    }
  });

  it('no session: 401 on every API route and every socket upgrade', async () => {
    const attempts: [string, string][] = [
      ['GET', 'api/session'],
      ['GET', 'api/library/list'],
      ['POST', 'api/logout'],
      ['POST', 'api/console-ticket'],
      ['GET', 'api/control'],
      ['POST', 'api/control'],
      ['GET', 'api/anything'],
      ['DELETE', 'api/session'],
    ];
    let rejected = 0;
    for (const [method, p] of attempts) {
      const res = await fetch(base + p, { method, headers: { Origin: origin, 'Content-Type': 'application/json' } });
      if (res.status === 401) rejected++;
    }
    for (const p of ['/api/control', `/api/console/${vmA}?ticket=x`]) {
      if ((await upgrade(p, { Origin: origin })).status === 401) rejected++;
    }
    // A forged cookie is no session either.
    if ((await upgrade('/api/control', { Origin: origin, Cookie: 'maru_session=forged' })).status === 401) rejected++;
    console.log(`no-session: ${rejected} of ${attempts.length + 3} attempts rejected with 401`);
    expect(rejected).toBe(attempts.length + 3);
  });

  it('foreign, null or missing Origin: 403 on upgrades, login and state-changing requests', async () => {
    const { cookie, csrf } = await login();
    const bad: (string | undefined)[] = [
      'http://evil.example',
      'null',
      undefined,
      'http://127.0.0.1:1',
      origin + '.evil.com',
    ];
    let tried = 0;
    let rejected = 0;
    for (const o of bad) {
      const h: Record<string, string> = { Cookie: cookie, ...(o !== undefined ? { Origin: o } : {}) };
      tried++;
      if ((await upgrade('/api/control', h)).status === 403) rejected++;
      tried++;
      const res = await fetch(base + 'api/console-ticket', {
        method: 'POST',
        headers: { ...h, 'X-Maru-CSRF': csrf, 'Content-Type': 'application/json' },
        body: JSON.stringify({ vmId: vmA }),
      });
      if (res.status === 403) rejected++;
      tried++;
      const l = await login(PASSWORD, o !== undefined ? { Origin: o } : {});
      if (l.status === 403) rejected++;
    }
    console.log(`bad-origin: ${rejected} of ${tried} attempts rejected with 403`);
    expect(rejected).toBe(tried);
    // The right Origin with the same session is accepted.
    const ok = await upgrade('/api/control', { Cookie: cookie, Origin: origin });
    expect(ok.status).toBe(101);
    ok.ws?.close();
  });

  it('CSRF-less or wrong-CSRF POSTs are rejected', async () => {
    const { cookie, csrf } = await login();
    const variants: Record<string, string>[] = [
      {},
      { 'X-Maru-CSRF': 'wrong' },
      { 'X-Maru-CSRF': csrf + 'x' },
      { 'X-Maru-CSRF': '' },
    ];
    let rejected = 0;
    for (const v of variants) {
      for (const p of ['api/logout', 'api/console-ticket']) {
        const res = await fetch(base + p, {
          method: 'POST',
          headers: { Cookie: cookie, Origin: origin, 'Content-Type': 'application/json', ...v },
          body: JSON.stringify({ vmId: vmA }),
        });
        if (res.status === 403) rejected++;
      }
    }
    console.log(`csrf: ${rejected} of ${variants.length * 2} attempts rejected with 403`);
    expect(rejected).toBe(variants.length * 2);
    // The session still works (nothing was logged out by the forged requests).
    expect((await fetch(base + 'api/session', { headers: { Cookie: cookie } })).status).toBe(200);
  });

  it('console tickets: replayed, expired, other-VM and other-session tickets are rejected', async () => {
    const a = await login();
    const b = await login();
    const ticket = async (s: { cookie: string; csrf: string }, vmId: string) => {
      const res = await fetch(base + 'api/console-ticket', {
        method: 'POST',
        headers: { Cookie: s.cookie, Origin: origin, 'X-Maru-CSRF': s.csrf, 'Content-Type': 'application/json' },
        body: JSON.stringify({ vmId }),
      });
      return ((await res.json()) as { value: { ticket: string } }).value.ticket;
    };
    const h = { Cookie: a.cookie, Origin: origin };
    const good = await ticket(a, vmA);
    const first = await upgrade(`/api/console/${vmA}?ticket=${good}`, h);
    expect(first.status).toBe(101);
    first.ws?.terminate();
    let tried = 0;
    let rejected = 0;
    tried++;
    if ((await upgrade(`/api/console/${vmA}?ticket=${good}`, h)).status === 403) rejected++; // replay
    const forB = await ticket(a, vmB);
    tried++;
    if ((await upgrade(`/api/console/${vmA}?ticket=${forB}`, h)).status === 403) rejected++; // other VM
    const expiring = await ticket(a, vmA);
    await new Promise((r) => setTimeout(r, 400));
    tried++;
    if ((await upgrade(`/api/console/${vmA}?ticket=${expiring}`, h)).status === 403) rejected++; // expired
    const other = await ticket(b, vmA);
    tried++;
    if ((await upgrade(`/api/console/${vmA}?ticket=${other}`, h)).status === 403) rejected++; // other session
    tried++;
    if ((await upgrade(`/api/console/${vmA}?ticket=`, h)).status === 403) rejected++; // none
    console.log(`console tickets: ${rejected} of ${tried} bad tickets rejected`);
    expect(rejected).toBe(tried);
  });

  it('1,000 wrong passwords are throttled after a handful', async () => {
    const counts = { wrong: 0, throttled: 0, other: 0 };
    for (let i = 0; i < 1000; i++) {
      const { status } = await login(`wrong-${i}`);
      if (status === 401) counts.wrong++;
      else if (status === 429) counts.throttled++;
      else counts.other++;
    }
    console.log(
      `1000 wrong passwords: ${counts.wrong} checked (401), ${counts.throttled} throttled (429), ${counts.other} other`,
    );
    expect(counts.other).toBe(0);
    expect(counts.wrong).toBeLessThanOrEqual(8);
    expect(counts.throttled).toBeGreaterThanOrEqual(992);
    // Even the right password is refused while throttled (no oracle).
    expect((await login()).status).toBe(429);
  });
});

describe('maru serve limits', () => {
  // These run with a fresh throttle: a second server on the same home.
  let s2: WebServer;
  let url2: string;
  beforeAll(async () => {
    s2 = new WebServer({
      host: '127.0.0.1',
      port: 0,
      maruHome: home,
      rendererDir: path.join(home, 'web'),
      services: {
        ...createControlServices({ maruHome: home, confineMedia: true }).services,
        host: { info: () => Promise.reject(new Error('unused')), limits: () => Promise.reject(new Error('unused')) },
      },
      limits: { maxControlMessageBytes: 64 * 1024, maxSendBufferBytes: 4 * 1024 * 1024 },
      consoleEndpoint: async (id) => (id === vmA ? rfbPath : null),
      log: () => undefined,
    });
    url2 = (await s2.start()).url;
  });
  afterAll(async () => s2?.close());

  async function session2() {
    const o = url2.replace(/\/$/, '');
    const res = await fetch(url2 + 'api/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Origin: o },
      body: JSON.stringify({ password: PASSWORD }),
    });
    return {
      origin: o,
      cookie: res.headers.get('set-cookie')!.split(';')[0]!,
      csrf: ((await res.json()) as { value: { csrfToken: string } }).value.csrfToken,
    };
  }

  function open(pathname: string, h: Record<string, string>): Promise<WebSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url2.replace('http', 'ws') + pathname.replace(/^\//, ''), { headers: h });
      ws.on('open', () => resolve(ws));
      ws.on('error', reject);
    });
  }

  it('a control call works, and an oversized control message closes the connection', async () => {
    const s = await session2();
    const ws = await open('/api/control', { Cookie: s.cookie, Origin: s.origin });
    const reply = new Promise<{ type: string; result: { ok: boolean; value: { name: string }[] } }>((r) =>
      ws.once('message', (d) => r(JSON.parse(String(d)))),
    );
    ws.send(JSON.stringify({ type: 'call', id: 1, service: 'library', method: 'list', args: [] }));
    const msg = await reply;
    expect(msg.result.ok, JSON.stringify(msg)).toBe(true);
    expect(msg.result.value.map((v) => v.name).sort()).toEqual(['A', 'B']);
    // Invalid arguments are refused by the contract's schema, the socket stays up.
    const bad = new Promise<{ result: { ok: boolean; error: { code: string } } }>((r) =>
      ws.once('message', (d) => r(JSON.parse(String(d)))),
    );
    ws.send(JSON.stringify({ type: 'call', id: 2, service: 'library', method: 'delete', args: [42, {}] }));
    expect((await bad).result.error.code).toBe('INVALID_ARGUMENT');
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.send(
      JSON.stringify({ type: 'call', id: 3, service: 'library', method: 'list', args: ['x'.repeat(200 * 1024)] }),
    );
    const code = await closed;
    console.log(`oversized message: connection closed with ${code}`);
    expect(code).toBe(1009);
  });

  it("logout closes that session's sockets", async () => {
    const s = await session2();
    const ws = await open('/api/control', { Cookie: s.cookie, Origin: s.origin });
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    const res = await fetch(url2 + 'api/logout', {
      method: 'POST',
      headers: { Cookie: s.cookie, Origin: s.origin, 'X-Maru-CSRF': s.csrf, 'Content-Type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(200);
    expect(await closed).toBe(4401);
  });

  it('a console viewer that stops reading keeps server memory bounded', async () => {
    const s = await session2();
    const tRes = await fetch(url2 + 'api/console-ticket', {
      method: 'POST',
      headers: { Cookie: s.cookie, Origin: s.origin, 'X-Maru-CSRF': s.csrf, 'Content-Type': 'application/json' },
      body: JSON.stringify({ vmId: vmA }),
    });
    const ticket = ((await tRes.json()) as { value: { ticket: string } }).value.ticket;
    global.gc?.();
    const before = process.memoryUsage();
    floodBytes = 0;
    const ws = await open(`/api/console/${vmA}?ticket=${ticket}`, { Cookie: s.cookie, Origin: s.origin });
    // Stop reading: the TCP socket under the client is paused.
    (ws as unknown as { _socket: net.Socket })._socket.pause();
    let peakRss = before.rss;
    let peakHeap = before.heapUsed + before.external + before.arrayBuffers;
    for (let i = 0; i < 40; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakHeap = Math.max(peakHeap, m.heapUsed + m.external + m.arrayBuffers);
    }
    const growthMiB = (peakHeap - (before.heapUsed + before.external + before.arrayBuffers)) / 2 ** 20;
    console.log(
      `slow reader: engine offered ${(floodBytes / 2 ** 20).toFixed(1)} MiB in 2 s; ` +
        `server heap+buffers grew by ${growthMiB.toFixed(1)} MiB at peak; peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB`,
    );
    // The send buffer bound is 4 MiB; pausing upstream stops the rest at the socket.
    expect(growthMiB).toBeLessThan(48);
    expect(floodBytes).toBeLessThan(64 * 1024 * 1024);
    ws.terminate();
  });

  it('refuses a non-loopback address without TLS, with the reason', () => {
    expect(
      () =>
        new WebServer({
          host: '0.0.0.0',
          port: 0,
          maruHome: home,
          rendererDir: home,
          services: {
            ...createControlServices({ maruHome: home, confineMedia: true }).services,
            host: { info: () => Promise.reject(new Error('x')), limits: () => Promise.reject(new Error('x')) },
          },
        }),
    ).toThrow(/without TLS/);
  });
});
