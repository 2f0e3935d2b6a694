// The media service's server-side ISO picker and the web console's upload route, on real
// files and a real HTTP server: confinement to the allowed folders, sanitized names, no
// overwrite, size limits, non-ISOs rejected and deleted, aborted uploads cleaned up.
import http from 'node:http';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../../../src-shared/errors';
import { Media, isoFolder, isoFoldersFromEnv } from '../../../../src-main/services/iso-detect/media-service';
import { IsoUploads, sanitizeIsoName } from '../../../../src-main/server/iso-upload';
import type { IsoUploadResult } from '../../../../src-shared/contracts/iso-upload';
import { hasTool, writeTree, xorrisoIso } from './iso-builders';

let tmp: string;
let home: string;
let sampleIso: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'maru-media-'));
  home = path.join(tmp, 'home');
  mkdirSync(home);
  const fixture = path.resolve('tests/fixtures/build/maru-test-i386.iso');
  if (hasTool('xorriso')) {
    const dir = writeTree(path.join(tmp, 'tree'), { '.disk/info': 'Test medium (i386)', 'isolinux/x': 'x' });
    sampleIso = xorrisoIso(path.join(tmp, 'sample.iso'), 'SAMPLE', dir);
  } else sampleIso = fixture;
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

async function error(p: Promise<unknown>): Promise<AppError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(AppError);
  return e as AppError;
}

describe('ISO folders (server-side picking)', () => {
  it('lists the allowed roots, ISOs and folders inside them, never outside', async () => {
    const extra = path.join(tmp, 'library');
    mkdirSync(path.join(extra, 'linux'), { recursive: true });
    writeFileSync(path.join(extra, 'linux', 'debian.iso'), readFileSync(sampleIso));
    writeFileSync(path.join(extra, 'notes.txt'), 'x');
    writeFileSync(path.join(extra, '.hidden.iso'), 'x');
    const outside = path.join(tmp, 'secret');
    mkdirSync(outside);
    writeFileSync(path.join(outside, 'secret.iso'), 'x');
    symlinkSync(outside, path.join(extra, 'escape'));
    symlinkSync(path.join(outside, 'secret.iso'), path.join(extra, 'escape.iso'));
    const media = new Media({
      maruHome: home,
      extraFolders: [extra, path.join(tmp, 'missing')],
      confineDetection: true,
    });

    const roots = await media.listIsoFolder(null);
    expect(roots.roots).toEqual([isoFolder(home), extra]);
    expect(roots.entries.map((e) => e.kind)).toEqual(['folder', 'folder']);

    const top = await media.listIsoFolder(extra);
    expect(top.entries.map((e) => `${e.kind}:${e.name}`)).toEqual(['folder:linux']);
    expect(top.parent).toBeNull();
    const sub = await media.listIsoFolder(path.join(extra, 'linux'));
    expect(sub.entries).toEqual([
      { name: 'debian.iso', path: path.join(extra, 'linux', 'debian.iso'), kind: 'iso', sizeBytes: expect.any(Number) },
    ]);
    expect(sub.parent).toBe(extra);

    expect((await error(media.listIsoFolder(outside))).message).toMatch(/outside the folders the web console may read/);
    expect((await error(media.listIsoFolder(path.join(extra, 'escape')))).message).toMatch(/outside/);
    expect((await error(media.listIsoFolder('relative/path'))).message).toMatch(/not an absolute path/);
    expect((await error(media.detectIso(path.join(outside, 'secret.iso')))).message).toMatch(/outside/);
    expect((await error(media.detectIso('/etc/passwd'))).message).toMatch(/outside/);

    const d = await media.detectIso(path.join(extra, 'linux', 'debian.iso'));
    expect(d.preset).toBe('linux32');
    // The desktop (not confined) may detect any file the user dropped.
    const desktop = new Media({ maruHome: home, confineDetection: false });
    expect((await desktop.detectIso(sampleIso)).path).toBe(sampleIso);
  });

  it('MARU_ISO_FOLDERS: absolute paths only', () => {
    expect(isoFoldersFromEnv({ MARU_ISO_FOLDERS: `/a${path.delimiter}rel${path.delimiter}/b ` })).toEqual(['/a', '/b']);
    expect(isoFoldersFromEnv({})).toEqual([]);
  });
});

describe('upload names', () => {
  it('are sanitized file names ending in .iso', () => {
    expect(sanitizeIsoName('ubuntu-24.04-desktop-amd64.iso')).toBe('ubuntu-24.04-desktop-amd64.iso');
    expect(sanitizeIsoName('../../etc/passwd')).toBe('passwd.iso');
    expect(sanitizeIsoName('C:\\Users\\me\\Win11_23H2.ISO')).toBe('Win11_23H2.iso');
    expect(sanitizeIsoName('.hidden.iso')).toBe('hidden.iso');
    expect(sanitizeIsoName('a;rm -rf *|x.iso')).toBe('a_rm -rf __x.iso');
    expect(sanitizeIsoName('윈도우 11.iso')).toBe('윈도우 11.iso');
    expect(sanitizeIsoName('')).toBe('upload.iso');
    expect(sanitizeIsoName('x'.repeat(300)).length).toBe(120);
  });
});

describe('the upload route', () => {
  let server: http.Server;
  let port: number;
  let uploads: IsoUploads;
  const logs: string[] = [];
  beforeAll(async () => {
    uploads = new IsoUploads({ maruHome: home, maxBytes: 64 * 1024 * 1024, log: (l) => logs.push(l) });
    server = http.createServer((req, res) => {
      void uploads.handle(req, res, new URL(req.url ?? '/', 'http://x'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  type UploadBody = { ok: true; value: IsoUploadResult } | { ok: false; error: { code: string; message: string } };
  async function post(name: string, body: Buffer, type = 'application/octet-stream') {
    const res = await fetch(`http://127.0.0.1:${port}/api/isos/upload?name=${encodeURIComponent(name)}`, {
      method: 'POST',
      headers: { 'Content-Type': type },
      body: new Uint8Array(body.buffer as ArrayBuffer, body.byteOffset, body.length),
    });
    const json = (await res.json()) as UploadBody;
    return {
      status: res.status,
      value: json.ok ? json.value : null,
      error: json.ok ? null : json.error,
    };
  }
  const files = () => readdirSync(isoFolder(home)).sort();

  it('stores an ISO under its sanitized name, detects it, and never overwrites', async () => {
    const iso = readFileSync(sampleIso);
    const a = await post('../My Linux.iso', iso);
    expect(a.status).toBe(200);
    expect(a.value?.path).toBe(path.join(isoFolder(home), 'My Linux.iso'));
    expect(a.value?.detection).toMatchObject({ preset: 'linux32', path: a.value?.path });
    const b = await post('My Linux.iso', iso);
    expect(b.value?.path).toBe(path.join(isoFolder(home), 'My Linux-2.iso'));
    expect(files()).toEqual(['My Linux-2.iso', 'My Linux.iso']);
    expect(readFileSync(a.value!.path).equals(iso)).toBe(true);
  });

  it('rejects a non-ISO with the detector’s message (about the user’s file) and deletes it', async () => {
    const before = files();
    const r = await post('holiday.iso', Buffer.alloc(64 * 1024, 0x41));
    expect(r.status).toBe(422);
    expect(r.error?.message).toBe('holiday.iso is not an ISO image (no CD001 signature at byte 32769).');
    expect(files()).toEqual(before);
  });

  it('refuses a declared size over the limit, a wrong content type, and no name', async () => {
    const small = new IsoUploads({ maruHome: home, maxBytes: 1000 });
    const s = http.createServer((req, res) => void small.handle(req, res, new URL(req.url ?? '/', 'http://x')));
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const p = (s.address() as net.AddressInfo).port;
    const big = await fetch(`http://127.0.0.1:${p}/api/isos/upload?name=x.iso`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: new Uint8Array(5000),
    });
    expect(big.status).toBe(413);
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
    expect((await post('x.iso', Buffer.alloc(10), 'text/plain')).status).toBe(415);
    expect((await post('', Buffer.alloc(10))).status).toBe(400);
  });

  it('removes the partial file when the client aborts', async () => {
    const before = files();
    const sock = net.connect(port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.write(
      'POST /api/isos/upload?name=partial.iso HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n' +
        'Content-Length: 10000000\r\n\r\n',
    );
    sock.write(Buffer.alloc(256 * 1024, 1));
    // The part file exists while the body streams in.
    for (let i = 0; i < 50 && !readdirSync(isoFolder(home)).some((f) => f.endsWith('.part')); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(readdirSync(isoFolder(home)).some((f) => f.startsWith('.upload-') && f.endsWith('.part'))).toBe(true);
    sock.destroy();
    for (let i = 0; i < 100 && readdirSync(isoFolder(home)).some((f) => f.endsWith('.part')); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(files()).toEqual(before);
    expect(logs.some((l) => /cancelled by the client; partial file removed/.test(l))).toBe(true);
  });
});

describe('the upload route in the web console', () => {
  it('needs a session, the CSRF token and the page’s Origin; then stores the ISO', async () => {
    const { WebServer } = await import('../../../../src-main/server/web-server');
    const { setPassword } = await import('../../../../src-main/server/password-store');
    const { createControlServices } = await import('../../../../src-main/services/control-services');
    const h = path.join(tmp, 'web-home');
    mkdirSync(path.join(h, 'web'), { recursive: true });
    await setPassword(h, 'pw for uploads');
    const server = new WebServer({
      host: '127.0.0.1',
      port: 0,
      maruHome: h,
      rendererDir: path.join(h, 'web'),
      services: createControlServices({ maruHome: h, confineMedia: true }).services,
      log: () => undefined,
    });
    const { url } = await server.start();
    const origin = url.replace(/\/$/, '');
    try {
      const login = await fetch(url + 'api/login', {
        method: 'POST',
        headers: { Origin: origin, 'Content-Type': 'application/json' },
        body: JSON.stringify({ password: 'pw for uploads' }),
      });
      const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
      const { value } = (await login.json()) as { value: { csrfToken: string } };
      const bytes = new Uint8Array(readFileSync(sampleIso));
      const upload = (headers: Record<string, string>) =>
        fetch(url + 'api/isos/upload?name=web.iso', {
          method: 'POST',
          headers: { 'Content-Type': 'application/octet-stream', ...headers },
          body: bytes,
        });
      expect((await upload({ Origin: origin, 'X-Maru-CSRF': value.csrfToken })).status).toBe(401);
      expect((await upload({ Cookie: cookie, Origin: origin })).status).toBe(403);
      expect((await upload({ Cookie: cookie, 'X-Maru-CSRF': value.csrfToken })).status).toBe(403);
      expect(
        (await upload({ Cookie: cookie, Origin: 'http://evil.example', 'X-Maru-CSRF': value.csrfToken })).status,
      ).toBe(403);
      expect(existsSync(isoFolder(h))).toBe(false);
      const ok = await upload({ Cookie: cookie, Origin: origin, 'X-Maru-CSRF': value.csrfToken });
      expect(ok.status).toBe(200);
      expect(readdirSync(isoFolder(h))).toEqual(['web.iso']);
    } finally {
      await server.close();
    }
  });
});
