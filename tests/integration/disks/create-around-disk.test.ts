// A new VM made around a disk the user already has (`library.create({ existingDisk })`), through
// the typed control client as every front end calls it, with real qemu-img and images holding
// known data: an imported VMDK becomes disk 0 (moved into the VM's folder, same contents), a
// qcow2 outside MARU_HOME is used in place, and every refusal — a VMDK given as it is, another
// VM's disk, a missing file, a size given too, a cancel after the move — leaves no VM behind and
// the user's file where and as it was (checksum and mtime).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_USER_POLICY } from '../../../src-shared/contracts/access';
import { createControlClient, inProcessTransport, type ControlServices } from '../../../src-shared/contracts/control';
import type { JobProgress } from '../../../src-shared/contracts/jobs';
import { importDiskForVm } from '../../../src-shared/disk-for-new-vm';
import { AppError } from '../../../src-shared/errors';
import { createControlServices, type ControlHost } from '../../../src-main/services/control-services';

const MiB = 2 ** 20;
const haveTools = ['qemu-img', 'qemu-io'].every((t) => spawnSync('which', [t]).status === 0);

function tool(bin: string, ...args: string[]): string {
  const r = spawnSync(bin, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

function sameContents(a: string, b: string): void {
  const r = spawnSync('qemu-img', ['compare', a, b], { encoding: 'utf8' });
  expect(r.status, r.stdout + r.stderr).toBe(0);
}

/** Content and mtime: proof a file was left as it was. */
function fingerprint(file: string): string {
  return `${createHash('sha256').update(readFileSync(file)).digest('hex')} ${statSync(file).mtimeMs}`;
}

async function refusal(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, 'the call should have been refused').toBeInstanceOf(AppError);
  return err as AppError;
}

describe.skipIf(!haveTools)('creating a VM around an existing disk', () => {
  let root: string;
  let home: string;
  let host: ControlHost;
  let s: ControlServices;
  /** 48 MiB qcow2 outside MARU_HOME: a pattern at 0, another at 30 MiB. */
  let outside: string;
  let vmdk: string;
  const vmsDir = () => path.join(home, 'vms');
  const small = { os: 'linux64', engine: 'qemu', cpus: 1, memoryMiB: 256 } as const;

  /** Every entry of vms/ (hidden staging folders too): "no VM was left behind" compares these. */
  function vmFolders(): string[] {
    return existsSync(vmsDir()) ? readdirSync(vmsDir()).sort() : [];
  }

  beforeAll(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'maru-create-disk-'));
    home = path.join(root, 'home');
    host = createControlServices({ maruHome: home, env: { ...process.env, MARU_HOME: home } });
    s = createControlClient(inProcessTransport(host.services, host, LOCAL_USER_POLICY));
    outside = path.join(root, 'installed.qcow2');
    tool('qemu-img', 'create', '-q', '-f', 'qcow2', outside, '48M');
    tool('qemu-io', '-f', 'qcow2', '-c', 'write -P 0xa5 0 2M', '-c', 'write -P 0x3c 30M 1M', outside);
    vmdk = path.join(root, 'old server.vmdk');
    tool('qemu-img', 'convert', '-f', 'qcow2', '-O', 'vmdk', '-o', 'subformat=monolithicSparse', outside, vmdk);
  });

  afterAll(() => {
    host?.dispose();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('an imported VMDK becomes disk 0, moved into the VM folder with the same contents; the VM boots from it first', async () => {
    const before = fingerprint(vmdk);
    const progress: JobProgress[] = [];
    const copy = await importDiskForVm(s.disks, vmdk, 'Old server', { onProgress: (p) => progress.push(p) });
    expect(copy.path).toBe(path.join(home, 'disks', 'Old server.qcow2'));
    expect(progress.some((p) => p.phase === 'import' && p.fraction === 1)).toBe(true);

    const { vm, warnings } = await s.library.create({ ...small, name: 'Old server', existingDisk: copy.path });
    expect(vm.disks).toHaveLength(1);
    const disk0 = vm.disks[0]!;
    expect(disk0.id).toBe('disk0');
    expect(path.dirname(disk0.path)).toBe(path.join(vm.folder, 'disks'));
    expect(disk0.bus).toBe('virtio'); // the preset's
    expect(disk0.virtualSizeBytes).toBe(48 * MiB);
    expect(vm.config.disks[0]!.userAttached).toBeUndefined();
    expect(vm.config.bootOrder[0]).toBe('disk');
    expect(existsSync(copy.path)).toBe(false);
    expect(warnings.join('\n')).toContain(`was moved into the VM's folder: ${disk0.path}`);
    sameContents(vmdk, disk0.path);
    expect(tool('qemu-img', 'check', disk0.path)).toMatch(/No errors were found/);
    expect(fingerprint(vmdk)).toBe(before);
    // No hidden staging folder is left.
    expect(vmFolders()).toEqual([vm.config.id]);

    // The same name again takes the next free file name for its copy.
    const second = await importDiskForVm(s.disks, vmdk, 'Old server');
    expect(path.basename(second.path)).toBe('Old server.qcow2');
    const third = await importDiskForVm(s.disks, vmdk, 'Old server');
    expect(path.basename(third.path)).toBe('Old server-2.qcow2');
    rmSync(second.path);
    rmSync(third.path);

    await s.library.delete(vm.config.id, { deleteDisks: true });
  });

  it('a qcow2 outside MARU_HOME is used where it is, on the bus asked for', async () => {
    const before = fingerprint(outside);
    const { vm } = await s.library.create({ ...small, name: 'in place', existingDisk: outside, diskBus: 'ahci' });
    expect(vm.config.disks).toEqual([
      { id: 'disk0', file: realpathSync(outside), bus: 'ahci', sizeBytes: 48 * MiB, userAttached: true },
    ]);
    expect(vm.disks[0]).toMatchObject({ path: realpathSync(outside), exists: true });
    expect(vm.config.bootOrder).toEqual(['disk', 'cdrom']);
    expect(fingerprint(outside)).toBe(before);
    // Deleting the VM, disks and all, never touches a disk outside its folder.
    await s.library.delete(vm.config.id, { deleteDisks: true });
    expect(fingerprint(outside)).toBe(before);
    expect(vmFolders()).toEqual([]);
  });

  describe('refusals leave no VM and the file as it was', () => {
    async function refusedCreate(args: Parameters<ControlServices['library']['create']>[0], file: string) {
      const vms = vmFolders();
      const listed = await s.library.list();
      const before = existsSync(file) ? fingerprint(file) : null;
      const err = await refusal(s.library.create(args));
      expect(vmFolders()).toEqual(vms);
      expect(await s.library.list()).toEqual(listed);
      expect(existsSync(file) ? fingerprint(file) : null).toBe(before);
      return err;
    }

    it('a VMDK given as it is: import it first', async () => {
      const err = await refusedCreate({ ...small, name: 'vmdk', existingDisk: vmdk }, vmdk);
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.message).toMatch(/not a usable qcow2 image/);
      expect(err.message).toContain(`"maru disk import ${vmdk}"`);
      expect(err.message).toMatch(/new-VM wizard imports it for you/);
    });

    it("another VM's disk", async () => {
      const { vm: other } = await s.library.create({ ...small, name: 'owner', diskGiB: 0.05 });
      const disk = other.disks[0]!.path;
      const err = await refusedCreate({ ...small, name: 'thief', existingDisk: disk }, disk);
      expect(err.code).toBe('BUSY');
      expect(err.message).toMatch(/is disk disk0 of VM "owner" \(off\); two VMs writing one disk would corrupt it/);
      await s.library.delete(other.config.id, { deleteDisks: true });
    });

    it('a missing file', async () => {
      const missing = path.join(root, 'nowhere.qcow2');
      const err = await refusedCreate({ ...small, name: 'missing', existingDisk: missing }, missing);
      expect(err.code).toBe('NOT_FOUND');
      expect(err.message).toBe(`The disk image ${missing} does not exist.`);
    });

    it('a disk size together with an existing disk', async () => {
      const err = await refusedCreate({ ...small, name: 'both', existingDisk: outside, diskGiB: 8 }, outside);
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.message).toMatch(/Choose one: the existing disk .*installed\.qcow2 or a new disk of 8 GiB, not both/);
    });

    it('a name that is taken (checked before the imported disk moves)', async () => {
      const copy = await s.disks.import(outside, { name: 'kept' });
      const { vm } = await s.library.create({ ...small, name: 'taken', diskGiB: 0 });
      const err = await refusedCreate({ ...small, name: 'taken', existingDisk: copy.path }, copy.path);
      expect(err.code).toBe('ALREADY_EXISTS');
      await s.library.delete(vm.config.id, { deleteDisks: true });
      rmSync(copy.path);
    });

    it('cancelled after the imported disk moved into the new VM: it goes back to $MARU_HOME/disks', async () => {
      const copy = await s.disks.import(outside, { name: 'moved-back' });
      const before = fingerprint(copy.path);
      const vms = vmFolders();
      const controller = new AbortController();
      // The library's own job (not through the transport): the abort lands between the move and the config.
      const err = await refusal(
        host.services.library.create(
          { ...small, name: 'cancelled', existingDisk: copy.path },
          {
            signal: controller.signal,
            onProgress: (p) => {
              if (p.phase === 'config') controller.abort();
            },
          },
        ),
      );
      expect(err.code).toBe('CANCELLED');
      expect(vmFolders()).toEqual(vms);
      expect(fingerprint(copy.path)).toBe(before);
      sameContents(outside, copy.path);
      rmSync(copy.path);
    });
  });
});
