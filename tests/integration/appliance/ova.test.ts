// OVA packages with real qemu-img and tar: Maru's export of a VM's disk and settings is a tar that `tar -tf` lists
// in VirtualBox's order (descriptor, disks, manifest), passes the structural check VirtualBox's
// importer makes, and holds the VM's disk (qemu-img compare); a changed byte, a missing disk or
// a cut-short package is found; cancel leaves nothing behind.
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
  readFileSync,
  writeFileSync,
  writeSync,
  closeSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { checkOva, listOva, writeOva, type OvaExportInput } from '../../../src-main/services/appliance/ova';
import { createControlServices, type ControlHost } from '../../../src-main/services/control-services';
import { canRun, ensureBuilt, MEDIA } from '../qemu/qemu-test-kit';
import { virtualBoxOvf } from './virtualbox-ovf';

const haveTools = ['qemu-img', 'qemu-io', 'tar'].every((t) => spawnSync('which', [t]).status === 0);

describe.skipIf(!haveTools)('OVA export and check (real qemu-img, tar)', () => {
  let root: string;
  let input: OvaExportInput;
  let disk: string;
  let ova: string;

  beforeAll(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'maru-ova-'));
    disk = path.join(root, 'disk0.qcow2');
    expect(spawnSync('qemu-img', ['create', '-f', 'qcow2', disk, '1G']).status).toBe(0);
    const w = spawnSync('qemu-io', ['-c', 'write -P 0x5a 0 8M', '-c', 'write -P 0xa5 512M 4M', disk], {
      encoding: 'utf8',
    });
    expect(w.status, w.stderr).toBe(0);
    input = {
      name: 'Old server (2009)',
      os: 'windowsxp',
      cpus: 1,
      memoryMiB: 512,
      disks: [{ file: disk, format: 'qcow2', virtualBytes: 2 ** 30 }],
    };
    ova = path.join(root, 'old-server.ova');
  });

  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('writes a tar in VirtualBox order that passes the structural check and holds the disk', async () => {
    const phases: string[] = [];
    const r = await writeOva('qemu-img', input, ova, { onProgress: (p) => phases.push(p.phase) });
    expect(r.files).toEqual(['Old_server_2009_.ovf', 'Old_server_2009_-disk001.vmdk', 'Old_server_2009_.mf']);
    expect(phases).toContain('convert');
    expect(phases.at(-1)).toBe('package');
    const listed = spawnSync('tar', ['-tf', ova], { encoding: 'utf8' });
    expect(listed.status, listed.stderr).toBe(0);
    expect(listed.stdout.trim().split('\n')).toEqual(r.files);
    expect(statSync(ova).size).toBe(r.bytes);

    const check = await checkOva(ova);
    expect(check.problems).toEqual([]);
    expect(check.ovf.system).toMatchObject({
      name: 'Old server (2009)',
      vboxOsType: 'WindowsXP',
      cpus: 1,
      memoryMiB: 512,
    });
    expect(check.ovf.disks[0]!.capacityBytes).toBe(2 ** 30);

    // The disk inside is the VM's disk.
    const out = path.join(root, 'x');
    rmSync(out, { recursive: true, force: true });
    spawnSync('mkdir', [out]);
    expect(spawnSync('tar', ['-xf', ova, '-C', out]).status).toBe(0);
    const info = JSON.parse(
      spawnSync('qemu-img', ['info', '--output=json', path.join(out, r.files[1]!)], { encoding: 'utf8' }).stdout,
    ) as { format: string; 'format-specific'?: { data?: { 'create-type'?: string } } };
    expect(info.format).toBe('vmdk');
    expect(info['format-specific']?.data?.['create-type']).toBe('streamOptimized');
    const cmp = spawnSync('qemu-img', ['compare', disk, path.join(out, r.files[1]!)], { encoding: 'utf8' });
    expect(cmp.status, cmp.stdout + cmp.stderr).toBe(0);
  }, 120_000);

  it('finds a changed byte, a cut-short package and a missing file', async () => {
    const entries = await listOva(ova);
    const vmdk = entries[1]!;
    const changed = path.join(root, 'changed.ova');
    spawnSync('cp', [ova, changed]);
    const fd = openSync(changed, 'r+');
    writeSync(fd, Buffer.from([0xff]), 0, 1, vmdk.offset + Math.floor(vmdk.size / 2));
    closeSync(fd);
    expect((await checkOva(changed)).problems).toEqual([
      `${vmdk.path} does not match its SHA256 digest in the manifest: it was changed or damaged.`,
    ]);

    const cut = path.join(root, 'cut.ova');
    spawnSync('cp', [ova, cut]);
    truncateSync(cut, vmdk.offset + 1000);
    await expect(checkOva(cut)).rejects.toThrow(/is not a usable OVA appliance: .* is cut short/);

    // A package without its disk (a descriptor and manifest only), as tar would make it.
    const parts = path.join(root, 'parts');
    spawnSync('mkdir', ['-p', parts]);
    expect(spawnSync('tar', ['-xf', ova, '-C', parts]).status).toBe(0);
    const missing = path.join(root, 'missing.ova');
    expect(spawnSync('tar', ['-cf', missing, '-C', parts, entries[0]!.path, entries[2]!.path]).status).toBe(0);
    expect((await checkOva(missing)).problems).toEqual([
      `File ${vmdk.path}, referenced by the descriptor, is not in the package.`,
      `The manifest lists ${vmdk.path}, which is not in the package.`,
    ]);
  }, 60_000);

  it('refuses a target that exists, and a cancelled export leaves nothing behind', async () => {
    await expect(writeOva('qemu-img', input, ova)).rejects.toThrow();
    const target = path.join(root, 'cancelled.ova');
    const controller = new AbortController();
    const p = writeOva('qemu-img', input, target, {
      signal: controller.signal,
      onProgress: () => controller.abort(),
    });
    await expect(p).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(root).filter((n) => n.includes('cancelled'))).toEqual([]);
  }, 60_000);
});

describe.skipIf(!haveTools || !canRun)('OVA import of a VirtualBox-made appliance (real qemu-img, QEMU)', () => {
  let root: string;
  let host: ControlHost;
  let ova: string;

  /** A package as VirtualBox builds one: NAME.ovf, NAME-disk001.vmdk (streamOptimized), NAME.mf (SHA1). */
  function virtualBoxOva(dir: string, name: string, vmdkSource: string, o: { capacity: number }): string {
    const vmdk = `${name}-disk001.vmdk`;
    const made = spawnSync(
      'qemu-img',
      ['convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=streamOptimized', vmdkSource, path.join(dir, vmdk)],
      { encoding: 'utf8' },
    );
    expect(made.status, made.stderr).toBe(0);
    writeFileSync(path.join(dir, `${name}.ovf`), virtualBoxOvf({ name, capacity: o.capacity, firmware: 'BIOS' }));
    const sha1 = (f: string) =>
      createHash('sha1')
        .update(readFileSync(path.join(dir, f)))
        .digest('hex');
    writeFileSync(
      path.join(dir, `${name}.mf`),
      `SHA1(${name}.ovf)= ${sha1(`${name}.ovf`)}\nSHA1(${vmdk})= ${sha1(vmdk)}\n`,
    );
    const out = path.join(dir, `${name}.ova`);
    const tar = spawnSync('tar', ['-cf', out, '-C', dir, `${name}.ovf`, vmdk, `${name}.mf`], { encoding: 'utf8' });
    expect(tar.status, tar.stderr).toBe(0);
    return out;
  }

  beforeAll(() => {
    ensureBuilt();
    root = mkdtempSync(path.join(os.tmpdir(), 'maru-ova-import-'));
    const home = path.join(root, 'home');
    host = createControlServices({ maruHome: home, env: { ...process.env, MARU_HOME: home } });
    // The test ISO is hybrid: as a disk, the BIOS boots it like the CD.
    const capacity = Math.ceil(statSync(MEDIA.biosUefi).size / 512) * 512;
    ova = virtualBoxOva(root, 'Debian server', MEDIA.biosUefi, { capacity });
  });

  afterAll(async () => {
    for (const vm of (await host?.services.library.list()) ?? []) {
      await host.services.vm.stop(vm.id, { force: true }).catch(() => undefined);
    }
    host?.dispose();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('checks it, imports it as a VM with its settings and a qcow2 disk, and the VM boots from that disk', async () => {
    const check = await host.services.appliances.check(ova);
    expect(check).toMatchObject({
      name: 'Debian server',
      os: 'linux64',
      cpus: 2,
      memoryMiB: 1024,
      firmware: 'bios',
      problems: [],
    });
    const phases: string[] = [];
    const r = await host.services.appliances.import(ova, {}, { onProgress: (p) => phases.push(p.phase) });
    expect(phases).toContain('convert');
    const vm = await host.services.library.show(r.vmId);
    expect(vm.config).toMatchObject({
      name: 'Debian server',
      os: 'linux64',
      cpus: 2,
      memoryMiB: 1024,
      firmware: 'bios',
    });
    expect(vm.disks).toHaveLength(1);
    expect(readdirSync(path.join(root, 'home')).filter((n) => n.startsWith('.appliance-import-'))).toEqual([]);
    const cmp = spawnSync('qemu-img', ['compare', '-f', 'raw', MEDIA.biosUefi, vm.disks[0]!.path], {
      encoding: 'utf8',
    });
    expect(cmp.status, cmp.stdout + cmp.stderr).toBe(0);

    await host.services.vm.start(r.vmId);
    const log = path.join(vm.folder, 'logs', 'serial.log');
    const end = Date.now() + 180_000;
    while (!(existsSync(log) && readFileSync(log, 'latin1').includes('MARU-BOOT-OK'))) {
      if (Date.now() > end) throw new Error('the imported VM did not boot to MARU-BOOT-OK');
      await new Promise((res) => setTimeout(res, 250));
    }
    await host.services.vm.stop(r.vmId, { force: true });
  }, 300_000);

  it('on the command line: exports the imported VM as an OVA, checks it (--dry-run) and imports it again', async () => {
    const b = spawnSync(process.execPath, ['scripts/build.mjs', '--node-only', '--quiet'], { encoding: 'utf8' });
    expect(b.status, b.stderr).toBe(0);
    const maru = (...args: string[]) =>
      spawnSync(process.execPath, ['dist/cli/maru.js', ...args], {
        env: { ...process.env, MARU_HOME: path.join(root, 'home') },
        encoding: 'utf8',
        timeout: 120_000,
      });
    const again = path.join(root, 'again.ova');
    // A second adapter, on an internal network: exported as an ethernet item of its own.
    expect(maru('modify', 'Debian server', '--nic2', 'internal:lab').status).toBe(0);
    const exported = maru('export', 'Debian server', again);
    expect(exported.status, exported.stderr).toBe(0);
    expect(exported.stdout).toMatch(/^Exported VM "Debian server" as an appliance: .*again\.ova/);
    const checked = maru('import', again, '--dry-run');
    expect(checked.status, checked.stderr).toBe(0);
    expect(checked.stdout).toMatch(
      /^Appliance "Debian server": linux64, 2 CPU, 1024 MiB, BIOS, 1 disk\(s\):.*\nNot carried over:\n- Network adapter 2 \(virtio on lab\) is attached to NAT in the imported VM\.\nNo problems found\.$/m,
    );
    const imported = maru('import', again, '--name', 'Debian again', '--json');
    expect(imported.status, imported.stderr).toBe(0);
    const made = JSON.parse(imported.stdout) as { vmId: string; warnings: string[] };
    const vm = await host.services.library.show(made.vmId);
    expect(vm.config).toMatchObject({ name: 'Debian again', cpus: 2, memoryMiB: 1024 });
    // Each ethernet item is a NAT adapter again; the one that was on "lab" is said so.
    expect(vm.config.nics.map((n) => [n.attachment, n.model])).toEqual([
      ['nat', 'virtio-net'],
      ['nat', 'virtio-net'],
    ]);
    expect(made.warnings).toContain(
      'Not carried over: Network adapter 2 (virtio on lab) is attached to NAT in the imported VM.',
    );
    const cmp = spawnSync('qemu-img', ['compare', '-f', 'raw', MEDIA.biosUefi, vm.disks[0]!.path], {
      encoding: 'utf8',
    });
    expect(cmp.status, cmp.stdout + cmp.stderr).toBe(0);
  }, 180_000);

  it('refuses a package whose disk was changed, and registers nothing', async () => {
    const changed = path.join(root, 'changed.ova');
    spawnSync('cp', [ova, changed]);
    const entries = await listOva(changed);
    const fd = openSync(changed, 'r+');
    writeSync(fd, Buffer.from([0x00, 0x11, 0x22]), 0, 3, entries[1]!.offset + 4096);
    closeSync(fd);
    const before = (await host.services.library.list()).length;
    await expect(host.services.appliances.import(changed, { name: 'Tampered' })).rejects.toThrow(
      /fails the checks an appliance must pass, so nothing was imported:\n- Debian server-disk001\.vmdk does not match its SHA1 digest/,
    );
    expect((await host.services.library.list()).length).toBe(before);
    expect(readdirSync(path.join(root, 'home')).filter((n) => n.startsWith('.appliance-import-'))).toEqual([]);
  }, 60_000);
});
