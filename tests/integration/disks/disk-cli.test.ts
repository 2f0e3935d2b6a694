// `maru disk info | import | resize | compact | convert` as a user runs them: the built CLI in a
// child process against a temp MARU_HOME, real qemu-img and images with known data (qemu-io).
// Results go to stdout (text or --json), progress to stderr; usage mistakes exit 2, refusals 1
// with the reason, and Ctrl+C cancels an import (exit 130) leaving no partial disk.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  DiskCompactResult,
  DiskConvertResult,
  DiskImageInfo,
  DiskImportResult,
  DiskResizeResult,
} from '../../../src-shared/contracts/disks';
import { ensureBuilt, REPO } from '../qemu/qemu-test-kit';

const CLI = path.join(REPO, 'dist/cli/maru.js');
const MiB = 2 ** 20;
const haveTools = ['qemu-img', 'qemu-io'].every((t) => spawnSync('which', [t]).status === 0);
let root: string;
let home: string;

function maru(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    env: { ...process.env, MARU_HOME: home },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function ok(...args: string[]): { out: string; err: string } {
  const r = maru(...args);
  expect(r.code, `maru ${args.join(' ')}: ${r.err}`).toBe(0);
  return r;
}

function json<T>(...args: string[]): T {
  return JSON.parse(ok(...args, '--json').out) as T;
}

function tool(bin: string, ...args: string[]): string {
  const r = spawnSync(bin, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

function identical(a: string, b: string): void {
  const r = spawnSync('qemu-img', ['compare', a, b], { encoding: 'utf8' });
  expect(r.status, r.stdout + r.stderr).toBe(0);
}

describe.skipIf(!haveTools)('maru disk', () => {
  let source: string;
  let disk: string;

  beforeAll(() => {
    ensureBuilt();
    root = mkdtempSync(path.join(os.tmpdir(), 'maru-disk-cli-'));
    home = path.join(root, 'home');
    const q = path.join(root, 'q.qcow2');
    tool('qemu-img', 'create', '-q', '-f', 'qcow2', q, '32M');
    tool('qemu-io', '-f', 'qcow2', '-c', 'write -P 0xab 0 2M', '-c', 'write -P 0x5c 20M 1M', q);
    source = path.join(root, 'old-server.vmdk');
    tool('qemu-img', 'convert', '-f', 'qcow2', '-O', 'vmdk', '-o', 'subformat=streamOptimized', q, source);
  });

  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('info says what a VMDK is, as text and --json', () => {
    const text = ok('disk', 'info', source).out;
    expect(text).toMatch(/^File: +.*old-server\.vmdk$/m);
    expect(text).toMatch(/^Format: +VMDK streamOptimized$/m);
    expect(text).toMatch(/^Virtual size: +32 MiB \(33554432 bytes\)$/m);
    expect(text).toMatch(/^Import: +possible$/m);
    const info = json<DiskImageInfo>('disk', 'info', source);
    expect(info).toMatchObject({ format: 'vmdk', subformat: 'streamOptimized', virtualSizeBytes: 32 * MiB });
  });

  it('import makes $MARU_HOME/disks/NAME.qcow2 with the same contents, progress on stderr', () => {
    const r = ok('disk', 'import', source, '--name', 'server');
    expect(r.out).toMatch(/^Imported .*old-server\.vmdk \(VMDK streamOptimized, 32 MiB\) in [\d.]+ s\.$/m);
    expect(r.out).toContain(`New disk: ${path.join(home, 'disks', 'server.qcow2')} (qcow2,`);
    expect(r.err).toMatch(/^import: 100%$/m);
    identical(source, path.join(home, 'disks', 'server.qcow2'));
    // --json: the result, no progress lines
    const j = maru('disk', 'import', source, '--json');
    expect(j.code, j.err).toBe(0);
    const result = JSON.parse(j.out) as DiskImportResult;
    expect(result.path).toBe(path.join(home, 'disks', 'old-server.qcow2'));
    expect(j.err).toBe('');
    // the same name again: refused with the reason, exit 1
    const again = maru('disk', 'import', source, '--name', 'server');
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/server\.qcow2 already exists; import under another name \(--name\)/);
  });

  it("resize grows a VM's disk (absolute and +relative), refuses to shrink; compact gives space back", () => {
    ok('create', '--name', 'box', '--os', 'linux64', '--engine', 'qemu', '--memory', '256', '--disk', '0.25');
    disk = (JSON.parse(ok('show', 'box', '--json').out) as { disks: { path: string }[] }).disks[0]!.path;
    tool('qemu-io', '-f', 'qcow2', '-c', 'write -P 0xcd 0 24M', '-c', 'write -P 0 0 16M', disk);

    const grown = ok('disk', 'resize', 'box', '--size', '512M');
    expect(grown.out).toMatch(/^Disk disk0 of VM "box" grew from 256 MiB to 512 MiB\.$/m);
    expect(grown.out).toMatch(/extend its partition and file system from inside the guest/);
    const plus = json<DiskResizeResult>('disk', 'resize', 'box', '--size', '+256M', '--disk', '0');
    expect(plus).toMatchObject({ oldSizeBytes: 512 * MiB, newSizeBytes: 768 * MiB, warnings: [] });
    tool('qemu-io', '-f', 'qcow2', '-r', '-c', 'read -P 0xcd 16M 8M', disk);

    const shrink = maru('disk', 'resize', 'box', '--size', '100M');
    expect(shrink.code).toBe(1);
    expect(shrink.err).toMatch(/would shrink it\. Maru does not shrink disks/);
    expect(maru('disk', 'resize', 'box', '--size', 'big').code).toBe(2);
    expect(maru('disk', 'resize', 'box', '--size', '1G', '--disk', '3').err).toMatch(/disk 3 does not exist/);

    const compact = ok('disk', 'compact', 'box');
    expect(compact.out).toMatch(
      /^Compacted disk disk0 of VM "box": [\d.]+ MiB → [\d.]+ MiB on the host \([\d.]+ MiB given back\)\.$/m,
    );
    expect(compact.err).toMatch(/^compact: 100%$/m);
    tool('qemu-io', '-f', 'qcow2', '-r', '-c', 'read -P 0 0 16M', '-c', 'read -P 0xcd 16M 8M', disk);
    const again = json<DiskCompactResult>('disk', 'compact', 'box');
    expect(again.replaced).toBe(false);
  });

  it('convert writes another format; an existing output is refused', () => {
    const out = path.join(root, 'export.vdi');
    const r = ok('disk', 'convert', disk, '--format', 'vdi', '--output', out);
    expect(r.out).toMatch(/^Wrote .*export\.vdi \(VDI, 768 MiB, [\d.]+ [KM]iB on the host\) from .* in [\d.]+ s\.$/m);
    identical(disk, out);
    const j = maru('disk', 'convert', disk, '--format', 'vhdx', '--output', path.join(root, 'export.vhdx'), '--json');
    expect((JSON.parse(j.out) as DiskConvertResult).image.format).toBe('vhdx');
    const exists = maru('disk', 'convert', disk, '--format', 'vdi', '--output', out);
    expect(exists.code).toBe(1);
    expect(exists.err).toMatch(/export\.vdi already exists; Maru never replaces a file/);
  });

  it('usage mistakes exit 2 with the usage', () => {
    for (const args of [
      ['disk'],
      ['disk', 'grow', 'box'],
      ['disk', 'info'],
      ['disk', 'info', 'a', 'b'],
      ['disk', 'convert', source, '--format', 'vdi'],
      ['disk', 'convert', source, '--format', 'iso', '--output', 'x'],
      ['disk', 'compact', 'box', '--size', '1G'],
    ]) {
      const r = maru(...args);
      expect(r.code, `${args.join(' ')}: ${r.err}`).toBe(2);
      expect(r.err).toMatch(/Usage: maru disk info PATH/);
    }
    expect(ok('disk', '--help').out).toMatch(/FORMAT is one of qcow2, raw, vdi, vmdk, vhd, vhdx/);
    expect(ok('--help').out).toMatch(/^ {2}disk +Show, import, grow, compact or convert disk images/m);
  });

  it('Ctrl+C cancels an import: exit 130, no partial disk left', async () => {
    const q = path.join(root, 'big.qcow2');
    const big = path.join(root, 'big.vdi');
    tool('qemu-img', 'create', '-q', '-f', 'qcow2', q, '1G');
    tool('qemu-io', '-f', 'qcow2', '-c', 'write -P 0x42 0 512M', q);
    tool('qemu-img', 'convert', '-f', 'qcow2', '-O', 'vdi', q, big);
    rmSync(q);
    const child = spawn(process.execPath, [CLI, 'disk', 'import', big, '--name', 'interrupted'], {
      env: { ...process.env, MARU_HOME: home },
    });
    let err = '';
    child.stderr.setEncoding('utf8');
    const code = await new Promise<number | null>((resolve) => {
      child.stderr.on('data', (chunk: string) => {
        err += chunk;
        if (/^import: 0%$/m.test(err) && !child.killed) child.kill('SIGINT');
      });
      child.on('close', (c) => resolve(c));
    });
    expect(code, err).toBe(130);
    expect(err).toMatch(/cancelling/);
    expect(err).toMatch(/The conversion was cancelled/);
    expect(readdirSync(path.join(home, 'disks')).filter((f) => f.includes('interrupted'))).toEqual([]);
    rmSync(big);
  });

  it('create writes an empty sparse qcow2 that storage add attaches and remove detaches; an existing file is refused', () => {
    const file = path.join(root, 'extra');
    const r = ok('disk', 'create', file, '--size', '2G');
    expect(r.out).toMatch(/^Created .*extra\.qcow2 \(qcow2, 2 GiB\)\. Attach it: maru storage VM attach --type hdd/m);
    const info = JSON.parse(tool('qemu-img', 'info', '--output=json', `${file}.qcow2`)) as Record<string, number>;
    expect(info['virtual-size']).toBe(2 * 2 ** 30);
    expect(info['actual-size']).toBeLessThan(2 * MiB);
    const again = maru('disk', 'create', `${file}.qcow2`, '--size', '1G');
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/already exists/);
    expect(maru('disk', 'create', path.join(root, 'x.vmdk'), '--size', '1G').err).toMatch(/Maru creates qcow2 disks/);
    expect(maru('disk', 'create', path.join(root, 'y'), '--size', '+1G').code).toBe(2);

    const added = JSON.parse(
      ok('storage', 'box', 'add', '--type', 'hdd', '--medium', `${file}.qcow2`, '--json').out,
    ) as {
      drive: { id: string; medium: string };
    };
    expect(added.drive.medium).toBe(`${file}.qcow2`);
    ok('storage', 'box', 'remove', added.drive.id);
    expect(ok('storage', 'box', 'list').out).not.toContain('extra.qcow2');
  });
});
