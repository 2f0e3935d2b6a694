// `maru create --disk FILE` and `--import-disk FILE` as a user runs them: the built CLI in a
// child process against a temp MARU_HOME, real qemu-img and images with known data. An existing
// qcow2 is used in place; a VMDK is imported with progress on stderr and the VM made around the
// copy; a create that fails after the import says where the copy is; a VMDK given to --disk is
// refused with "import it first"; usage mistakes exit 2.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreateResult } from '../../../src-shared/contracts/library';
import { ensureBuilt, REPO } from '../qemu/qemu-test-kit';

const CLI = path.join(REPO, 'dist/cli/maru.js');
const MiB = 2 ** 20;
const haveTools = ['qemu-img', 'qemu-io'].every((t) => spawnSync('which', [t]).status === 0);
const SMALL = ['--os', 'linux64', '--engine', 'qemu', '--cpus', '1', '--memory', '256'];

describe.skipIf(!haveTools)('maru create around an existing disk', () => {
  let root: string;
  let home: string;
  let qcow2: string;
  let vmdk: string;

  function maru(...args: string[]) {
    const r = spawnSync(process.execPath, [CLI, ...args], {
      env: { ...process.env, MARU_HOME: home },
      encoding: 'utf8',
      timeout: 120_000,
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  }

  function tool(bin: string, ...args: string[]): void {
    const r = spawnSync(bin, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  }

  function sameContents(a: string, b: string): void {
    const r = spawnSync('qemu-img', ['compare', a, b], { encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  }

  beforeAll(() => {
    ensureBuilt();
    root = mkdtempSync(path.join(os.tmpdir(), 'maru-create-disk-cli-'));
    home = path.join(root, 'home');
    qcow2 = path.join(root, 'system.qcow2');
    tool('qemu-img', 'create', '-q', '-f', 'qcow2', qcow2, '40M');
    tool('qemu-io', '-f', 'qcow2', '-c', 'write -P 0x77 0 1M', '-c', 'write -P 0x19 33M 1M', qcow2);
    vmdk = path.join(root, 'appliance.vmdk');
    tool('qemu-img', 'convert', '-f', 'qcow2', '-O', 'vmdk', '-o', 'subformat=streamOptimized', qcow2, vmdk);
  });

  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('--help explains --disk GiB|FILE and --import-disk', () => {
    const r = maru('create', '--help');
    expect(r.code).toBe(0);
    expect(r.out).toContain('[--disk GiB|FILE] [--import-disk FILE]');
    expect(r.out).toMatch(/--import-disk FILE copies a VDI, VMDK, VHD, VHDX, raw or qcow2 image/);
  });

  it('--disk FILE makes the VM around an existing qcow2, used where it is and booted first', () => {
    const r = maru('create', '--name', 'existing', ...SMALL, '--disk', qcow2, '--json');
    expect(r.code, r.err).toBe(0);
    const { vm } = JSON.parse(r.out) as CreateResult;
    expect(vm.config.disks).toEqual([
      { id: 'disk0', file: realpathSync(qcow2), bus: 'virtio', sizeBytes: 40 * MiB, userAttached: true },
    ]);
    expect(vm.config.bootOrder[0]).toBe('disk');
    // A number is still a size.
    const sized = maru('create', '--name', 'sized', ...SMALL, '--disk', '0.25', '--json');
    expect(sized.code, sized.err).toBe(0);
    expect((JSON.parse(sized.out) as CreateResult).vm.disks[0]!.virtualSizeBytes).toBe(256 * MiB);
  });

  it('--import-disk imports a VMDK with progress, then makes the VM around the copy', () => {
    const r = maru('create', '--name', 'appliance', ...SMALL, '--import-disk', vmdk);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/^import: 100%$/m);
    expect(r.err).toContain(`Imported ${vmdk} as ${path.join(home, 'disks', 'appliance.qcow2')}.`);
    expect(r.out).toMatch(/^Created "appliance" \(/);
    const shown = JSON.parse(maru('show', 'appliance', '--json').out) as CreateResult['vm'];
    const disk = shown.disks[0]!.path;
    expect(path.dirname(disk)).toBe(path.join(shown.folder, 'disks'));
    sameContents(vmdk, disk);
    // The copy moved into the VM: nothing is left in $MARU_HOME/disks.
    expect(readdirSync(path.join(home, 'disks'))).toEqual([]);
  });

  it('a create that fails after the import says where the copy is kept', () => {
    const r = maru('create', '--name', 'appliance', ...SMALL, '--import-disk', vmdk);
    expect(r.code).toBe(1);
    const copy = path.join(home, 'disks', 'appliance.qcow2');
    expect(r.err).toMatch(/A VM named "appliance" already exists/);
    expect(r.err).toContain(`The imported copy is kept: ${copy}.`);
    expect(existsSync(copy)).toBe(true);
    sameContents(vmdk, copy);
  });

  it('refuses a VMDK given to --disk (import it first) and --disk with --import-disk', () => {
    const r = maru('create', '--name', 'raw vmdk', ...SMALL, '--disk', vmdk);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`"maru disk import ${vmdk}"`);
    expect(r.err).toMatch(/--import-disk FILE/);
    const both = maru('create', '--name', 'both', ...SMALL, '--disk', '8', '--import-disk', vmdk);
    expect(both.code).toBe(2);
    expect(both.err).toMatch(/Choose one: --disk .* or --import-disk FILE/);
    expect(JSON.parse(maru('list', '--json').out).map((v: { name: string }) => v.name)).not.toContain('raw vmdk');
  });
});
