// Network adapters without a running guest, on real files in a temp MARU_HOME: what create
// gives each preset, library.modify's whole-list changes and its refusals (nothing written), the
// `vm` service's cable and port-forward changes of a stopped VM, the host-port check against a
// real listening socket, and the `maru modify`/`natpf`/`nic`/`show` command lines in-process.
import { createServer, type Server } from 'node:net';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../../src-main/cli/run-cli';
import { createControlServices, type ControlHost } from '../../../src-main/services/control-services';
import type { HostLimits } from '../../../src-main/services/library/host-limits';
import { Library } from '../../../src-main/services/library/library-service';
import { assertHostPortFree } from '../../../src-main/services/vm-runtime/host-port';
import { AppError } from '../../../src-shared/errors';
import { macAddressFor, parseMacAddress } from '../../../src-shared/network-adapters';
import type { NicConfig } from '../../../src-shared/vm-config';

const HOST: HostLimits = { totalMemoryBytes: 8 * 2 ** 30, cores: 4 };

let home: string;
let lib: Library;
let control: ControlHost;
beforeEach(async () => {
  home = await mkdtemp(path.join(os.tmpdir(), 'maru-net-'));
  lib = new Library({ maruHome: home, hostLimits: HOST });
  control = createControlServices({ maruHome: home, env: { ...process.env, MARU_HOME: home } });
});
afterEach(async () => {
  control.runtime.dispose();
  await rm(home, { recursive: true, force: true });
});

async function refused(p: Promise<unknown>, code: string, text: RegExp): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  expect((err as AppError).code).toBe(code);
  expect((err as AppError).message).toMatch(text);
}

const nat = (change: Partial<NicConfig> = {}): NicConfig => ({
  attachment: 'nat',
  model: 'e1000',
  cableConnected: true,
  portForwards: [],
  ...change,
});
const fwd = (hostPort: number, name?: string, hostAddress = '127.0.0.1') => ({
  ...(name ? { name } : {}),
  protocol: 'tcp' as const,
  hostAddress,
  hostPort,
  guestPort: 22,
});

describe('adapters of a new VM', () => {
  it("one NAT adapter of the preset's model, cable in, MAC derived; v86 gets an NE2000", async () => {
    const { vm } = await lib.create({ name: 'deb', os: 'linux64', diskGiB: 0 });
    expect(vm.config.nics).toEqual([
      { attachment: 'nat', model: 'virtio-net', cableConnected: true, portForwards: [] },
    ]);
    const { vm: xp } = await lib.create({ name: 'xp', os: 'windowsxp', diskGiB: 0 });
    expect(xp.config.nics.map((n) => n.model)).toEqual(['rtl8139']);
    const { vm: dos } = await lib.create({ name: 'dos', os: 'dos', engine: 'v86', diskGiB: 0 });
    expect(dos.config.nics).toEqual([{ attachment: 'nat', model: 'ne2k_pci', cableConnected: true, portForwards: [] }]);
  });
});

describe('a VM made around imported disks (an appliance)', () => {
  it('gets a NAT adapter per ethernet item of the appliance', async () => {
    const made = await lib.createWithDisks({ name: 'ova', os: 'windows7' }, [], {}, { nicCount: 3 });
    expect(made.vm.config.nics).toEqual(Array.from({ length: 3 }, () => nat({ model: 'e1000' })));
    const none = await lib.createWithDisks({ name: 'ova2', os: 'linux64' }, [], {}, { nicCount: 0 });
    expect(none.vm.config.nics).toEqual([]);
  });
});

describe('library.modify nics', () => {
  it('takes the whole list: four adapters of every kind, written to vm.json', async () => {
    const { vm } = await lib.create({ name: 'lab', os: 'linux64', diskGiB: 0 });
    const nics = [
      nat({ portForwards: [fwd(2222, 'ssh')] }),
      nat({ model: 'pcnet', mac: '08:00:27:ab:cd:ef', portForwards: [fwd(8080, 'web', '0.0.0.0')] }),
      {
        attachment: 'internal' as const,
        network: 'backplane',
        model: 'e1000e' as const,
        cableConnected: false,
        portForwards: [],
      },
      { attachment: 'none' as const, model: 'rtl8139' as const, cableConnected: true, portForwards: [] },
    ];
    const { vm: changed } = await lib.modify('lab', { nics });
    expect(changed.config.nics).toEqual(nics);
    expect(JSON.parse(await readFile(path.join(vm.folder, 'vm.json'), 'utf8')).nics).toEqual(nics);
    // Back to none at all.
    expect((await lib.modify('lab', { nics: [] })).vm.config.nics).toEqual([]);
  });

  it('refuses what a VM cannot have, saying why, and writes nothing', async () => {
    const { vm } = await lib.create({ name: 'lab', os: 'linux64', diskGiB: 0 });
    const file = path.join(vm.folder, 'vm.json');
    const before = await readFile(file, 'utf8');
    await refused(
      lib.modify('lab', { nics: [nat(), { ...nat(), attachment: 'internal' }] }),
      'INVALID_ARGUMENT',
      /Adapter 2 is on an internal network but has no network name/,
    );
    await refused(
      lib.modify('lab', { nics: [{ ...nat(), attachment: 'none', portForwards: [fwd(2222)] }] }),
      'INVALID_ARGUMENT',
      /Adapter 1 has port forwards but is not attached: only a NAT adapter forwards ports/,
    );
    await refused(
      lib.modify('lab', {
        nics: [nat({ portForwards: [fwd(2222, 'ssh')] }), nat({ portForwards: [fwd(2222, 'ssh2', '0.0.0.0')] })],
      }),
      'INVALID_ARGUMENT',
      /Host port 2222 on 0\.0\.0\.0 \(tcp\) is forwarded twice: by rule "ssh" of adapter 1 and rule "ssh2" of adapter 2/,
    );
    await refused(
      lib.modify('lab', { nics: [nat({ portForwards: [fwd(1, 'a'), fwd(2, 'a')] })] }),
      'INVALID_ARGUMENT',
      /Adapter 1 has two port-forward rules named "a"/,
    );
    await refused(
      lib.modify('lab', { nics: Array.from({ length: 5 }, () => nat()) }),
      'INVALID_ARGUMENT',
      /at most 4 network adapters; this one would have 5/,
    );
    await refused(
      lib.modify('lab', { nics: [nat({ mac: '08:00:27:00:00:01' }), nat({ mac: '08:00:27:00:00:01' })] }),
      'INVALID_ARGUMENT',
      /Adapters 1 and 2 both have MAC address 08:00:27:00:00:01/,
    );
    expect(await readFile(file, 'utf8')).toBe(before);
  });

  it('a clone gets MACs of its own (derived from its uuid), its adapters otherwise the same', async () => {
    await lib.create({ name: 'src', os: 'linux64', diskGiB: 0 });
    const nics = [nat({ mac: '08:00:27:00:00:01', portForwards: [fwd(2222, 'ssh')] }), nat()];
    await lib.modify('src', { nics });
    const copy = await lib.clone('src', 'copy');
    expect(copy.config.nics).toEqual([nat({ portForwards: [fwd(2222, 'ssh')] }), nat()]);
  });

  it('with a saved state: the cable and forwards may change, the adapters themselves may not', async () => {
    const { vm } = await lib.create({ name: 'saved', os: 'linux64', diskGiB: 0 });
    await writeFile(path.join(vm.folder, 'saved-state'), '');
    const first = vm.config.nics[0]!;
    await lib.modify('saved', { nics: [{ ...first, cableConnected: false, portForwards: [fwd(2200, 'ssh')] }] });
    await refused(
      lib.modify('saved', { nics: [{ ...first, model: 'e1000' }] }),
      'BUSY',
      /saved state.*the network adapters \(their number, models or MACs\)/,
    );
    await refused(lib.modify('saved', { nics: [first, nat()] }), 'BUSY', /network adapters/);
  });
});

describe('vm service: cable and port forwards of a stopped VM (stored for its next start)', () => {
  it('plugs and unplugs, adds and removes rules by name, with clear refusals', async () => {
    const { vm } = await lib.create({ name: 'box', os: 'linux64', diskGiB: 0 });
    const id = vm.config.id;
    const { vm: svc } = control.services;
    const off = await svc.setLinkState('box', 0, false);
    expect(off).toMatchObject({ vmId: id, live: false, nicIndex: 0, nic: { cableConnected: false } });
    expect((await lib.show(id)).config.nics[0]!.cableConnected).toBe(false);

    const added = await svc.addPortForward('box', 0, { name: 'ssh', protocol: 'tcp', hostPort: 2222, guestPort: 22 });
    expect(added.live).toBe(false);
    expect(added.nic.portForwards).toEqual([fwd(2222, 'ssh')]);
    // A rule without a name is named after its protocol and host port.
    const unnamed = await svc.addPortForward('box', 0, { protocol: 'udp', hostPort: 5353, guestPort: 53 });
    expect(unnamed.nic.portForwards[1]!.name).toBe('udp-5353');
    await refused(
      svc.addPortForward('box', 0, { name: 'ssh', protocol: 'tcp', hostPort: 2223, guestPort: 22 }),
      'ALREADY_EXISTS',
      /already has a port-forward rule named "ssh"/,
    );
    await refused(
      svc.addPortForward('box', 0, { name: 'ssh2', protocol: 'tcp', hostPort: 2222, guestPort: 23 }),
      'INVALID_ARGUMENT',
      /Host port 2222 on 127\.0\.0\.1 \(tcp\) is forwarded twice/,
    );
    await refused(svc.setLinkState('box', 1, true), 'NOT_FOUND', /has no network adapter 2 \(it has 1\)/);

    await lib.modify('box', {
      nics: [(await lib.show(id)).config.nics[0]!, { ...nat(), attachment: 'internal', network: 'lab' }],
    });
    await refused(
      svc.addPortForward('box', 1, { protocol: 'tcp', hostPort: 8080, guestPort: 80 }),
      'UNSUPPORTED',
      /Adapter 2 of VM "box" is on internal network "lab": only a NAT adapter forwards ports/,
    );

    const removed = await svc.removePortForward('box', 0, 'ssh');
    expect(removed.nic.portForwards.map((f) => f.name)).toEqual(['udp-5353']);
    await refused(
      svc.removePortForward('box', 0, 'ssh'),
      'NOT_FOUND',
      /no port-forward rule "ssh" \(it has "udp-5353"\)/,
    );
  });

  it('a rule from before rules had names is removed by its derived name', async () => {
    const { vm } = await lib.create({ name: 'old', os: 'linux64', diskGiB: 0 });
    await lib.modify('old', { nics: [{ ...vm.config.nics[0]!, portForwards: [fwd(2222)] }] });
    const r = await control.services.vm.removePortForward('old', 0, 'tcp-2222');
    expect(r.nic.portForwards).toEqual([]);
  });
});

describe('host port check', () => {
  let server: Server;
  afterEach(() => server?.close());

  it('refuses a port another program listens on, with the message; a free one passes', async () => {
    server = createServer();
    await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const port = (server.address() as { port: number }).port;
    await refused(
      assertHostPortFree({ protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: port }),
      'HOST_LIMIT',
      new RegExp(`^Host port ${port} on 127\\.0\\.0\\.1 is already in use by another program; choose another port\\.$`),
    );
    // Every address includes the loopback one.
    await refused(
      assertHostPortFree({ protocol: 'tcp', hostAddress: '0.0.0.0', hostPort: port }),
      'HOST_LIMIT',
      /in use/,
    );
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await assertHostPortFree({ protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: port });
    await assertHostPortFree({ protocol: 'udp', hostAddress: '127.0.0.1', hostPort: port });
    await refused(
      assertHostPortFree({ protocol: 'tcp', hostAddress: '203.0.113.9', hostPort: port }),
      'INVALID_ARGUMENT',
      /not an address of this computer/,
    );
  });
});

describe('MACs', () => {
  it('adapter 0 keeps the MAC a Maru VM always had; the way users write one is read', () => {
    expect(macAddressFor('0f1e2d3c-4b5a-4697-8899-aabbccddeeff')).toBe('52:54:00:0f:1e:2d');
    expect(macAddressFor('0f1e2d3c-4b5a-4697-8899-aabbccddeeff', 3)).toBe('52:54:03:0f:1e:2d');
    expect(parseMacAddress('080027ABCDEF')).toBe('08:00:27:ab:cd:ef');
    expect(parseMacAddress('08-00-27-AB-CD-EF')).toBe('08:00:27:ab:cd:ef');
    expect(parseMacAddress('01:00:5e:00:00:01')).toBeNull(); // multicast
    expect(parseMacAddress('08:00:27:ab:cd')).toBeNull();
  });
});

describe('maru modify / natpf / nic / show (in-process CLI)', () => {
  async function maru(...args: string[]): Promise<{ status: number; out: string; err: string }> {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    stderr.on('data', (b: Buffer) => (err += b.toString('utf8')));
    const status = await runCli(args, {
      stdout,
      stderr,
      env: { ...process.env, MARU_HOME: home },
      signal: new AbortController().signal,
    });
    return { status, out, err };
  }

  it("sets adapters VBoxManage's way and shows each one", async () => {
    await mkdir(path.join(home, 'vms'), { recursive: true });
    const { vm } = await lib.create({ name: 'cli', os: 'linux64', diskGiB: 0 });
    const r = await maru(
      'modify',
      'cli',
      '--nat-pf1',
      'ssh,tcp,,2222,,22',
      '--nat-pf1',
      'dns,udp,0.0.0.0,5353,,53',
      '--nic2',
      'internal:lab',
      '--nic-type2',
      'pcnet',
      '--mac2',
      '080027ABCDEF',
      '--cable2',
      'off',
      '--nic3',
      'none',
    );
    expect(r.status, r.err).toBe(0);
    const mac0 = macAddressFor(vm.config.id);
    expect(r.out).toContain(`NIC 1:`);
    expect(r.out).toMatch(new RegExp(`NIC 1: +NAT, virtio-net, MAC ${mac0} \\(derived\\), cable connected\\n`));
    expect(r.out).toMatch(/NIC 1 rule: +ssh: tcp 127\.0\.0\.1:2222 -> guest port 22\n/);
    expect(r.out).toMatch(/NIC 1 rule: +dns: udp 0\.0\.0\.0:5353 -> guest port 53\n/);
    expect(r.out).toMatch(/NIC 2: +internal network "lab", pcnet, MAC 08:00:27:ab:cd:ef, cable unplugged\n/);
    expect(r.out).toMatch(/NIC 3: +not attached, virtio-net, MAC 52:54:02:\S+ \(derived\), cable connected\n/);

    const list = await maru('natpf', 'cli', 'list');
    expect(list.out).toMatch(
      /^NIC +NAME +PROTOCOL +HOST IP +HOST PORT +GUEST PORT\n1 +ssh +tcp +127\.0\.0\.1 +2222 +22\n/,
    );
    const del = await maru('modify', 'cli', '--nat-pf1', 'delete:dns', '--nic3', 'off', '--cable2', 'on');
    expect(del.status, del.err).toBe(0);
    const nics = (await lib.show('cli')).config.nics;
    expect(nics).toHaveLength(2);
    expect(nics[0]!.portForwards.map((f) => f.name)).toEqual(['ssh']);
    expect(nics[1]!.cableConnected).toBe(true);

    // Stopped: stored for the next start, and said so.
    const add = await maru('natpf', 'cli', 'add', 'web,tcp,127.0.0.1,8080,,80');
    expect(add.status, add.err).toBe(0);
    expect(add.out).toBe(
      '"cli" adapter 1 will forward web: tcp 127.0.0.1:8080 -> guest port 80 from its next start.\n',
    );
    const cable = await maru('nic', 'cli', '2', 'cable', 'off');
    expect(cable.out).toBe('"cli" adapter 2 will start with its cable unplugged.\n');
    expect((await maru('natpf', 'cli', 'delete', 'web')).status).toBe(0);
    expect((await lib.show('cli')).config.nics[0]!.portForwards.map((f) => f.name)).toEqual(['ssh']);
  });

  it('a malformed rule, MAC, cable or attachment is a usage error (exit 2) and changes nothing', async () => {
    const { vm } = await lib.create({ name: 'bad', os: 'linux64', diskGiB: 0 });
    const before = await readFile(path.join(vm.folder, 'vm.json'), 'utf8');
    const cases: [string[], RegExp][] = [
      [['--nat-pf1', 'ssh,tcp,,2222,22'], /a rule has 6 comma-separated fields, this one 5/],
      [['--nat-pf1', 'ssh,icmp,,2222,,22'], /the protocol is tcp or udp, not "icmp"/],
      [['--nat-pf1', 'ssh,tcp,,99999,,22'], /the host port is 1\.\.65535, not "99999"/],
      [['--nat-pf1', 'ssh,tcp,,2222,10.0.2.15,22'], /leave the guest IP empty/],
      [['--nat-pf1', ',tcp,,2222,,22'], /the name is empty/],
      [['--nat-pf2', 'delete:'], /the rule's NAME is missing/],
      [['--mac1', '01:00:5e:00:00:01'], /--mac1 must be auto or a unicast MAC address/],
      [['--cable1', 'maybe'], /--cable1 must be on or off/],
      [['--nic1', 'bridged'], /--nic1 must be nat, internal:NAME, none or off/],
      [['--nic-type1', 'tulip'], /--nic-type1 must be one of e1000e, e1000, rtl8139, ne2k_pci, virtio-net, pcnet/],
      [['--nic5', 'nat'], /Unknown option '--nic5'/],
    ];
    for (const [args, why] of cases) {
      const r = await maru('modify', 'bad', ...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toMatch(why);
      expect(r.err).toContain('Usage: maru modify VM');
    }
    const natpf = await maru('natpf', 'bad', 'add', 'ssh;tcp;;2222;;22');
    expect(natpf.status).toBe(2);
    expect(natpf.err).toMatch(/add "ssh;tcp;;2222;;22": a rule has 6 comma-separated fields, this one 1/);
    expect((await maru('nic', 'bad', '5', 'cable', 'on')).status).toBe(2);
    expect((await maru('nic', 'bad', '1', 'cable', 'sideways')).status).toBe(2);
    // Adapters without gaps; only the last ones can go.
    const gap = await maru('modify', 'bad', '--nic3', 'nat');
    expect(gap.status).toBe(1);
    expect(gap.err).toMatch(/has 1 network adapter\(s\): add adapter 2 before adapter 3/);
    expect((await maru('modify', 'bad', '--nic2', 'nat')).status).toBe(0);
    const middle = await maru('modify', 'bad', '--nic1', 'off');
    expect(middle.status).toBe(2);
    expect(middle.err).toMatch(/remove the last adapters only/);
    expect(JSON.parse(await readFile(path.join(vm.folder, 'vm.json'), 'utf8')).nics).toHaveLength(2);
    expect(before).toContain('"nics"');
  });

  it('show tells the truth for a v86 VM: one NE2000, no NAT yet', async () => {
    await lib.create({ name: 'old', os: 'dos', engine: 'v86', diskGiB: 0 });
    expect((await maru('modify', 'old', '--nic2', 'internal:lab')).status).toBe(0);
    const r = await maru('show', 'old');
    expect(r.out).toMatch(
      /NIC 1: +NAT, ne2k_pci, .* — not connected on the v86 engine \(NAT for v86 is not built yet\)\n/,
    );
    expect(r.out).toMatch(
      /NIC 2: +internal network "lab", ne2k_pci, .* — not used on the v86 engine \(it has one network adapter\)\n/,
    );
  });
});
