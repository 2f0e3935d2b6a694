// Backup and move, one file per VM, through the services every front end calls (and the CLI):
// a running UEFI + TPM VM exported with a live snapshot and imported on a fresh MARU_HOME boots
// and keeps its snapshot tree, RAM marker, UEFI variable and TPM PCR; importing next to the
// original gives a new uuid; a flipped byte, a cut-short file, a newer format, a foreign tar and
// unsafe names are refused with nothing registered; cancel leaves no partial file; `tar -tf`
// lists the archive; restoring over a broken VM brings it back.
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createControlServices, type ControlHost } from '../../../src-main/services/control-services';
import { AppError } from '../../../src-shared/errors';
import { canRun, ensureBuilt, haveQemu, MEDIA, TestHome } from '../qemu/qemu-test-kit';

const BOOT_MS = 240_000;

function tarList(file: string): string[] {
  const r = spawnSync('tar', ['-tf', file], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.split('\n').filter(Boolean);
}

/** What a VM library folder holds besides VM folders: no staging or half-replaced folders. */
function leftovers(home: string): string[] {
  const vms = path.join(home, 'vms');
  return existsSync(vms) ? readdirSync(vms).filter((n) => n.startsWith('.')) : [];
}

async function refusal(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

/** A copy of `archive` with byte `offset` flipped. */
function flipped(archive: string, offset: number, to: string): string {
  const buf = readFileSync(archive);
  buf[offset] = buf[offset]! ^ 0xff;
  writeFileSync(to, buf);
  return to;
}

/** A tar archive (made by the system's tar) holding `files` in that order. */
function systemTar(dir: string, out: string, files: Record<string, string>): string {
  const src = mkdtempSync(path.join(dir, 'src-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(src, name)), { recursive: true });
    writeFileSync(path.join(src, name), text);
  }
  const r = spawnSync('tar', ['-cf', out, '-C', src, '--format=posix', ...Object.keys(files)], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return out;
}

describe.skipIf(!haveQemu)('backup: archives of a powered-off VM, and what import refuses', () => {
  let root: string;
  let home: string;
  let host: ControlHost;
  let id: string;
  let archive: string;
  let freshHome: string;
  let fresh: ControlHost;

  beforeAll(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'maru-backup-'));
    home = path.join(root, 'home');
    host = createControlServices({ maruHome: home, env: { ...process.env, MARU_HOME: home } });
    const created = await host.services.library.create({
      name: 'office',
      os: 'linux64',
      engine: 'qemu',
      diskGiB: 0.0625,
    });
    id = created.vm.config.id;
    const folder = created.vm.folder;
    // What a used VM has besides its disk: TPM state and the last screen.
    mkdirSync(path.join(folder, 'tpm'));
    writeFileSync(path.join(folder, 'tpm', 'tpm2-00.permall'), Buffer.alloc(9000, 7));
    writeFileSync(path.join(folder, 'last-screen.png'), 'not really a png');
    await host.services.snapshots.take(id, { name: 'clean' });
    archive = path.join(root, 'office.maru');
    freshHome = path.join(root, 'fresh');
    fresh = createControlServices({ maruHome: freshHome, env: { ...process.env, MARU_HOME: freshHome } });
  }, 120_000);

  afterAll(() => {
    host?.dispose();
    fresh?.dispose();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('exports to a tar that `tar -tf` lists: manifest first, checksums last, every file between', async () => {
    const progress: number[] = [];
    const r = await host.services.backup.export(id, archive, { onProgress: (p) => progress.push(p.fraction) });
    expect(r.liveSnapshot).toBeNull();
    expect(r.bytes).toBe(statSync(archive).size);
    expect(progress.at(-1)).toBe(1);
    const names = tarList(archive);
    expect(names[0]).toBe('manifest.json');
    expect(names.at(-1)).toBe('SHA256SUMS');
    for (const n of ['vm.json', 'disks/disk0.qcow2', 'tpm/tpm2-00.permall', 'last-screen.png', 'snapshots.json']) {
      expect(names).toContain(n);
    }
    expect(names.some((n) => n.startsWith('logs'))).toBe(false);
    // sha256sum -c agrees with the list, extracted by the system's tar.
    const out = mkdtempSync(path.join(root, 'x-'));
    expect(spawnSync('tar', ['-xf', archive, '-C', out]).status).toBe(0);
    const check = spawnSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: out, encoding: 'utf8' });
    expect(check.status, check.stdout + check.stderr).toBe(0);
  });

  it('refuses a target that exists, and leaves it alone', async () => {
    const err = await refusal(host.services.backup.export(id, archive));
    expect(err.code).toBe('ALREADY_EXISTS');
    expect(tarList(archive)[0]).toBe('manifest.json');
  });

  it('imports on a fresh home under the same uuid, with its snapshot and files', async () => {
    const r = await fresh.services.backup.import(archive, {});
    expect(r.vmId).toBe(id);
    expect(r.name).toBe('office');
    const vm = await fresh.services.library.show(id);
    expect(vm.disks[0]!.exists).toBe(true);
    expect(readFileSync(path.join(vm.folder, 'tpm', 'tpm2-00.permall'))).toEqual(Buffer.alloc(9000, 7));
    const tree = await fresh.services.snapshots.list(id);
    expect(tree.snapshots.map((s) => s.name)).toEqual(['clean']);
    expect(tree.problems).toEqual([]);
    expect(leftovers(freshHome)).toEqual([]);
  });

  it('imports next to the original with a new uuid and a numbered name; ids and paths follow', async () => {
    const r = await host.services.backup.import(archive, {});
    expect(r.vmId).not.toBe(id);
    expect(r.archiveVmId).toBe(id);
    expect(r.name).toBe('office (2)');
    const vm = await host.services.library.show(r.vmId);
    expect(vm.config.id).toBe(r.vmId);
    const snapshotsText = readFileSync(path.join(vm.folder, 'snapshots.json'), 'utf8');
    expect(snapshotsText).not.toContain(id);
    const tree = await host.services.snapshots.list(r.vmId);
    expect(tree.snapshots.map((s) => s.name)).toEqual(['clean']);
    expect(tree.problems).toEqual([]);
    // Its snapshot restores in its own folder (the original's images are untouched).
    expect((await host.services.snapshots.restore(r.vmId, tree.snapshots[0]!.id)).state).toBe('off');
    // A name asked for that is taken is refused before anything is written.
    const err = await refusal(host.services.backup.import(archive, { name: 'office' }));
    expect(err.code).toBe('ALREADY_EXISTS');
    expect(leftovers(home)).toEqual([]);
  });

  it('refuses a flipped byte in a disk, in a header, and a cut-short archive; nothing is registered', async () => {
    const before = (await fresh.services.library.list()).length;
    const bytes = readFileSync(archive);
    // Somewhere in the middle of the disk image's body.
    const diskAt = bytes.indexOf(Buffer.from('disks/disk0.qcow2\0'));
    expect(diskAt).toBeGreaterThan(0);
    const tampered = flipped(archive, diskAt + 512 + 70_000, path.join(root, 'tampered.maru'));
    let err = await refusal(fresh.services.backup.import(tampered, { name: 'tampered' }));
    expect(err.message).toMatch(/disks\/disk0\.qcow2 in .* does not match its SHA-256 checksum/);

    const badHeader = flipped(archive, diskAt + 2, path.join(root, 'bad-header.maru'));
    err = await refusal(fresh.services.backup.import(badHeader, { name: 'bad-header' }));
    expect(err.message).toMatch(/damaged or not a Maru VM archive: the header at byte \d+: its header checksum/);

    const cut = path.join(root, 'cut.maru');
    writeFileSync(cut, bytes);
    truncateSync(cut, Math.floor(bytes.length * 0.6));
    err = await refusal(fresh.services.backup.import(cut, { name: 'cut' }));
    expect(err.message).toMatch(/is cut short/);

    const noSums = path.join(root, 'no-sums.maru');
    writeFileSync(noSums, bytes);
    truncateSync(noSums, bytes.length - 3 * 512); // the checksum list's header survives, its body does not
    err = await refusal(fresh.services.backup.import(noSums, { name: 'no-sums' }));
    expect(err.message).toMatch(/cut short/);

    expect((await fresh.services.library.list()).length).toBe(before);
    expect(leftovers(freshHome)).toEqual([]);
  });

  it('refuses an archive from a newer Maru, a foreign tar, unsafe names and a non-archive', async () => {
    const manifest = {
      format: 'maru-vm-archive',
      formatVersion: 2,
      maruVersion: '9.1.0',
      createdAt: new Date().toISOString(),
    };
    let err = await refusal(
      fresh.services.backup.import(
        systemTar(root, path.join(root, 'newer.maru'), { 'manifest.json': JSON.stringify(manifest) }),
        {},
      ),
    );
    expect(err.code).toBe('UNSUPPORTED');
    expect(err.message).toMatch(/was made by Maru 9\.1\.0, which is newer .*Update Maru/);

    err = await refusal(
      fresh.services.backup.import(
        systemTar(root, path.join(root, 'photos.tar'), { 'a.jpg': 'x', 'manifest.json': '{}' }),
        {},
      ),
    );
    expect(err.message).toMatch(/is not a Maru VM archive: it does not start with manifest.json/);

    const evil = {
      ...manifest,
      formatVersion: 1,
      vm: { id, name: 'evil', schemaVersion: 2 },
      sourceFolder: '/x',
      state: 'off',
      liveSnapshot: null,
      files: [{ path: '../../escaped', type: 'file', size: 1, mode: 420 }],
      relink: [],
      checksums: 'SHA256SUMS',
    };
    err = await refusal(
      fresh.services.backup.import(
        systemTar(root, path.join(root, 'evil.maru'), { 'manifest.json': JSON.stringify(evil) }),
        {},
      ),
    );
    expect(err.message).toMatch(/manifest .* is damaged .*unsafe path/);
    expect(existsSync(path.join(freshHome, 'escaped'))).toBe(false);

    writeFileSync(path.join(root, 'random.maru'), Buffer.alloc(4096, 0x41));
    err = await refusal(fresh.services.backup.import(path.join(root, 'random.maru'), {}));
    expect(err.message).toMatch(/is not a Maru VM archive/);
    expect(leftovers(freshHome)).toEqual([]);
  });

  it('cancel during an export removes the partial archive', async () => {
    const dir = mkdtempSync(path.join(root, 'cancel-'));
    // Enough data that the copy is still under way when cancel arrives.
    const vm = await host.services.library.show(id);
    const fh = await open(path.join(vm.folder, 'snapshots', 'filler.bin'), 'w');
    await fh.write(Buffer.alloc(64 * 2 ** 20, 1));
    await fh.close();
    const ac = new AbortController();
    const err = await refusal(
      host.services.backup.export(id, path.join(dir, 'office.maru'), {
        signal: ac.signal,
        onProgress: (p) => {
          if (p.phase === 'export' && p.fraction < 1) ac.abort();
        },
      }),
    );
    rmSync(path.join(vm.folder, 'snapshots', 'filler.bin'));
    expect(err.code).toBe('CANCELLED');
    expect(readdirSync(dir)).toEqual([]);
    // The VM may start again afterwards (it was only held while exporting).
    await expect(host.services.backup.export(id, path.join(dir, 'again.maru'))).resolves.toBeTruthy();
  });

  it('a linked clone carries its base along and stands on its own after import', async () => {
    const clone = await host.services.library.linkedClone(id, 'office-clone');
    const target = path.join(root, 'clone.maru');
    const r = await host.services.backup.export(clone.config.id, target);
    expect(r.warnings.join('\n')).toMatch(/linked clone's disk: its base .* is in the archive too/);
    const otherHome = path.join(root, 'other');
    const other = createControlServices({ maruHome: otherHome, env: { ...process.env, MARU_HOME: otherHome } });
    try {
      const imported = await other.services.backup.import(target, {});
      const vm = await other.services.library.show(imported.vmId);
      expect(vm.config.linkedClone).toBeUndefined();
      const chain = JSON.parse(
        spawnSync('qemu-img', ['info', '--backing-chain', '--output=json', vm.disks[0]!.path], { encoding: 'utf8' })
          .stdout,
      ) as { filename: string }[];
      expect(chain).toHaveLength(2);
      expect(path.dirname(chain[1]!.filename)).toBe(path.join(vm.folder, 'disks'));
      const same = spawnSync('qemu-img', ['compare', clone.disks[0]!.path, vm.disks[0]!.path], { encoding: 'utf8' });
      expect(same.status, same.stdout + same.stderr).toBe(0);
    } finally {
      other.dispose();
    }
  });

  it('restores a backup over a broken VM in one action, keeping its uuid', async () => {
    const vm = await fresh.services.library.show(id);
    writeFileSync(path.join(vm.folder, 'vm.json'), '{ broken');
    rmSync(path.join(vm.folder, 'disks', 'disk0.qcow2'));
    const listed = await fresh.services.library.list();
    expect(listed.find((v) => v.id === id)?.kind).toBe('inaccessible');
    const r = await fresh.services.backup.import(archive, { replace: id });
    expect(r.replaced).toBe(id);
    expect(r.vmId).toBe(id);
    const back = await fresh.services.library.show(id);
    expect(back.config.name).toBe('office');
    expect(back.disks[0]!.exists).toBe(true);
    expect(leftovers(freshHome)).toEqual([]);
  });
});

describe.skipIf(!canRun)('backup: a running UEFI + TPM VM moved to a fresh MARU_HOME (real QEMU)', () => {
  let root: string;
  let home: string;
  let host: ControlHost;
  let id: string;
  let archive: string;
  let current: ControlHost;
  /** Every home's services, stopped and disposed at the end. */
  const hosts: ControlHost[] = [];
  const hostAt = (maruHome: string): ControlHost => {
    const h = createControlServices({ maruHome, env: { ...process.env, MARU_HOME: maruHome } });
    hosts.push(h);
    return h;
  };

  async function ask(command: string, answer: RegExp, ms = 60_000): Promise<string> {
    const log = (await current.services.vm.status(id))!.serialLog!;
    const from = existsSync(log) ? readFileSync(log, 'latin1').length : 0;
    await current.services.vm.sendSerial(id, command);
    const end = Date.now() + ms;
    for (;;) {
      const m = answer.exec(readFileSync(log, 'latin1').slice(from));
      if (m) return m[1] ?? m[0];
      if (Date.now() > end) throw new Error(`no ${answer} after "${command}"`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const efivars = (): Promise<string> => ask('efivar?', /MARU-EFIVARS=(\S*)/);
  const pcr16 = (): Promise<string> => ask('pcr16?', /MARU-PCR16=([0-9A-Fa-f]{64})/);
  const mark = (): Promise<string> => ask('mark?', /MARU-MARK=(\S*)/);

  async function boot(): Promise<void> {
    const r = await current.services.vm.start(id);
    const log = r.status.serialLog!;
    const end = Date.now() + BOOT_MS;
    while (!(existsSync(log) && readFileSync(log, 'latin1').includes('MARU-READY'))) {
      if (Date.now() > end) throw new Error('no MARU-READY');
      await new Promise((r2) => setTimeout(r2, 200));
    }
  }

  beforeAll(async () => {
    ensureBuilt();
    root = mkdtempSync(path.join(os.tmpdir(), 'maru-backup-uefi-'));
    home = path.join(root, 'home');
    host = hostAt(home);
    current = host;
    const vm = await host.services.library.create({
      name: 'uefi-backup',
      os: 'linux64',
      engine: 'qemu',
      firmware: 'uefi',
      tpm: true,
      cpus: 1,
      memoryMiB: 512,
      diskGiB: 0.25,
      iso: MEDIA.biosUefi,
    });
    id = vm.vm.config.id;
    archive = path.join(root, 'uefi-backup.maru');
    await boot();
  }, BOOT_MS + 30_000);

  afterAll(async () => {
    for (const h of hosts) {
      await h.services.vm.stop(id, { force: true }).catch(() => undefined);
      h.dispose();
    }
    rmSync(root, { recursive: true, force: true });
  });

  it('keeps snapshots, RAM, the UEFI variable and TPM PCR 16 across export and import', async () => {
    await ask('mark=alpha', /MARU-ECHO:mark=alpha/);
    await ask('efivar=one', /MARU-ECHO:efivar=one/);
    await ask('pcr16+', /MARU-ECHO:pcr16\+/);
    const pcrA = await pcr16();
    const a = await host.services.snapshots.take(id, { name: 'A' });
    await ask('mark=beta', /MARU-ECHO:mark=beta/);
    await ask('pcr16+', /MARU-ECHO:pcr16\+/);
    const pcrB = await pcr16();
    expect(pcrB).not.toBe(pcrA);

    const phases = new Set<string>();
    const r = await host.services.backup.export(id, archive, { onProgress: (p) => phases.add(p.phase) });
    expect(r.liveSnapshot).not.toBeNull();
    expect([...phases]).toEqual(['snapshot', 'export']);
    expect(r.warnings.join('\n')).toMatch(/live snapshot .* was taken first and the VM was paused/);
    // Resumed afterwards, as it was.
    expect((await host.services.library.show(id)).state).toBe('running');
    expect(await mark()).toBe('beta');
    const names = tarList(archive);
    for (const n of ['nvram.qcow2', 'disks/disk0.qcow2', 'snapshots.json']) expect(names).toContain(n);
    expect(names.some((n) => n.startsWith('tpm/'))).toBe(true);
    await host.services.vm.stop(id, { force: true });

    // A fresh MARU_HOME, as on another machine.
    const freshHome = path.join(root, 'fresh');
    current = hostAt(freshHome);
    const imported = await current.services.backup.import(archive, {});
    expect(imported.vmId).toBe(id);
    const tree = await current.services.snapshots.list(id);
    expect(tree.snapshots.map((s) => s.name)).toEqual(['A', r.liveSnapshot!.name]);
    expect(tree.snapshots[1]!.parentId).toBe(a.id);
    expect(tree.problems).toEqual([]);

    // It boots (cold: the disk and NVRAM as they were when exported).
    await boot();
    expect(await efivars()).toBe('one,');
    await current.services.vm.stop(id, { force: true });

    // Snapshot A: RAM marker, UEFI variable and PCR 16 as they were when A was taken.
    expect((await current.services.snapshots.restore(id, a.id)).state).toBe('saved');
    // A saved VM travels saved: a third home resumes it at A (its saved-state paths follow it).
    const savedArchive = path.join(root, 'saved.maru');
    expect((await current.services.backup.export(id, savedArchive)).liveSnapshot).toBeNull();
    const second = current;
    current = hostAt(path.join(root, 'third'));
    await current.services.backup.import(savedArchive, {});
    expect((await current.services.library.show(id)).state).toBe('saved');
    await current.services.vm.start(id);
    expect(await mark()).toBe('alpha');
    expect(await pcr16()).toBe(pcrA);
    await current.services.vm.stop(id, { force: true });
    current = second;

    await current.services.vm.start(id);
    expect(await mark()).toBe('alpha');
    expect(await pcr16()).toBe(pcrA);
    expect(await efivars()).toBe('one,');

    // The export's own live snapshot: the state the VM was running in.
    expect((await current.services.snapshots.restore(id, r.liveSnapshot!.id)).state).toBe('running');
    expect(await mark()).toBe('beta');
    expect(await pcr16()).toBe(pcrB);
    await current.services.vm.stop(id, { force: true });
  }, 600_000);

  it('the CLI: maru export refuses an existing file, maru import --json brings the VM in', async () => {
    const t = await TestHome.create();
    try {
      const exists = await t.maru(['export', 'anything', archive]);
      expect(exists.code).toBe(1);
      const r = await t.maru(['import', archive, '--name', 'from-cli', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as { vmId: string; name: string };
      expect(out.name).toBe('from-cli');
      t.vmIds.add(out.vmId);
      const again = path.join(t.root, 'again.maru');
      const e = await t.maru(['export', 'from-cli', again]);
      expect(e.code, e.stderr).toBe(0);
      expect(e.stdout).toMatch(/Exported VM "from-cli" to/);
      expect(tarList(again)[0]).toBe('manifest.json');
      const usage = await t.maru(['import']);
      expect(usage.code).toBe(2);
    } finally {
      await t.dispose();
    }
  }, 300_000);
});
