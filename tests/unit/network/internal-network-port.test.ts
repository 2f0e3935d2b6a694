// Internal networks without a central process (src-emulator/network/internal-network-port.ts):
// real ports on real unix sockets in a temporary data folder, each with a fake VM that speaks
// QEMU's stream framing as `-netdev stream,server=off` does. Frames relay between VMs, unicast
// goes only where its destination lives, ports that leave are forgotten, stale socket files go,
// a broken stream costs only its own connection, networks stay apart, slow receivers lose frames.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FrameDecoder, encodeFrame, frameHeader } from '../../../src-emulator/network/frame-stream';
import { InternalNetworkPort } from '../../../src-emulator/network/internal-network-port';
import { nicSocketFile } from '../../../src-node/run-folder';

const BROADCAST = 'ff:ff:ff:ff:ff:ff';

function macBytes(mac: string): Buffer {
  return Buffer.from(mac.split(':').map((h) => parseInt(h, 16)));
}

/** An Ethernet frame (local experimental EtherType 0x88b5) carrying `text`. */
function ethFrame(dst: string, src: string, text: string): Buffer {
  const payload = Buffer.from(text);
  return Buffer.concat([
    macBytes(dst),
    macBytes(src),
    Buffer.of(0x88, 0xb5),
    payload,
    Buffer.alloc(Math.max(0, 46 - payload.length)),
  ]);
}

function textOf(frame: Buffer): string {
  return frame.subarray(14).toString().replace(/\0+$/, '');
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A VM on a port's VM socket, as QEMU's stream netdev client. */
class FakeVm {
  readonly frames: Buffer[] = [];
  closed = false;
  private constructor(
    readonly mac: string,
    readonly socket: net.Socket,
  ) {
    const decoder = new FrameDecoder((f) => this.frames.push(Buffer.from(f)));
    socket.on('data', (c: Buffer) => decoder.push(c));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => undefined);
  }

  static connect(socketPath: string, mac: string): Promise<FakeVm> {
    return new Promise((resolve, reject) => {
      const s = net.createConnection(socketPath, () => resolve(new FakeVm(mac, s)));
      s.once('error', reject);
    });
  }

  send(dst: string, text: string): void {
    this.socket.write(encodeFrame(ethFrame(dst, this.mac, text)));
  }

  texts(): string[] {
    return this.frames.map(textOf);
  }

  /** Waits until a frame with `text` arrived; returns the texts received so far. */
  async received(text: string): Promise<string[]> {
    await waitFor(`${this.mac} to receive ${text} (has ${this.texts().join(', ')})`, () => this.texts().includes(text));
    return this.texts();
  }
}

let home: string;
const ports: InternalNetworkPort[] = [];
const vms: FakeVm[] = [];
const logs: string[] = [];

beforeEach(async () => {
  home = await mkdtemp(path.join(os.tmpdir(), 'maru-net-'));
  logs.length = 0;
});

afterEach(async () => {
  for (const v of vms.splice(0)) v.socket.destroy();
  await Promise.all(ports.splice(0).map((p) => p.close()));
  await rm(home, { recursive: true, force: true });
});

async function join(
  network: string,
  vmId = randomUUID(),
  index = 0,
  maxQueuedBytes?: number,
): Promise<InternalNetworkPort> {
  const port = await InternalNetworkPort.join({
    maruHome: home,
    network,
    vmId,
    index,
    log: (l) => logs.push(l),
    ...(maxQueuedBytes ? { maxQueuedBytes } : {}),
  });
  ports.push(port);
  return port;
}

/** A port on `network` with a fake VM (MAC `mac`) on its VM socket. */
async function vmOn(
  network: string,
  mac: string,
  maxQueuedBytes?: number,
): Promise<{ port: InternalNetworkPort; vm: FakeVm }> {
  const port = await join(network, randomUUID(), 0, maxQueuedBytes);
  const folder = path.join(home, 'vm-sockets', mac.replace(/:/g, ''));
  await mkdir(folder, { recursive: true });
  const vm = await FakeVm.connect(await port.serveVm(nicSocketFile(folder, 0)), mac);
  vms.push(vm);
  return { port, vm };
}

const A = '52:54:00:00:00:0a';
const B = '52:54:00:00:00:0b';
const C = '52:54:00:00:00:0c';

async function threeVms(): Promise<{ a: FakeVm; b: FakeVm; c: FakeVm; ports: InternalNetworkPort[] }> {
  const pa = await vmOn('lab', A);
  const pb = await vmOn('lab', B);
  const pc = await vmOn('lab', C);
  const all = [pa.port, pb.port, pc.port];
  await waitFor('a full mesh', () => all.every((p) => p.stats().peers === 2));
  return { a: pa.vm, b: pb.vm, c: pc.vm, ports: all };
}

describe('InternalNetworkPort', () => {
  it('relays broadcasts between three VMs, never back to the sender', async () => {
    const { a, b, c } = await threeVms();
    a.send(BROADCAST, 'hello-from-a');
    await b.received('hello-from-a');
    await c.received('hello-from-a');
    // b answers a directly: by the time a has the answer, an echo of its own broadcast would be there first
    b.send(A, 'answer-to-a');
    expect(await a.received('answer-to-a')).toEqual(['answer-to-a']);
    c.send(BROADCAST, 'hello-from-c');
    await a.received('hello-from-c');
    expect(await b.received('hello-from-c')).toEqual(['hello-from-a', 'hello-from-c']);
  });

  it('sends a unicast frame only to the port its destination was learned on, and floods unknown ones', async () => {
    const { a, b, c } = await threeVms();
    b.send(BROADCAST, 'b-is-here');
    c.send(BROADCAST, 'c-is-here');
    await a.received('b-is-here');
    await a.received('c-is-here');
    a.send(B, 'for-b-only');
    a.send(BROADCAST, 'barrier-1'); // same path to c after the unicast: c has seen whatever a sent before it
    await b.received('for-b-only');
    await c.received('barrier-1');
    expect(c.texts()).not.toContain('for-b-only');
    a.send('52:54:00:00:00:99', 'to-nobody-known');
    await b.received('to-nobody-known');
    await c.received('to-nobody-known');
  });

  it('forgets a port that leaves: its addresses are unknown again, its peers count one less', async () => {
    const {
      a,
      b,
      c,
      ports: [pa, pb, pc],
    } = await threeVms();
    b.send(BROADCAST, 'b-is-here');
    await a.received('b-is-here');
    await pb!.close();
    await waitFor('the others to see b leave', () => pa!.stats().peers === 1 && pc!.stats().peers === 1);
    expect(logs.some((l) => /port .*-0 left/.test(l))).toBe(true);
    // b's address is forgotten: a frame for it is flooded again, so c sees it
    a.send(B, 'for-b-after-it-left');
    await c.received('for-b-after-it-left');
    expect(b.texts()).not.toContain('for-b-after-it-left');
  });

  it('reaches a port that joins after the others and removes a socket file nobody listens on', async () => {
    const first = await vmOn('lab', A);
    const folder = first.port.folder;
    // A port whose engine host was killed: its socket file stays behind with nobody listening.
    const stale = path.join(folder, `${randomUUID()}-0.sock`);
    const child = spawn(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(stale)}, () => console.log('up'))`,
    ]);
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(existsSync(stale)).toBe(true);

    const late = await vmOn('lab', B);
    expect(existsSync(stale)).toBe(false);
    expect(logs.some((l) => l.includes(`removed the stale port ${stale}`))).toBe(true);
    expect(late.port.stats().peers).toBe(1);
    await waitFor('the first port to see the late one', () => first.port.stats().peers === 1);
    late.vm.send(BROADCAST, 'late-hello');
    await first.vm.received('late-hello');
    first.vm.send(B, 'welcome');
    await late.vm.received('welcome');
  });

  it('drops only the connection that breaks the frame format', async () => {
    const {
      a,
      b,
      c,
      ports: [pa],
    } = await threeVms();
    a.socket.write(frameHeader(0)); // a length of 0: not QEMU's stream format
    await waitFor('the port to drop a', () => a.closed);
    expect(logs.some((l) => /the VM's connection failed: a frame length of 0 bytes/.test(l))).toBe(true);
    // A peer connection that does not start with a hello is dropped too; the mesh stays.
    const rogue = net.createConnection(pa!.socketPath);
    await new Promise((r) => rogue.once('connect', r));
    rogue.write(Buffer.concat([frameHeader(4), Buffer.from('junk')]));
    await new Promise((r) => rogue.once('close', r));
    expect(pa!.stats().peers).toBe(2);
    b.send(BROADCAST, 'still-working');
    await c.received('still-working');
    c.send(B, 'still-unicast');
    await b.received('still-unicast');
  });

  it('keeps two networks apart', async () => {
    const blue = await vmOn('blue', A);
    const red1 = await vmOn('red', B);
    const red2 = await vmOn('red', C);
    await waitFor('red mesh', () => red1.port.stats().peers === 1 && red2.port.stats().peers === 1);
    expect(blue.port.stats().peers).toBe(0);
    expect(blue.port.folder).not.toBe(red1.port.folder);
    blue.vm.send(BROADCAST, 'blue-hello');
    red1.vm.send(BROADCAST, 'red-hello');
    await red2.vm.received('red-hello');
    await new Promise((r) => setTimeout(r, 200));
    expect(red1.vm.texts()).toEqual([]);
    expect(red2.vm.texts()).toEqual(['red-hello']);
    expect(blue.vm.texts()).toEqual([]);
  });

  it('delivers a broadcast once to each VM when engine hosts join at the same moment', async () => {
    // Separate processes: two ports that both listen before either looks at the folder connect
    // to each other twice; each pair must end with one link, or every frame arrives twice.
    const script = path.join(home, 'port-process.mjs');
    await build({
      entryPoints: [fileURLToPath(new URL('./port-process.ts', import.meta.url))],
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile: script,
      logLevel: 'silent',
    });
    const n = 5;
    const startAt = Date.now() + 1500;
    const results = await Promise.all(
      Array.from({ length: n }, () => {
        const child = spawn(process.execPath, [script, home, String(startAt), String(n)], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        return new Promise<{ got: number }>((resolve, reject) =>
          child.once('exit', (code) =>
            code === 0 ? resolve(JSON.parse(out) as { got: number }) : reject(new Error(`exit ${code}`)),
          ),
        );
      }),
    );
    expect(results.map((r) => r.got)).toEqual(Array(n).fill(n - 1));
    expect(existsSync(path.join(home, 'run', 'net'))).toBe(false);
  }, 30_000);

  it('drops frames for a VM that does not read instead of queueing them without bound', async () => {
    const limit = 64 * 1024;
    const sender = await vmOn('busy', A);
    const slow = await vmOn('busy', B, limit);
    await waitFor('mesh', () => slow.port.stats().peers === 1);
    slow.vm.socket.pause(); // a paused guest: QEMU stops reading its netdev
    const payload = 'x'.repeat(1400);
    for (let i = 0; i < 8000; i++) sender.vm.send(BROADCAST, payload); // ~11 MiB
    sender.vm.send(BROADCAST, 'last');
    await waitFor('the slow port to drop frames', () => slow.port.stats().dropped > 0, 10_000);
    expect(logs.some((l) => /the VM does not take frames/.test(l))).toBe(true);
    slow.vm.socket.resume();
    // It gets what fitted in its queue (and the kernel's socket buffer), not all 11 MiB, and still works.
    await new Promise((r) => setTimeout(r, 300));
    const got = slow.vm.frames.length;
    expect(got).toBeLessThan(8001);
    expect(got).toBeGreaterThan(0);
    sender.vm.send(BROADCAST, 'after-the-jam');
    await slow.vm.received('after-the-jam');
  });

  it('keeps its sockets in a private folder and removes it when the last port leaves', async () => {
    const p1 = await join('tidy');
    const p2 = await join('tidy');
    expect(statSync(p1.folder).mode & 0o777).toBe(0o700);
    expect((await readdir(p1.folder)).sort()).toEqual([`${p1.name}.sock`, `${p2.name}.sock`].sort());
    await p1.close();
    expect(existsSync(p1.socketPath)).toBe(false);
    expect(existsSync(p1.folder)).toBe(true);
    await p2.close();
    expect(existsSync(p1.folder)).toBe(false);
    expect(existsSync(path.join(home, 'run', 'net'))).toBe(false);
    expect(existsSync(path.join(home, 'run'))).toBe(true);
  });

  it('refuses to join twice as the same adapter of the same VM, and replaces its own stale socket', async () => {
    const id = randomUUID();
    const p = await join('dup', id, 0);
    await expect(join('dup', id, 0)).rejects.toThrow(
      /already on the internal network "dup".*another engine host runs this VM/,
    );
    expect(existsSync(p.socketPath)).toBe(true); // the refused one did not remove the live one's socket
    await p.close();
    // a socket file left by this adapter's last run (not a listener): joining replaces it
    await mkdir(p.folder, { recursive: true, mode: 0o700 });
    await writeFile(p.socketPath, '');
    const again = await join('dup', id, 0);
    expect(again.stats().peers).toBe(0);
  });
});
