// Internal networks with real guests (QEMU, TCG) through the real CLI: two VMs on network "lab"
// talk TCP both ways over the engine hosts' switch (no central process: each engine host's port
// has a peer socket in run/net/lab/); a third VM on another network cannot reach them; when the
// VMs stop, nothing of the network is left.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEDIA, TestHome, canRun } from './qemu-test-kit';

const BOOT_MS = 150_000;

describe.skipIf(!canRun)('internal networks between QEMU VMs (real guests, TCG)', () => {
  let t: TestHome;
  const ids: Record<'one' | 'two' | 'three', string> = { one: '', two: '', three: '' };

  /** Types `line` into the VM's serial console and waits for the guest's answer `marker…`; returns the answer. */
  async function ask(id: string, line: string, marker: string, timeoutMs = 30_000): Promise<string> {
    const before = (await t.serialLog(id)).split(marker).length - 1;
    await t.ok(['serial', id, '--send', line]);
    const log = await t.waitForSerial(id, marker, timeoutMs, before + 1);
    const answers = log.split('\n').filter((l) => l.includes(marker));
    return answers[answers.length - 1]!.slice(answers[answers.length - 1]!.indexOf(marker) + marker.length).trim();
  }

  beforeAll(async () => {
    t = await TestHome.create();
    const vm = ['--os', 'linux64', '--firmware', 'bios', '--cpus', '1', '--memory', '256', '--disk', '0'];
    for (const [name, network] of [
      ['one', 'lab'],
      ['two', 'lab'],
      ['three', 'elsewhere'],
    ] as const) {
      ids[name] = await t.createVm(`net ${name}`, [...vm, '--iso', MEDIA.biosUefi]);
      await t.ok(['modify', ids[name], '--nic1', `internal:${network}`]);
    }
  });
  afterAll(async () => {
    await t?.dispose();
  });

  it('starts three VMs, each engine host with a port in its network folder', async () => {
    for (const id of Object.values(ids)) await t.ok(['start', id, '--headless']);
    const lab = path.join(t.home, 'run', 'net', 'lab');
    expect((await readdir(lab)).sort()).toEqual([`${ids.one}-0.sock`, `${ids.two}-0.sock`].sort());
    expect(await readdir(path.join(t.home, 'run', 'net', 'elsewhere'))).toEqual([`${ids.three}-0.sock`]);
    for (const id of Object.values(ids)) {
      const log = await t.waitForSerial(id, 'MARU-NICS=', BOOT_MS);
      expect(log).toMatch(/MARU-NICS=eth0\/52:54:00:/);
    }
  });

  it('lets the two VMs on "lab" exchange data over TCP, both ways', async () => {
    expect(await ask(ids.one, 'ip=eth0:10.9.0.1/24', 'MARU-IP=')).toBe('eth0:10.9.0.1/24');
    expect(await ask(ids.two, 'ip=eth0:10.9.0.2/24', 'MARU-IP=')).toBe('eth0:10.9.0.2/24');
    expect(await ask(ids.one, 'serve=7001:hello-from-one', 'MARU-SERVING=')).toBe('7001');
    // two connects to one (ARP, the TCP handshake and data cross both ways) and reads one's answer
    expect(await ask(ids.two, 'send=10.9.0.1:7001:hello-from-two', 'MARU-REPLY=')).toBe('hello-from-one');
    // and the other way round: one connects to a server on two. (What the server received,
    // `got=PORT`, cannot be read back yet: the medium's serve loop empties it as it listens again.)
    expect(await ask(ids.two, 'serve=7002:two-serves', 'MARU-SERVING=')).toBe('7002');
    expect(await ask(ids.one, 'send=10.9.0.2:7002:one-calls', 'MARU-REPLY=')).toBe('two-serves');
  });

  it('keeps a VM on another network out, though it has an address in the same subnet', async () => {
    expect(await ask(ids.three, 'ip=eth0:10.9.0.3/24', 'MARU-IP=')).toBe('eth0:10.9.0.3/24');
    expect(await ask(ids.three, 'send=10.9.0.1:7001:intruder', 'MARU-REPLY=')).toBe('fail');
    expect(await ask(ids.three, 'send=10.9.0.2:7002:intruder', 'MARU-REPLY=')).toBe('fail');
    // the servers still answer their own network
    expect(await ask(ids.two, 'send=10.9.0.1:7001:again', 'MARU-REPLY=')).toBe('hello-from-one');
  });

  it('removes the ports and the network folders when the VMs stop', async () => {
    for (const id of Object.values(ids)) await t.ok(['stop', id, '--force']);
    expect(existsSync(path.join(t.home, 'run', 'net'))).toBe(false);
  });
});
