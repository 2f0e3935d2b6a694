// Login throttling and client errors of `maru serve`, against a real server over real HTTP on
// loopback. Clients are told apart by their TCP source address — each test client binds its
// own loopback address (127.0.0.2, .3, …; Linux routes all of 127/8 to lo), because the server
// must not trust a header such as X-Forwarded-For that any client can set.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WebServer } from '../../../src-main/server/web-server';
import { setPassword } from '../../../src-main/server/password-store';
import { createControlServices } from '../../../src-main/services/control-services';

const PASSWORD = 'the owner password';
const FREE_ATTEMPTS = 5;
let home: string;
let server: WebServer;
let port: number;
let origin: string;
const logs: string[] = [];

interface Reply {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** One POST from `client` (a loopback source address); the body is sent as given. */
function post(
  client: string,
  route: string,
  body: string | Buffer,
  headers: Record<string, string> = { 'Content-Type': 'application/json' },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: route,
        method: 'POST',
        localAddress: client,
        agent: false,
        headers: { Origin: origin, 'Content-Length': String(Buffer.byteLength(body)), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const login = (client: string, password: string) => post(client, '/api/login', JSON.stringify({ password }));

function tally(replies: Reply[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const r of replies) out[r.status] = (out[r.status] ?? 0) + 1;
  return out;
}

beforeAll(async () => {
  home = mkdtempSync(path.join(os.tmpdir(), 'maru-throttle-'));
  mkdirSync(path.join(home, 'web'));
  await setPassword(home, PASSWORD);
  server = new WebServer({
    host: '127.0.0.1',
    port: 0,
    maruHome: home,
    rendererDir: path.join(home, 'web'),
    services: createControlServices({ maruHome: home, confineMedia: true }).services,
    limits: { loginFreeAttempts: FREE_ATTEMPTS },
    log: (l) => logs.push(l),
  });
  const { url } = await server.start();
  port = server.port;
  origin = url.replace(/\/$/, '');
});

afterAll(async () => {
  await server?.close();
  rmSync(home, { recursive: true, force: true });
});

describe('login throttling per client', () => {
  it('80 parallel wrong passwords from one client: only the free attempts are checked, the rest get 429', async () => {
    const replies = await Promise.all(Array.from({ length: 80 }, (_, i) => login('127.0.0.2', `wrong-${i}`)));
    const counts = tally(replies);
    console.log(`80 parallel wrong passwords from 127.0.0.2: ${JSON.stringify(counts)}`);
    expect(counts[401]).toBe(FREE_ATTEMPTS);
    expect(counts[429]).toBe(80 - FREE_ATTEMPTS);
    expect(replies.find((r) => r.status === 429)?.headers['retry-after']).toMatch(/^\d+$/);
    // That client is now backing off, even with the right password (no oracle).
    expect((await login('127.0.0.2', PASSWORD)).status).toBe(429);
  });

  it('61 malformed logins are 400s (no 500, no stack trace), count as failures, and lock nobody else out', async () => {
    logs.length = 0;
    const replies = await Promise.all(
      Array.from({ length: 61 }, (_, i) => post('127.0.0.3', '/api/login', `{"password": "unterminated ${i}`)),
    );
    const counts = tally(replies);
    console.log(`61 malformed logins from 127.0.0.3: ${JSON.stringify(counts)}`);
    expect(counts).toEqual({ 400: 61 });
    expect(JSON.parse(replies[0]!.body)).toMatchObject({
      ok: false,
      error: { message: expect.stringMatching(/JSON/) },
    });
    expect(replies.every((r) => !/\bat \S+ \(/.test(r.body))).toBe(true);
    expect(logs.filter((l) => /\n\s+at /.test(l) || / 500 /.test(l))).toEqual([]);
    // The malformed attempts counted: this client now waits.
    expect((await login('127.0.0.3', PASSWORD)).status).toBe(429);
    // The owner, from another address, gets in at once.
    const owner = await login('127.0.0.4', PASSWORD);
    expect(owner.status, owner.body).toBe(200);
    expect(owner.headers['set-cookie']?.[0]).toMatch(/^maru_session=/);
  });

  it('the owner gets in while other clients flood the login at the same time', async () => {
    const flood = [
      ...Array.from({ length: 40 }, (_, i) => login('127.0.0.5', `flood-${i}`)),
      ...Array.from({ length: 40 }, () => post('127.0.0.6', '/api/login', 'not json')),
    ];
    const owner = login('127.0.0.7', PASSWORD);
    const [ownerReply, floodReplies] = await Promise.all([owner, Promise.all(flood)]);
    console.log(`flood from two clients: ${JSON.stringify(tally(floodReplies))}; owner: ${ownerReply.status}`);
    expect(ownerReply.status).toBe(200);
    expect(tally(floodReplies)[401]).toBe(FREE_ATTEMPTS);
  });
});

describe('client errors are 4xx on every route, never a 500', () => {
  it('wrong Content-Type is 415, an oversized body 413, bad JSON 400 — on login and on an API route', async () => {
    const owner = await login('127.0.0.8', PASSWORD);
    const cookie = String(owner.headers['set-cookie']?.[0]).split(';')[0]!;
    const csrf = (JSON.parse(owner.body) as { value: { csrfToken: string } }).value.csrfToken;
    const signedIn = { Cookie: cookie, 'X-Maru-CSRF': csrf };
    logs.length = 0;
    const big = JSON.stringify({ password: 'x'.repeat(200 * 1024) });
    const cases: [string, string, Record<string, string>, number][] = [
      ['/api/login', '{"password":"x"}', { 'Content-Type': 'text/plain' }, 415],
      ['/api/login', big, { 'Content-Type': 'application/json' }, 413],
      ['/api/login', '[1,2', { 'Content-Type': 'application/json' }, 400],
      ['/api/console-ticket', '{"vmId":"x"}', { ...signedIn, 'Content-Type': 'text/plain' }, 415],
      ['/api/console-ticket', big, { ...signedIn, 'Content-Type': 'application/json' }, 413],
      ['/api/console-ticket', '{"vmId":', { ...signedIn, 'Content-Type': 'application/json' }, 400],
      ['/api/console-ticket', 'null', { ...signedIn, 'Content-Type': 'application/json' }, 400],
    ];
    for (const [route, body, headers, status] of cases) {
      // A fresh client address per case: the login cases must not be throttled by each other.
      const r = await post(
        `127.0.1.${cases.findIndex((c) => c[1] === body && c[0] === route) + 1}`,
        route,
        body,
        headers,
      );
      expect(r.status, `${route} ${body.slice(0, 20)}: ${r.body}`).toBe(status);
      expect((JSON.parse(r.body) as { ok: boolean }).ok).toBe(false);
    }
    expect(logs).toEqual([]);
  });
});
