// `maru serve --set-password` through the real CLI bundle (dist/cli/maru.js) with a piped
// stdin: one line per prompt, so the password never holds the line break or the second
// answer; then that password logs in to a real server over HTTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WebServer } from '../../../src-main/server/web-server';
import { createControlServices } from '../../../src-main/services/control-services';

const CLI = path.resolve('dist/cli/maru.js');
let home: string;

function setPassword(stdin: string, ...flags: string[]) {
  const r = spawnSync(process.execPath, [CLI, 'serve', '--set-password', ...flags], {
    input: stdin,
    env: { ...process.env, MARU_HOME: home },
    encoding: 'utf8',
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Logs in to a fresh server on `home`; the HTTP status. */
async function loginStatus(password: string): Promise<number> {
  const server = new WebServer({
    host: '127.0.0.1',
    port: 0,
    maruHome: home,
    rendererDir: path.join(home, 'web'),
    services: createControlServices({ maruHome: home, confineMedia: true }).services,
    log: () => undefined,
  });
  const { url } = await server.start();
  try {
    const res = await fetch(url + 'api/login', {
      method: 'POST',
      headers: { Origin: url.replace(/\/$/, ''), 'Content-Type': 'application/json' },
      body: JSON.stringify({ password }),
    });
    return res.status;
  } finally {
    await server.close();
  }
}

beforeAll(() => {
  const b = spawnSync(process.execPath, ['scripts/build.mjs', '--node-only', '--quiet'], { encoding: 'utf8' });
  if (b.status !== 0) throw new Error(`build failed: ${b.stderr}`);
  home = mkdtempSync(path.join(os.tmpdir(), 'maru-setpw-'));
  mkdirSync(path.join(home, 'web'));
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('maru serve --set-password from a pipe', () => {
  it("printf 'pw\\npw\\n' | … sets pw, which then logs in over HTTP", async () => {
    const r = setPassword('piped password\npiped password\n');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/password set/);
    expect(await loginStatus('piped password')).toBe(200);
    expect(await loginStatus('piped password\npiped password')).toBe(401);
  });

  it('two different lines are refused and change nothing', async () => {
    const r = setPassword('first password\nsecond password\n');
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/differ; nothing was changed/);
    expect(await loginStatus('piped password')).toBe(200);
  });

  it('one line without --password-stdin asks for the second; with it, one line is the password (CRLF too)', async () => {
    const once = setPassword('lonely password\n');
    expect(once.code).not.toBe(0);
    expect(once.err).toMatch(/asked twice/);
    const r = setPassword('stdin password\r\nignored second line\n', '--password-stdin');
    expect(r.code, r.err).toBe(0);
    expect(await loginStatus('stdin password')).toBe(200);
  });
});
