// The `maru` CLI as a user runs it: the built bundle in a child process, a temp MARU_HOME,
// real qcow2 disks checked with qemu-img, and every bad input answered on stderr with a
// non-zero exit and nothing lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const CLI = path.resolve('dist/cli/maru.js');
let home: string;

function maru(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    env: { ...process.env, MARU_HOME: home },
    encoding: 'utf8',
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

beforeAll(() => {
  // The CLI under test is the bundle users run.
  const b = spawnSync(process.execPath, ['scripts/build.mjs', '--node-only', '--quiet'], { encoding: 'utf8' });
  if (b.status !== 0) throw new Error(`build failed: ${b.stderr}`);
  home = mkdtempSync(path.join(os.tmpdir(), 'maru-cli-'));
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('maru create / show / list', () => {
  it('creates a Windows 11 VM with UEFI + Secure Boot + TPM and a sparse 64 GiB qcow2', () => {
    const r = maru('create', '--name', 'X', '--os', 'windows11', '--json');
    expect(r.code, r.err).toBe(0);
    const created = JSON.parse(r.out) as { vm: { config: Record<string, unknown>; disks: { path: string }[] } };
    expect(created.vm.config).toMatchObject({
      name: 'X',
      os: 'windows11',
      firmware: 'uefi',
      secureBoot: true,
      tpm: true,
    });

    const show = maru('show', 'X', '--json');
    expect(show.code).toBe(0);
    const vm = JSON.parse(show.out) as {
      config: { id: string; cpus: number; memoryMiB: number; chipset: string };
      disks: { path: string; virtualSizeBytes: number; allocatedBytes: number }[];
    };
    expect(vm.config).toMatchObject({ cpus: 2, memoryMiB: 4096, chipset: 'q35' });
    expect(vm.disks).toHaveLength(1);
    const disk = vm.disks[0]!;
    expect(disk.virtualSizeBytes).toBe(64 * 2 ** 30);
    expect(disk.allocatedBytes).toBeLessThan(1024 * 1024);
    const info = spawnSync('qemu-img', ['info', '--output=json', disk.path], { encoding: 'utf8' });
    expect(JSON.parse(info.stdout)).toMatchObject({ format: 'qcow2', 'virtual-size': 64 * 2 ** 30 });
    expect(spawnSync('qemu-img', ['check', disk.path]).status).toBe(0);
    expect(statSync(disk.path).blocks * 512).toBeLessThan(1024 * 1024);

    const list = maru('list', '--json');
    expect(list.code).toBe(0);
    expect((JSON.parse(list.out) as { name: string; kind: string }[]).map((e) => [e.name, e.kind])).toEqual([
      ['X', 'ok'],
    ]);

    const human = maru('show', vm.config.id);
    expect(human.out).toMatch(/Secure Boot:\s+on/);
    expect(human.out).toMatch(/TPM 2\.0:\s+on/);
    expect(maru('list').out).toMatch(/^NAME\s+STATE\s+OS/m);
  });

  it('refuses duplicate, invalid and path-separator names', () => {
    const cases: [string, RegExp][] = [
      ['X', /already/i],
      ['x', /already/i],
      ['a/b', /path separator/],
      ['a\\b', /path separator/],
      ['..', /dots/],
      ['', /empty/],
      [' padded', /space/],
    ];
    for (const [name, why] of cases) {
      const r = maru('create', '--name', name, '--os', 'dos');
      expect(r.code, name).toBe(1);
      expect(r.err, name).toMatch(why);
    }
    expect(JSON.parse(maru('list', '--json').out)).toHaveLength(1);
  });

  it('refuses memory the host cannot give, with the figures; warns above half of host RAM', () => {
    const totalMiB = Math.floor(os.totalmem() / 2 ** 20);
    const tooMuch = maru('create', '--name', 'big', '--memory', String(totalMiB + 1024), '--disk', '1');
    expect(tooMuch.code).toBe(1);
    expect(tooMuch.err).toMatch(/memory/i);
    expect(tooMuch.err).toMatch(new RegExp(String(totalMiB + 1024)));
    const half = Math.floor(totalMiB * 0.6);
    const warned = maru('create', '--name', 'hungry', '--memory', String(half), '--disk', '0');
    expect(warned.code, warned.err).toBe(0);
    expect(warned.err).toMatch(/warning: .*taken from the host/i);
  });

  it('refuses more CPUs than the host has, with the figures', () => {
    const cores = os.availableParallelism();
    const r = maru('create', '--name', 'wide', '--cpus', String(cores + 1), '--disk', '0');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`${cores + 1}.*${cores}|${cores}.*${cores + 1}`));
  });

  it('refuses a missing ISO path', () => {
    const missing = path.join(home, 'nope.iso');
    const r = maru('create', '--name', 'iso', '--iso', missing, '--disk', '0');
    expect(r.code).toBe(1);
    expect(r.err).toContain(missing);
  });

  it('answers usage mistakes with exit 2 and the usage line', () => {
    for (const args of [['create'], ['create', '--name', 'u', '--memory', 'lots'], ['show'], ['frobnicate']]) {
      const r = maru(...args);
      expect(r.code, args.join(' ')).toBe(2);
    }
    expect(maru('create', '--name', 'u', '--os', 'beos').err).toMatch(/--os must be one of/);
  });

  it('lists a corrupt vm.json as inaccessible and never touches it', () => {
    const dir = path.join(home, 'vms', '11111111-2222-4333-8444-555555555555');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'vm.json');
    writeFileSync(file, '{"schemaVersion": 2, "name": ');
    const before = { bytes: readFileSync(file), mtime: statSync(file).mtimeMs };
    const r = maru('list', '--json');
    expect(r.code).toBe(0);
    const bad = (JSON.parse(r.out) as { kind: string; id: string; error: string }[]).find(
      (e) => e.kind === 'inaccessible',
    );
    expect(bad?.id).toBe('11111111-2222-4333-8444-555555555555');
    expect(bad?.error).toMatch(/JSON|parse/i);
    expect(maru('list').out).toMatch(/inaccessible/);
    const show = maru('show', '11111111-2222-4333-8444-555555555555');
    expect(show.code).toBe(1);
    expect(show.err).toMatch(/inaccessible|JSON/i);
    expect(readFileSync(file).equals(before.bytes)).toBe(true);
    expect(statSync(file).mtimeMs).toBe(before.mtime);
  });

  it('modifies, clones and deletes', () => {
    expect(maru('modify', 'X', '--memory', '6G', '--cpus', '1').code).toBe(0);
    const shown = JSON.parse(maru('show', 'X', '--json').out) as { config: { memoryMiB: number; cpus: number } };
    expect(shown.config).toMatchObject({ memoryMiB: 6144, cpus: 1 });
    expect(maru('modify', 'X', '--firmware', 'bios').err).toMatch(/Secure Boot/);
    const clone = maru('clone', 'X', 'X copy', '--json');
    expect(clone.code, clone.err).toBe(0);
    const copy = JSON.parse(clone.out) as { config: { id: string }; disks: { path: string }[] };
    expect(spawnSync('qemu-img', ['check', copy.disks[0]!.path]).status).toBe(0);
    const del = maru('delete', 'X copy', '--delete-disks');
    expect(del.code, del.err).toBe(0);
    expect(existsSync(path.join(home, 'vms', copy.config.id))).toBe(false);
    expect(maru('show', 'X copy').code).toBe(1);
  });
});

describe('maru host', () => {
  it('reports each accelerator verdict; on this machine KVM is present but unusable and TCG is chosen', () => {
    const r = maru('host', '--json');
    expect(r.code, r.err).toBe(0);
    const info = JSON.parse(r.out) as {
      accelerator: string;
      accelerators: { name: string; present: boolean; usable: boolean }[];
      firmware: { ovmf: unknown; ovmfSecureBoot: unknown; seabios: unknown };
      swtpm: unknown;
    };
    expect(info.accelerators.find((a) => a.name === 'tcg')?.usable).toBe(true);
    expect(info.firmware.ovmf).not.toBeNull();
    expect(info.firmware.ovmfSecureBoot).not.toBeNull();
    expect(info.firmware.seabios).not.toBeNull();
    expect(info.swtpm).not.toBeNull();
    const kvm = info.accelerators.find((a) => a.name === 'kvm');
    if (existsSync('/sys/module/kvm_pvm')) {
      // This workplace's paravirtual KVM: /dev/kvm opens, guests die.
      expect(kvm).toMatchObject({ present: true, usable: false });
      expect(info.accelerator).toBe('tcg');
      const text = maru('host').out;
      expect(text).toMatch(/KVM is present but cannot run guests/);
      expect(text).toMatch(/TCG/);
    }
  });
});

describe('maru in a pipeline', () => {
  it('stops quietly when the reader goes away (maru serial VM | head -c 10)', () => {
    expect(maru('create', '--name', 'Piped', '--os', 'other', '--disk', '0').code).toBe(0);
    const id = (JSON.parse(maru('show', 'Piped', '--json').out) as { config: { id: string } }).config.id;
    mkdirSync(path.join(home, 'vms', id, 'logs'), { recursive: true });
    // Far more than a pipe holds (64 KiB): the writes are still going when `head` quits.
    writeFileSync(path.join(home, 'vms', id, 'logs', 'serial.log'), 'serial output line\n'.repeat(200_000));
    const r = spawnSync('sh', ['-c', `"${process.execPath}" "${CLI}" serial Piped | head -c 10 >/dev/null`], {
      env: { ...process.env, MARU_HOME: home },
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    expect(r.stderr).not.toMatch(/EPIPE|Unhandled|node:events/);
  });
});
