// What a web console user may touch, through the real road (login, control WebSocket, the
// contract's dispatcher, the real library): server paths only in the ISO folders and the
// library, with the same answer for a missing and a forbidden path; port forwards on loopback
// unless the owner started the server with --allow-remote-forwards.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WebSocket } from 'ws';
import { WebServer } from '../../../src-main/server/web-server';
import { setPassword } from '../../../src-main/server/password-store';
import { createControlServices } from '../../../src-main/services/control-services';

const PASSWORD = 'confinement password';
const ISO = path.resolve('tests/fixtures/build/maru-test-bios-uefi.iso');
let home: string;
const servers: WebServer[] = [];

interface Result {
  ok: boolean;
  value?: { vm?: { config: { id: string; cdroms: { iso: string | null }[] } } };
  error?: { code: string; message: string };
}

/** A signed-in control socket on a new server; `call` sends one control call and waits for its result. */
async function connect(options: { allowRemoteForwards?: boolean } = {}) {
  const server = new WebServer({
    host: '127.0.0.1',
    port: 0,
    maruHome: home,
    rendererDir: path.join(home, 'web'),
    services: createControlServices({ maruHome: home, confineMedia: true }).services,
    isoFolders: [],
    ...options,
    log: () => undefined,
  });
  servers.push(server);
  const { url } = await server.start();
  const origin = url.replace(/\/$/, '');
  const login = await fetch(url + 'api/login', {
    method: 'POST',
    headers: { Origin: origin, 'Content-Type': 'application/json' },
    body: JSON.stringify({ password: PASSWORD }),
  });
  const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
  const ws = await new Promise<WebSocket>((resolve, reject) => {
    const s = new WebSocket(url.replace('http', 'ws') + 'api/control', { headers: { Cookie: cookie, Origin: origin } });
    s.on('open', () => resolve(s));
    s.on('error', reject);
  });
  let nextId = 1;
  const call = (service: string, method: string, args: unknown[]) =>
    new Promise<Result>((resolve) => {
      const id = nextId++;
      const onMessage = (data: Buffer) => {
        const msg = JSON.parse(String(data)) as { type: string; id?: number; result?: Result };
        if (msg.type === 'result' && msg.id === id) {
          ws.off('message', onMessage);
          resolve(msg.result!);
        }
      };
      ws.on('message', onMessage);
      ws.send(JSON.stringify({ type: 'call', id, service, method, args }));
    });
  return { call, close: () => ws.close() };
}

beforeAll(async () => {
  home = mkdtempSync(path.join(os.tmpdir(), 'maru-confine-'));
  mkdirSync(path.join(home, 'web'));
  mkdirSync(path.join(home, 'isos'));
  copyFileSync(ISO, path.join(home, 'isos', 'installer.iso'));
  await setPassword(home, PASSWORD);
});

afterAll(async () => {
  for (const s of servers) await s.close();
  rmSync(home, { recursive: true, force: true });
});

describe('web console confinement', () => {
  it('host paths: the ISO folder works; /etc/shadow and a missing path get the same refusal everywhere', async () => {
    const c = await connect();
    try {
      const ok = await c.call('library', 'create', [
        { name: 'installer', os: 'linux64', diskGiB: 0, iso: path.join(home, 'isos', 'installer.iso') },
      ]);
      expect(ok.ok, JSON.stringify(ok)).toBe(true);
      const id = ok.value!.vm!.config.id;
      const attempts: [string, (p: string) => unknown[]][] = [
        ['library.create', (p) => [{ name: 'x', os: 'linux64', diskGiB: 0, iso: p }]],
        ['library.modify', (p) => [id, { iso: p }]],
        ['vm.attachIso', (p) => [id, p]],
        ['vm.changeMedium', (p) => [id, 'floppy', p]],
        ['library.attachStorage', (p) => [id, { type: 'hdd', medium: p }]],
        ['disks.createFloppy', (p) => [p, '1.44M']],
        ['media.detectIso', (p) => [p]],
      ];
      for (const [key, args] of attempts) {
        const [service, method] = key.split('.') as [string, string];
        const forbidden = await c.call(service, method, args('/etc/shadow'));
        const missing = await c.call(service, method, args('/etc/no-such-file'));
        expect(forbidden.ok, key).toBe(false);
        expect(missing.ok, key).toBe(false);
        expect(forbidden.error!.code).toBe(missing.error!.code);
        expect(forbidden.error!.message.replace('/etc/shadow', '<p>'), key).toBe(
          missing.error!.message.replace('/etc/no-such-file', '<p>'),
        );
      }
      // Nothing was stored: the VM still has its own ISO.
      const shown = (await c.call('library', 'show', [id])) as {
        value: { config: { cdroms: { iso: string }[] } };
      } & Result;
      expect(shown.value.config.cdroms[0]!.iso).toBe(path.join(home, 'isos', 'installer.iso'));
    } finally {
      c.close();
    }
  });

  it('port forwards: loopback only from the web, unless the owner allows more', async () => {
    const c = await connect();
    const forward = (hostAddress: string) => ({
      nics: [
        {
          attachment: 'nat',
          model: 'virtio-net',
          cableConnected: true,
          portForwards: [{ protocol: 'tcp', hostAddress, hostPort: 2222, guestPort: 22 }],
        },
      ],
    });
    try {
      const created = await c.call('library', 'create', [{ name: 'ssh box', os: 'linux64', diskGiB: 0 }]);
      const id = created.value!.vm!.config.id;
      for (const address of ['0.0.0.0', '::', '192.168.1.10']) {
        const r = await c.call('library', 'modify', [id, forward(address)]);
        expect(r.ok, address).toBe(false);
        expect(r.error!.message).toMatch(/loopback only/);
      }
      expect((await c.call('library', 'modify', [id, forward('127.0.0.1')])).ok).toBe(true);
      const open = await connect({ allowRemoteForwards: true });
      try {
        expect((await open.call('library', 'modify', [id, forward('0.0.0.0')])).ok).toBe(true);
      } finally {
        open.close();
      }
    } finally {
      c.close();
    }
  });
});
