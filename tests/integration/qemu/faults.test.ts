// Faults, each with a clear message and a consistent state afterwards: QEMU missing or too
// old, OVMF or swtpm missing, a non-ISO or truncated CD image, a VM started twice, QEMU
// killed -9 mid-run (aborted, log kept, next start works), the engine host itself killed
// (leftover QEMU cleaned up), save-state without an image to hold it.
import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MEDIA,
  TestHome,
  canRun,
  expectImagesClean,
  expectNothingLeft,
  processesMentioning,
  statusOf,
  smallVm,
} from './qemu-test-kit';

async function sha256(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
}

describe.skipIf(!canRun)('missing or unusable host pieces (real probe)', () => {
  let t: TestHome;
  let bios = '';
  let uefi = '';
  let sb = '';
  let empty = '';

  beforeAll(async () => {
    t = await TestHome.create();
    empty = path.join(t.root, 'empty');
    await mkdir(empty);
    const base = smallVm(MEDIA.biosUefi);
    bios = await t.createVm('bios', ['--os', 'linux64', '--firmware', 'bios', '--engine', 'qemu', ...base]);
    uefi = await t.createVm('uefi-tpm', ['--os', 'linux64', '--firmware', 'uefi', '--tpm', ...base]);
    sb = await t.createVm('sb', ['--os', 'windows11', ...base]);
  });
  afterAll(async () => {
    await t?.dispose();
  });

  async function refused(id: string, env: NodeJS.ProcessEnv, message: RegExp): Promise<void> {
    const r = await t.maru(['start', id], env);
    expect(r.code, r.stdout).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(await t.state(id)).toBe('off');
    await expectNothingLeft(t, id);
  }

  it('QEMU missing: says so and how to install it; for engine auto, why v86 cannot take the VM', async () => {
    await refused(
      bios,
      { MARU_QEMU_DIRS: empty },
      /VM "bios" cannot start: QEMU is not installed\. Install QEMU 6\.2 or newer \(Debian\/Ubuntu: sudo apt install qemu-system-x86/,
    );
    await refused(
      uefi,
      { MARU_QEMU_DIRS: empty },
      /QEMU is not installed \(the embedded v86 engine cannot run it: .*UEFI.*\)\. Install QEMU/,
    );
  });

  it('QEMU older than 6.2: names the version and the path', async () => {
    const old = path.join(t.root, 'old-qemu');
    await mkdir(old);
    const fake = path.join(old, 'qemu-system-x86_64');
    await writeFile(fake, '#!/bin/sh\necho "QEMU emulator version 5.2.0"\n');
    await chmod(fake, 0o755);
    await refused(bios, { MARU_QEMU_DIRS: old }, new RegExp(`QEMU 5\\.2\\.0 at ${fake} is older than 6\\.2`));
  });

  it('OVMF missing: refuses UEFI and Secure Boot VMs with what to install', async () => {
    await refused(
      uefi,
      { MARU_FIRMWARE_DIRS: empty },
      /uses UEFI, but no UEFI firmware .* was found\. Install it \(Debian\/Ubuntu: sudo apt install ovmf/,
    );
    await refused(
      sb,
      { MARU_FIRMWARE_DIRS: empty },
      /uses Secure Boot, but no Secure Boot UEFI firmware \(OVMF_CODE_4M\.ms\.fd/,
    );
  });

  it('swtpm missing: refuses a TPM VM with what to install', async () => {
    await refused(
      uefi,
      { MARU_SWTPM_DIRS: empty },
      /has a TPM 2\.0, but the TPM emulator swtpm was not found\. Install it \(Debian\/Ubuntu: sudo apt install swtpm/,
    );
  });
});

describe.skipIf(!canRun)('bad CD images, double start, crashes (real QEMU, TCG)', () => {
  let t: TestHome;
  let id = '';

  beforeAll(async () => {
    t = await TestHome.create();
    // A 32-bit guest: runs on qemu-system-i386.
    id = await t.createVm('crashy', ['--os', 'linux32', '--engine', 'qemu', ...smallVm(MEDIA.i386)]);
  });
  afterAll(async () => {
    await t?.dispose();
  });

  it('refuses a non-ISO and a truncated ISO, at attach and at start, leaving the files untouched', async () => {
    const before = { notIso: await sha256(MEDIA.notIso), truncated: await sha256(MEDIA.truncated) };
    const a = await t.maru(['attach-iso', id, MEDIA.notIso]);
    expect(a.code).toBe(1);
    expect(a.stderr).toMatch(/not-an-iso\.bin is not a CD\/DVD image \(ISO 9660\): no "CD001" volume descriptor/);
    const b = await t.maru(['attach-iso', id, MEDIA.truncated]);
    expect(b.stderr).toMatch(
      /truncated\.iso is truncated: its ISO 9660 volume is \d+ bytes but the file has only 40960/,
    );
    // A config pointing at a bad file (set before it broke) is refused at start.
    await t.ok(['modify', id, '--iso', MEDIA.notIso]);
    const s = await t.maru(['start', id]);
    expect(s.code).toBe(1);
    expect(s.stderr).toMatch(
      /cannot start with the image in CD\/DVD drive cd0: .*not-an-iso\.bin is not a CD\/DVD image/,
    );
    expect(s.stderr).toMatch(/maru eject crashy/);
    expect(await t.state(id)).toBe('off');
    await expectNothingLeft(t, id);
    expect({ notIso: await sha256(MEDIA.notIso), truncated: await sha256(MEDIA.truncated) }).toEqual(before);
    await t.ok(['attach-iso', id, MEDIA.i386]);
  });

  it('a second start is refused while the first keeps running', async () => {
    await t.ok(['start', id, '--headless']);
    const pid = (await statusOf(t, id))['pid'];
    const r = await t.maru(['start', id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`VM "crashy" is already running \\(engine host pid ${String(pid)}, started `));
    expect(await t.state(id)).toBe('running');
    expect((await statusOf(t, id))['pid']).toBe(pid);
    const log = await t.waitForSerial(id, 'MARU-READY', 90_000);
    expect(log).toContain('MARU-ARCH=i386');
    const command = JSON.parse(await readFile(path.join(t.vmFolder(id), 'logs', 'qemu-command.json'), 'utf8')) as {
      binary: string;
    };
    expect(command.binary).toMatch(/qemu-system-i386$/);
  });

  it('QEMU killed -9: aborted with the reason, log kept, lock and sockets gone, images clean; the next start works', async () => {
    const [qemu] = await processesMentioning(`-uuid\0${id}`);
    expect(qemu).toBeDefined();
    process.kill(qemu!, 'SIGKILL');
    await t.waitForState(id, 'aborted', 30_000);
    await expectNothingLeft(t, id);
    const s = JSON.parse(await t.ok(['status', id, '--json'])) as { aborted: { reason: string; logs: string[] } };
    expect(s.aborted.reason).toMatch(/QEMU ended unexpectedly \(killed by SIGKILL\)/);
    const qemuLog = path.join(t.vmFolder(id), 'logs', 'qemu.log');
    expect(s.aborted.logs).toContain(qemuLog);
    expect(existsSync(qemuLog)).toBe(true);
    expect(await t.serialLog(id)).toContain('MARU-BOOT-OK');
    expectImagesClean(t, id);
    await t.ok(['start', id, '--headless']);
    expect(await t.state(id)).toBe('running');
    await t.waitForSerial(id, 'MARU-BOOT-OK', 90_000);
  });

  it('the engine host killed -9: listed aborted; stop ends the leftover QEMU and cleans up', async () => {
    const hostPid = (await statusOf(t, id))['pid'] as number;
    const [qemu] = await processesMentioning(`-uuid\0${id}`);
    process.kill(hostPid, 'SIGKILL');
    await t.waitForState(id, 'aborted', 10_000);
    expect(await processesMentioning(`-uuid\0${id}`)).toEqual([qemu]); // orphaned, still running
    const r = await t.ok(['stop', id]);
    expect(r).toMatch(
      new RegExp(`its engine host had ended abnormally\\. Cleaned up \\(qemu pid ${qemu} \\(quit over QMP\\)`),
    );
    await expectNothingLeft(t, id);
    expect(await t.state(id)).toBe('aborted');
    expectImagesClean(t, id);
  });

  it('save-state needs an image to hold the state', async () => {
    const diskless = await t.createVm('diskless', [
      '--os',
      'linux32',
      '--engine',
      'qemu',
      '--cpus',
      '1',
      '--memory',
      '64',
      '--disk',
      '0',
    ]);
    await t.ok(['start', diskless, '--headless']);
    const r = await t.maru(['save-state', diskless]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/has no disk and no UEFI NVRAM, so there is nowhere to save its state/);
    expect(await t.state(diskless)).toBe('running');
    await t.ok(['stop', diskless, '--force']);
    await expectNothingLeft(t, diskless);
  });
});
