// NAT adapters with a real guest (QEMU, TCG) through the real CLI: a VM with two NAT adapters
// sees both with the MACs its config gives them; a port forward added while it runs reaches a
// server in the guest; pulling the cable cuts the guest off and plugging it in brings it back;
// a host port another program holds is refused before QEMU is asked; a removed forward is gone;
// a VM whose config has the cable unplugged starts without a link (no DHCP) until it is plugged in.
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { macAddressFor } from '../../../src-shared/network-adapters';
import { MEDIA, TestHome, canRun } from './qemu-test-kit';

const BOOT_MS = 150_000;

/** What a TCP client reads from 127.0.0.1:`port` until the server closes or `ms` pass ('' if nothing). */
function readFrom(port: number, ms: number): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const s = net.createConnection({ host: '127.0.0.1', port });
    const done = (): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(got.trim());
    };
    const timer = setTimeout(done, ms);
    s.on('data', (d: Buffer) => (got += d.toString('utf8')));
    s.on('end', done);
    s.on('error', done);
  });
}

/** Retries `readFrom` until it answers `want` or `ms` pass; the last answer. */
async function answerWithin(port: number, want: string, ms: number): Promise<string> {
  const until = Date.now() + ms;
  let last = '';
  while (Date.now() < until) {
    last = await readFrom(port, 3000);
    if (last === want) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  return last;
}

/** A TCP port nothing listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen({ host: '127.0.0.1', port: 0 }, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

describe.skipIf(!canRun)('NAT adapters: live port forwards and the cable (real guest, TCG)', () => {
  let t: TestHome;
  let id = '';
  let port = 0;

  /** Types `line` into the VM's serial console and waits for the guest's answer `marker…`; returns the answer. */
  async function ask(line: string, marker: string, timeoutMs = 30_000): Promise<string> {
    const before = (await t.serialLog(id)).split(marker).length - 1;
    await t.ok(['serial', id, '--send', line]);
    const log = await t.waitForSerial(id, marker, timeoutMs, before + 1);
    const answers = log.split('\n').filter((l) => l.includes(marker));
    const last = answers[answers.length - 1]!;
    return last.slice(last.indexOf(marker) + marker.length).trim();
  }

  async function config(): Promise<{ nics: { cableConnected: boolean; portForwards: { name?: string }[] }[] }> {
    return JSON.parse(await readFile(path.join(t.vmFolder(id), 'vm.json'), 'utf8')) as {
      nics: { cableConnected: boolean; portForwards: { name?: string }[] }[];
    };
  }

  beforeAll(async () => {
    t = await TestHome.create();
    id = await t.createVm('nat', [
      ...['--os', 'linux64', '--firmware', 'bios', '--cpus', '1', '--memory', '256', '--disk', '0'],
      ...['--iso', MEDIA.biosUefi],
    ]);
    // A second NAT adapter, an e1000 with a MAC of its own in VBoxManage's form.
    await t.ok(['modify', id, '--nic2', 'nat', '--nic-type2', 'e1000', '--mac2', '080027ABCDEF']);
    port = await freePort();
  });
  afterAll(async () => {
    await t?.dispose();
  });

  it(
    'boots with two NICs whose MACs are the configured ones',
    async () => {
      await t.ok(['start', id, '--headless']);
      await t.waitForSerial(id, 'MARU-NICS=', BOOT_MS);
      const nics = (await ask('net?', 'MARU-NET='))
        .split(',')
        .filter(Boolean)
        .map((e) => e.split('/'));
      expect(nics.map(([, mac]) => mac).sort()).toEqual([macAddressFor(id), '08:00:27:ab:cd:ef'].sort());
      // Adapter 1 (the derived MAC) gets QEMU's first NAT address; a server in the guest listens.
      const eth = nics.find(([, mac]) => mac === macAddressFor(id))![0]!;
      expect(await ask(`dhcp=${eth}`, 'MARU-DHCP=', 60_000)).toBe(`${eth}:10.0.2.15/24`);
      expect(await ask('serve=7777:pong', 'MARU-SERVING=')).toBe('7777');
    },
    BOOT_MS + 120_000,
  );

  it('forwards a host port added while the VM runs to the guest, and keeps it for the next start', async () => {
    expect(await readFrom(port, 1000)).toBe('');
    const added = await t.ok(['natpf', id, 'add', `web,tcp,,${port},,7777`]);
    expect(added).toBe(
      `"nat" adapter 1 forwards web: tcp 127.0.0.1:${port} -> guest port 7777 (now, and at its next starts).\n`,
    );
    expect(await answerWithin(port, 'pong', 30_000)).toBe('pong');
    expect((await config()).nics[0]!.portForwards.map((f) => f.name)).toEqual(['web']);
  }, 90_000);

  it('unplugging the cable cuts the guest off; plugging it in brings it back', async () => {
    expect(await t.ok(['nic', id, '1', 'cable', 'off'])).toBe(
      'The cable of "nat" adapter 1 is unplugged (now, and at its next starts).\n',
    );
    expect((await config()).nics[0]!.cableConnected).toBe(false);
    // slirp still accepts on the host side, but nothing reaches the guest: no answer.
    expect(await readFrom(port, 5000)).toBe('');
    expect(await readFrom(port, 5000)).toBe('');
    await t.ok(['nic', id, '1', 'cable', 'on']);
    expect((await config()).nics[0]!.cableConnected).toBe(true);
    expect(await answerWithin(port, 'pong', 45_000)).toBe('pong');
  }, 120_000);

  it('refuses a host port another program holds, before QEMU is asked, and stores nothing', async () => {
    const other = net.createServer();
    await new Promise<void>((resolve) => other.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const busy = (other.address() as net.AddressInfo).port;
    try {
      const r = await t.maru(['natpf', id, 'add', `busy,tcp,127.0.0.1,${busy},,7777`]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `maru natpf: Host port ${busy} on 127.0.0.1 is already in use by another program; choose another port.\n`,
      );
      expect((await config()).nics[0]!.portForwards.map((f) => f.name)).toEqual(['web']);
      // The running forward still works.
      expect(await answerWithin(port, 'pong', 20_000)).toBe('pong');
    } finally {
      other.close();
    }
  }, 60_000);

  it('removes a forward while the VM runs: the host port closes', async () => {
    expect(await t.ok(['natpf', id, 'delete', 'web'])).toBe(
      '"nat" adapter 1 no longer forwards rule "web" (now, and at its next starts).\n',
    );
    expect(await readFrom(port, 3000)).toBe('');
    expect((await config()).nics[0]!.portForwards).toEqual([]);
  }, 60_000);

  it(
    'starts with the cable unplugged when the config says so (no DHCP), and plugs it in live',
    async () => {
      await t.ok(['stop', id, '--force']);
      await t.ok(['modify', id, '--cable1', 'off']);
      await t.ok(['start', id, '--headless']);
      // (QEMU starts the serial log afresh for each run)
      await t.waitForSerial(id, 'MARU-NICS=', BOOT_MS);
      const eth = (await ask('net?', 'MARU-NET='))
        .split(',')
        .map((e) => e.split('/'))
        .find(([, mac]) => mac === macAddressFor(id))![0]!;
      expect(await ask(`dhcp=${eth}`, 'MARU-DHCP=', 60_000)).toBe(`${eth}:fail`);
      await t.ok(['nic', id, '1', 'cable', 'on']);
      expect(await ask(`dhcp=${eth}`, 'MARU-DHCP=', 60_000)).toBe(`${eth}:10.0.2.15/24`);
      await t.ok(['stop', id, '--force']);
    },
    BOOT_MS + 120_000,
  );
});
