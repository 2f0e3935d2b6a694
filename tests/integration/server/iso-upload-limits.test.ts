// ISO uploads to a real `maru serve` over real HTTP: an upload has no total time limit (a
// slow but steady one outlives the server's request time limit), a stalled one is aborted
// with a clear answer and its partial file removed, and uploads started together get exactly
// the concurrency limit's worth of slots.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WebServer } from '../../../src-main/server/web-server';
import { setPassword } from '../../../src-main/server/password-store';
import { createControlServices } from '../../../src-main/services/control-services';

const ISO = path.resolve('tests/fixtures/build/maru-test-bios-uefi.iso');
const PASSWORD = 'upload limits password';
const REQUEST_TIMEOUT_MS = 1000;
const IDLE_TIMEOUT_MS = 1500;
let home: string;
let server: WebServer;
let port: number;
let origin: string;
let auth: Record<string, string>;
const logs: string[] = [];

interface Reply {
  status: number;
  body: string;
  connection: string | undefined;
}

/**
 * Starts a POST whose body the caller writes: `send` writes a chunk, `wait` resolves with the
 * answer (or the connection error), `abort` drops the connection.
 */
function startRequest(route: string, length: number, headers: Record<string, string>) {
  let settle!: (r: Reply | Error) => void;
  const answer = new Promise<Reply | Error>((r) => (settle = r));
  const req = http.request(
    {
      host: '127.0.0.1',
      port,
      path: route,
      method: 'POST',
      agent: false,
      headers: { Origin: origin, ...auth, 'Content-Length': String(length), ...headers },
    },
    (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        settle({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString(),
          connection: res.headers.connection,
        }),
      );
      res.on('error', (e) => settle(e));
    },
  );
  req.on('error', (e) => settle(e));
  req.flushHeaders();
  return {
    send: (chunk: Buffer) => new Promise<void>((r) => (req.write(chunk) ? r() : req.once('drain', () => r()))),
    end: () => req.end(),
    abort: () => req.destroy(),
    wait: () => answer,
  };
}

const startUpload = (name: string, length: number) =>
  startRequest(`/api/isos/upload?name=${encodeURIComponent(name)}`, length, {
    'Content-Type': 'application/octet-stream',
  });

const isoFolder = () => path.join(home, 'isos');
const partFiles = () => (existsSync(isoFolder()) ? readdirSync(isoFolder()).filter((f) => f.endsWith('.part')) : []);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

beforeAll(async () => {
  home = mkdtempSync(path.join(os.tmpdir(), 'maru-upload-'));
  mkdirSync(path.join(home, 'web'));
  await setPassword(home, PASSWORD);
  server = new WebServer({
    host: '127.0.0.1',
    port: 0,
    maruHome: home,
    rendererDir: path.join(home, 'web'),
    services: createControlServices({ maruHome: home, confineMedia: true }).services,
    limits: {
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      uploadIdleTimeoutMs: IDLE_TIMEOUT_MS,
      maxConcurrentUploads: 2,
    },
    log: (l) => logs.push(l),
  });
  const { url } = await server.start();
  port = server.port;
  origin = url.replace(/\/$/, '');
  const res = await fetch(url + 'api/login', {
    method: 'POST',
    headers: { Origin: origin, 'Content-Type': 'application/json' },
    body: JSON.stringify({ password: PASSWORD }),
  });
  const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
  const csrf = ((await res.json()) as { value: { csrfToken: string } }).value.csrfToken;
  auth = { Cookie: cookie, 'X-Maru-CSRF': csrf };
});

afterAll(async () => {
  await server?.close();
  rmSync(home, { recursive: true, force: true });
});

describe('ISO upload time limits', () => {
  it('a slow but steady upload takes several times the request time limit and still completes', async () => {
    const bytes = readFileSync(ISO);
    const upload = startUpload('slow.iso', bytes.length);
    const started = Date.now();
    const pieces = 16;
    const size = Math.ceil(bytes.length / pieces);
    for (let i = 0; i < pieces; i++) {
      await upload.send(bytes.subarray(i * size, (i + 1) * size));
      await sleep(250);
    }
    upload.end();
    const reply = await upload.wait();
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `slow upload: ${bytes.length} bytes over ${seconds.toFixed(1)} s (request limit ${REQUEST_TIMEOUT_MS} ms)`,
    );
    expect(reply).not.toBeInstanceOf(Error);
    expect((reply as Reply).status, (reply as Reply).body).toBe(200);
    expect(seconds * 1000).toBeGreaterThan(3 * REQUEST_TIMEOUT_MS);
    expect(statSync(path.join(isoFolder(), 'slow.iso')).size).toBe(bytes.length);
    expect(partFiles()).toEqual([]);
  });

  it('an upload that is refused (no session) is answered at once and its connection closed, not drained', async () => {
    const saved = auth;
    auth = {};
    try {
      const upload = startUpload('anonymous.iso', 10_000_000);
      await upload.send(Buffer.alloc(64 * 1024, 1));
      const reply = await upload.wait();
      expect(reply).not.toBeInstanceOf(Error);
      expect((reply as Reply).status).toBe(401);
      expect((reply as Reply).connection).toBe('close');
      upload.abort();
    } finally {
      auth = saved;
    }
  });

  it('other requests still have the total time limit: a JSON body that trickles in gets 408', async () => {
    const body = Buffer.from(JSON.stringify({ vmId: '00000000-0000-4000-8000-000000000000' }));
    const req = startRequest('/api/console-ticket', body.length, { 'Content-Type': 'application/json' });
    await req.send(body.subarray(0, 5));
    const reply = await req.wait();
    expect(reply).not.toBeInstanceOf(Error);
    expect((reply as Reply).status).toBe(408);
  });

  it('an upload that stops sending is aborted after the idle limit, with a message, and its partial file removed', async () => {
    logs.length = 0;
    const upload = startUpload('stalled.iso', 10_000_000);
    await upload.send(Buffer.alloc(256 * 1024, 1));
    await until('the part file', () => partFiles().length === 1);
    const started = Date.now();
    const reply = await upload.wait();
    const waited = Date.now() - started;
    expect(reply).not.toBeInstanceOf(Error);
    const { status, body } = reply as Reply;
    console.log(`stalled upload: ${status} after ${waited} ms: ${body}`);
    expect(status).toBe(408);
    expect(body).toMatch(/no data arrived for 2 s.*removed the partial file/);
    expect(waited).toBeLessThan(IDLE_TIMEOUT_MS + 2000);
    await until('the part file to go', () => partFiles().length === 0);
    expect(readdirSync(isoFolder()).filter((f) => f.startsWith('stalled'))).toEqual([]);
    expect(logs.some((l) => /stalled .*partial file removed/.test(l))).toBe(true);
    upload.abort();
  });
});

describe('ISO upload concurrency', () => {
  it('six uploads started together with a limit of two: two in progress, four refused with a message', async () => {
    const uploads = Array.from({ length: 6 }, (_, i) => startUpload(`parallel-${i}.iso`, 20_000_000));
    await Promise.all(uploads.map((u) => u.send(Buffer.alloc(64 * 1024, 7))));
    // Answers within a second (well inside the idle limit, so the two accepted ones stay alive).
    const window = sleep(1000).then(() => null);
    const answers = await Promise.all(uploads.map((u) => Promise.race([u.wait(), window])));
    const refused = answers.filter((r): r is Reply => r !== null && !(r instanceof Error));
    console.log(
      `six parallel uploads: ${refused.length} refused (${refused.map((r) => r.status).join(', ')}), ` +
        `${server.uploadsInProgress} in progress`,
    );
    expect(refused.map((r) => r.status)).toEqual([429, 429, 429, 429]);
    expect(JSON.parse(refused[0]!.body)).toMatchObject({ error: { message: expect.stringMatching(/limit is 2/) } });
    expect(server.uploadsInProgress).toBe(2);
    await until('two part files', () => partFiles().length === 2);
    for (const u of uploads) u.abort();
    await until('the uploads to end', () => server.uploadsInProgress === 0 && partFiles().length === 0);
  });
});
