// A v86 VM on an internal network with a QEMU VM, through the real CLI: v86's NE2000 is cabled
// to its engine host's port (the card's bus events), QEMU's NIC to its own (-netdev stream), and
// the two guests talk TCP both ways. The v86 card carries the VM's MAC from its config.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEDIA, TestHome, canRun } from '../qemu/qemu-test-kit';

const BOOT_MS = 240_000;

describe.skipIf(!canRun)('a v86 VM and a QEMU VM on one internal network', () => {
  let t: TestHome;
  let v86 = '';
  let qemu = '';

  async function ask(id: string, line: string, marker: string, timeoutMs = 60_000): Promise<string> {
    const before = (await t.serialLog(id)).split(marker).length - 1;
    await t.ok(['serial', id, '--send', line]);
    const log = await t.waitForSerial(id, marker, timeoutMs, before + 1);
    const last = log
      .split('\n')
      .filter((l) => l.includes(marker))
      .pop()!;
    return last.slice(last.indexOf(marker) + marker.length).trim();
  }

  beforeAll(async () => {
    t = await TestHome.create();
    v86 = await t.createVm('net v86', [
      ...['--os', 'linux32', '--engine', 'v86', '--memory', '128', '--disk', '0', '--iso', MEDIA.i386],
    ]);
    qemu = await t.createVm('net qemu', [
      ...[
        '--os',
        'linux64',
        '--firmware',
        'bios',
        '--cpus',
        '1',
        '--memory',
        '256',
        '--disk',
        '0',
        '--iso',
        MEDIA.biosUefi,
      ],
    ]);
    await t.ok(['modify', v86, '--nic1', 'internal:mixed', '--nic-type1', 'ne2k_pci']);
    await t.ok(['modify', qemu, '--nic1', 'internal:mixed']);
  });
  afterAll(async () => {
    await t?.dispose();
  });

  it('boots both with their adapters on the network, the NE2000 with its configured MAC', async () => {
    await t.ok(['start', v86, '--headless']);
    await t.ok(['start', qemu, '--headless']);
    expect((await readdir(path.join(t.home, 'run', 'net', 'mixed'))).sort()).toEqual(
      [`${qemu}-0.sock`, `${v86}-0.sock`].sort(),
    );
    const mac = `52:54:00:${v86.slice(0, 2)}:${v86.slice(2, 4)}:${v86.slice(4, 6)}`;
    expect(await t.waitForSerial(v86, 'MARU-NICS=', BOOT_MS)).toContain(`MARU-NICS=eth0/${mac}/`);
    await t.waitForSerial(qemu, 'MARU-NICS=', BOOT_MS);
  });

  it('carries TCP between the v86 guest and the QEMU guest, both ways', async () => {
    expect(await ask(v86, 'ip=eth0:10.9.0.1/24', 'MARU-IP=')).toBe('eth0:10.9.0.1/24');
    expect(await ask(qemu, 'ip=eth0:10.9.0.2/24', 'MARU-IP=')).toBe('eth0:10.9.0.2/24');
    expect(await ask(v86, 'serve=7001:from-v86', 'MARU-SERVING=')).toBe('7001');
    expect(await ask(qemu, 'send=10.9.0.1:7001:to-v86', 'MARU-REPLY=')).toBe('from-v86');
    expect(await ask(qemu, 'serve=7002:from-qemu', 'MARU-SERVING=')).toBe('7002');
    expect(await ask(v86, 'send=10.9.0.2:7002:to-qemu', 'MARU-REPLY=')).toBe('from-qemu');
  });

  it('leaves no port behind when the VMs stop', async () => {
    await t.ok(['stop', v86, '--force']);
    expect(await readdir(path.join(t.home, 'run', 'net', 'mixed'))).toEqual([`${qemu}-0.sock`]);
    await t.ok(['stop', qemu, '--force']);
    expect(existsSync(path.join(t.home, 'run', 'net'))).toBe(false);
  });
});
