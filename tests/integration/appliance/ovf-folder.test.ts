// Loose OVF appliances with real qemu-img: a folder as VirtualBox's "Write OVF" leaves it
// (NAME.ovf in OVF 2.0, NAME.mf with SHA-256 digests, a streamOptimized VMDK) imports as a VM
// whose disk holds the same data (qemu-img compare) while the folder's files stay byte for byte
// as they were; an href out of the folder (`..`, absolute, a link), a missing disk, a changed
// byte and a cut-short VMDK are refused, with no VM registered and nothing new under MARU_HOME;
// `maru import FILE.ovf [--dry-run] [--name]`, and the web console's caller policy on the path.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../src-main/cli/run-cli';
import { WebCallerPolicy } from '../../../src-main/server/web-caller-policy';
import { createControlServices, type ControlHost } from '../../../src-main/services/control-services';
import { LOCAL_USER_POLICY } from '../../../src-shared/contracts/access';
import { createControlClient, inProcessTransport } from '../../../src-shared/contracts/control';
import { virtualBoxOvf2 } from './virtualbox-ovf';

const haveTools = ['qemu-img', 'qemu-io'].every((t) => spawnSync('which', [t]).status === 0);
const NAME = 'Web server';
const VMDK = `${NAME}-disk001.vmdk`;
const CAPACITY = 64 * 2 ** 20;

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** Every file under `dir` (relative path → SHA-256; folders end in "/"). */
function contents(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const p = path.join(e.parentPath, e.name);
    out[path.relative(dir, p) + (e.isDirectory() ? '/' : '')] = e.isFile() ? sha256(p) : '';
  }
  return out;
}

describe.skipIf(!haveTools)('Loose OVF appliance (a .ovf with its files beside it; real qemu-img)', () => {
  let root: string;
  let home: string;
  let host: ControlHost;
  /** The disk the appliance was made from, and its streamOptimized VMDK. */
  let source: string;
  let vmdk: string;

  /** NAME.ovf (VirtualBox 7's OVF 2.0), NAME-disk001.vmdk and, unless told not to, NAME.mf (SHA-256) in `dir`. */
  function makeFolder(dir: string, o: { href?: string; manifest?: boolean; declareSize?: boolean } = {}): string {
    mkdirSync(dir, { recursive: true });
    copyFileSync(vmdk, path.join(dir, VMDK));
    const ovf = path.join(dir, `${NAME}.ovf`);
    writeFileSync(
      ovf,
      virtualBoxOvf2({
        name: NAME,
        diskFile: o.href ?? VMDK,
        capacity: CAPACITY,
        firmware: 'BIOS',
        ...(o.declareSize === false ? {} : { fileSize: statSync(vmdk).size }),
      }),
    );
    if (o.manifest !== false) {
      writeFileSync(
        path.join(dir, `${NAME}.mf`),
        `SHA256(${NAME}.ovf)= ${sha256(ovf)}\nSHA256(${VMDK})= ${sha256(path.join(dir, VMDK))}\n`,
      );
    }
    return ovf;
  }

  /** Imports `ovf`, expects the refusal `message`, and that no VM and nothing under MARU_HOME appeared. */
  async function expectRefused(ovf: string, message: RegExp): Promise<void> {
    const vms = (await host.services.library.list()).length;
    const before = contents(home);
    await expect(host.services.appliances.import(ovf, {})).rejects.toThrow(message);
    expect((await host.services.library.list()).length).toBe(vms);
    expect(contents(home)).toEqual(before);
  }

  beforeAll(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'maru-ovf-folder-'));
    home = path.join(root, 'home');
    mkdirSync(home);
    host = createControlServices({ maruHome: home, env: { ...process.env, MARU_HOME: home } });
    source = path.join(root, 'source.qcow2');
    expect(spawnSync('qemu-img', ['create', '-f', 'qcow2', source, String(CAPACITY)]).status).toBe(0);
    const w = spawnSync(
      'qemu-io',
      ['-c', 'write -P 0x5a 0 1M', '-c', 'write -P 0xa5 40M 2M', '-c', 'write -P 0x3c 63M 64k', source],
      { encoding: 'utf8' },
    );
    expect(w.status, w.stderr).toBe(0);
    vmdk = path.join(root, 'made.vmdk');
    const c = spawnSync('qemu-img', ['convert', '-O', 'vmdk', '-o', 'subformat=streamOptimized', source, vmdk], {
      encoding: 'utf8',
    });
    expect(c.status, c.stderr).toBe(0);
  });

  afterAll(() => {
    host?.dispose();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('checks the folder and imports it as a VM with the same disk, reading its files and changing none', async () => {
    const folder = path.join(root, 'export');
    const ovf = makeFolder(folder);
    const before = contents(folder);

    const check = await host.services.appliances.check(ovf);
    expect(check).toEqual({
      path: ovf,
      name: NAME,
      os: 'linux64',
      cpus: 2,
      memoryMiB: 1024,
      firmware: 'bios',
      disks: [{ file: VMDK, capacityBytes: CAPACITY, controller: 'sata' }],
      problems: [],
      notCarried: ['USB controller 5 (usb).', 'Sound card 6 (sound).'],
    });

    const phases: string[] = [];
    const r = await host.services.appliances.import(ovf, {}, { onProgress: (p) => phases.push(p.phase) });
    expect(phases).toContain('convert');
    expect(r.warnings).toContain('Not carried over: USB controller 5 (usb).');
    const vm = await host.services.library.show(r.vmId);
    expect(vm.config).toMatchObject({ name: NAME, os: 'linux64', cpus: 2, memoryMiB: 1024, firmware: 'bios' });
    expect(vm.disks).toHaveLength(1);
    const cmp = spawnSync('qemu-img', ['compare', '-f', 'qcow2', '-F', 'qcow2', source, vm.disks[0]!.path], {
      encoding: 'utf8',
    });
    expect(cmp.status, cmp.stdout + cmp.stderr).toBe(0);
    // The appliance's files were only read; the work folder is gone.
    expect(contents(folder)).toEqual(before);
    expect(readdirSync(home).filter((n) => n.startsWith('.appliance-import-'))).toEqual([]);
  }, 120_000);

  it('refuses hrefs that leave the folder (.., absolute, a link) and a missing disk, naming the file', async () => {
    copyFileSync(vmdk, path.join(root, 'outside.vmdk'));
    await expectRefused(
      makeFolder(path.join(root, 'dotdot'), { href: '../outside.vmdk', manifest: false }),
      /fails the checks an appliance must pass, so nothing was imported:\n- File \.\.\/outside\.vmdk climbs out of the appliance's folder/,
    );
    const absolute = path.join(root, 'outside.vmdk');
    await expectRefused(
      makeFolder(path.join(root, 'absolute'), { href: absolute, manifest: false }),
      new RegExp(`- File ${absolute.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is an absolute path or URL`),
    );
    const linked = path.join(root, 'linked');
    const linkedOvf = makeFolder(linked, { href: 'link.vmdk', manifest: false, declareSize: false });
    symlinkSync(path.join(root, 'outside.vmdk'), path.join(linked, 'link.vmdk'));
    await expectRefused(
      linkedOvf,
      /- File link\.vmdk is a link that leads outside .*linked; an appliance's files must lie beside its descriptor/,
    );

    const missing = path.join(root, 'missing');
    const missingOvf = makeFolder(missing);
    unlinkSync(path.join(missing, VMDK));
    await expectRefused(
      missingOvf,
      new RegExp(
        `- File ${VMDK}, referenced by the descriptor, is not in ${missing.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\.`,
      ),
    );
    // --dry-run says the same without importing.
    const c = await host.services.appliances.check(missingOvf);
    expect(c.problems).toEqual([
      `File ${VMDK}, referenced by the descriptor, is not in ${missing}.`,
      `The manifest lists ${VMDK}, which is not in ${missing}.`,
    ]);
  }, 60_000);

  it('refuses a VMDK whose byte changed (manifest digest) or that is cut short, and removes what it made', async () => {
    const changed = path.join(root, 'changed');
    const changedOvf = makeFolder(changed);
    const fd = openSync(path.join(changed, VMDK), 'r+');
    const at = Math.floor(statSync(vmdk).size / 2);
    const byte = readFileSync(path.join(changed, VMDK))[at]!;
    writeSync(fd, Buffer.from([byte ^ 0xff]), 0, 1, at);
    closeSync(fd);
    await expectRefused(
      changedOvf,
      new RegExp(`\n- ${VMDK} does not match its SHA256 digest in the manifest: it was changed or damaged\\.$`),
    );

    // Cut inside its metadata: the header check finds it before qemu-img runs.
    const header = readFileSync(vmdk).subarray(0, 512);
    const overhead = Number(header.readBigUInt64LE(64)) * 512;
    const cut = path.join(root, 'cut');
    const cutOvf = makeFolder(cut, { manifest: false, declareSize: false });
    truncateSync(path.join(cut, VMDK), overhead - 4096);
    await expectRefused(
      cutOvf,
      new RegExp(`- ${VMDK} is cut short: it ends at byte ${overhead - 4096}, before its grain directory`),
    );

    // Cut among its compressed grains (no manifest or size to tell): qemu-img fails, the partial qcow2 is removed.
    const grains = path.join(root, 'grains');
    const grainsOvf = makeFolder(grains, { manifest: false, declareSize: false });
    truncateSync(path.join(grains, VMDK), overhead + 2048);
    await expectRefused(
      grainsOvf,
      new RegExp(
        `disk file ${VMDK} cannot be read as a VMDK \\(qemu-img: .+\\); it is damaged or cut short, so nothing was imported\\.`,
      ),
    );
  }, 60_000);

  it('on the command line: maru import FILE.ovf --dry-run, then --name', async () => {
    const folder = path.join(root, 'cli');
    const ovf = makeFolder(folder);
    const maru = async (...args: string[]) => {
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
    };
    const checked = await maru('import', ovf, '--dry-run');
    expect(checked.status, checked.err).toBe(0);
    expect(checked.out).toBe(
      `Appliance "${NAME}": linux64, 2 CPU, 1024 MiB, BIOS, 1 disk(s): ${VMDK} (64 MiB, sata)\n` +
        'Not carried over:\n- USB controller 5 (usb).\n- Sound card 6 (sound).\nNo problems found.\n',
    );
    const imported = await maru('import', ovf, '--name', 'Web from OVF', '--json');
    expect(imported.status, imported.err).toBe(0);
    const vm = await host.services.library.show((JSON.parse(imported.out) as { vmId: string }).vmId);
    expect(vm.config.name).toBe('Web from OVF');
    const cmp = spawnSync('qemu-img', ['compare', source, vm.disks[0]!.path], { encoding: 'utf8' });
    expect(cmp.status, cmp.stdout + cmp.stderr).toBe(0);
    const replace = await maru('import', ovf, '--replace', 'Web from OVF');
    expect(replace.status).toBe(2);
    expect(replace.err).toMatch(/--replace restores a Maru archive \(\.maru\), not an appliance/);
  }, 120_000);

  it("from the web console, a .ovf passes the caller policy only inside Maru's folders", async () => {
    const web = createControlClient(inProcessTransport(host.services, host, new WebCallerPolicy({ maruHome: home })));
    await expect(web.appliances.check(makeFolder(path.join(root, 'web-outside')))).rejects.toThrow(
      /is not a file the web console can use/,
    );
    const inside = makeFolder(path.join(home, 'backups', 'Web server OVF'));
    expect((await web.appliances.check(inside)).problems).toEqual([]);
    // The local user's road takes any path.
    const local = createControlClient(inProcessTransport(host.services, host, LOCAL_USER_POLICY));
    expect((await local.appliances.check(path.join(root, 'web-outside', `${NAME}.ovf`))).problems).toEqual([]);
  }, 60_000);
});
