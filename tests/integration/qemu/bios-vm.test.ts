// A BIOS VM through the real CLI under TCG, in a data folder so deep that its sockets move to
// the short fallback: boot marker, screenshot, send-keys, serial in and out (--follow),
// CD/DVD change and eject, pause/resume, reset, ACPI power-off; nothing left behind.
import { spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePngForTest } from '../../unit/display/png-codec-kit';
import {
  MEDIA,
  REPO,
  TestHome,
  canRun,
  expectImagesClean,
  expectNothingLeft,
  statusOf,
  smallVm,
} from './qemu-test-kit';

describe.skipIf(!canRun)('BIOS VM through the CLI (real QEMU, TCG)', () => {
  let t: TestHome;
  let id = '';

  beforeAll(async () => {
    t = await TestHome.create({ deep: true });
    id = await t.createVm('bios vm', ['--os', 'linux64', '--firmware', 'bios', ...smallVm(MEDIA.biosUefi)]);
  });
  afterAll(async () => {
    await t?.dispose();
  });

  it('starts detached, with its sockets in the short fallback folder, and boots to the marker', async () => {
    expect(Buffer.byteLength(path.join(t.home, 'run', id, 'control.sock'))).toBeGreaterThan(107);
    const started = Date.now();
    const out = JSON.parse(await t.ok(['start', 'bios vm', '--headless', '--json'])) as {
      status: { state: string; accelerator: string; display: string; capabilities: { saveState: boolean } };
    };
    expect(out.status).toMatchObject({ state: 'running', accelerator: 'tcg', capabilities: { saveState: true } });
    expect(out.status.display.startsWith(path.join(t.root, 'xdg', 'maru'))).toBe(true);
    expect(Buffer.byteLength(out.status.display)).toBeLessThanOrEqual(107);
    expect(await t.state(id)).toBe('running');
    const log = await t.waitForSerial(id, 'MARU-DISKS=', 90_000);
    expect(log).toContain('MARU-BOOT-OK');
    expect(log).toContain('MARU-FIRMWARE=bios');
    expect(log).toContain('MARU-TPM=none');
    // The engine host was started before the VM was checked (`--await-launch`); it still logs to the VM's log.
    const hostLog = await readFile(path.join(t.vmFolder(id), 'logs', 'engine-host.log'), 'utf8');
    expect(hostLog).toMatch(/engine host \d+ for VM "bios vm" .*\n(.*\n)*.* qemu started, pid \d+/);
    console.log(`BIOS boot to MARU-READY: ${Date.now() - started} ms`);
  });

  it('takes a screenshot that is a valid, non-blank PNG', async () => {
    const file = path.join(t.root, 'screen.png');
    const r = JSON.parse(await t.ok(['screenshot', id, file, '--json'])) as { width: number; height: number };
    const png = await readFile(file);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    // IHDR is the first chunk: width and height as reported.
    expect(png.toString('latin1', 12, 16)).toBe('IHDR');
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([r.width, r.height]);
    const d = decodePngForTest(png);
    expect(d.chunkTypes).toEqual(['IHDR', 'IDAT', 'IEND']);
    expect(inflateSync(png.subarray(41, 41 + png.readUInt32BE(33))).length).toBe((r.width * 3 + 1) * r.height);
    const colours = new Set<number>();
    for (let i = 0; i < d.pixels.length; i += 3)
      colours.add((d.pixels[i]! << 16) | (d.pixels[i + 1]! << 8) | d.pixels[i + 2]!);
    expect(colours.size).toBeGreaterThan(1);
  });

  it('types text on the keyboard, and the guest reads it from its console', async () => {
    await t.ok(['send-keys', id, 'Hello, Maru! 42\n']);
    await t.waitForSerial(id, 'MARU-KEY:Hello, Maru! 42', 30_000);
    const bad = await t.maru(['send-keys', id, 'naïve']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/Cannot type "ï"/);
  });

  it('echoes serial input, and --follow streams the console until interrupted', async () => {
    await t.ok(['serial', id, '--send', 'ping-1']);
    await t.waitForSerial(id, 'MARU-ECHO:ping-1', 20_000);
    const child = spawn(process.execPath, [path.join(REPO, 'dist/cli/maru.js'), 'serial', id, '--follow'], {
      env: t.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let seen = '';
    child.stdout.on('data', (d: Buffer) => (seen += d.toString('latin1')));
    await new Promise((r) => setTimeout(r, 1500));
    expect(seen).toContain('MARU-BOOT-OK'); // history first
    await t.ok(['serial', id, '--send', 'followed']);
    const until = Date.now() + 20_000;
    while (!seen.includes('MARU-ECHO:followed') && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    expect(seen).toContain('MARU-ECHO:followed');
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.once('close', r));
    expect(code).toBe(0); // Ctrl+C ends following; it is not a failure
  });

  it('swaps and ejects the CD/DVD while running; refuses a non-ISO without touching it', async () => {
    const before = await stat(MEDIA.notIso);
    const bad = await t.maru(['attach-iso', id, MEDIA.notIso]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/is not a CD\/DVD image \(ISO 9660\)/);
    const after = await stat(MEDIA.notIso);
    expect([after.size, after.mtimeMs]).toEqual([before.size, before.mtimeMs]);
    await t.ok(['attach-iso', id, MEDIA.i386]);
    expect((await statusOf(t, id))['cdrom']).toBe(MEDIA.i386);
    await t.ok(['eject', id]);
    expect((await statusOf(t, id))['cdrom']).toBeNull();
    await t.ok(['attach-iso', id, MEDIA.biosUefi]);
  });

  it('pauses and resumes', async () => {
    await t.ok(['pause', id]);
    expect(await t.state(id)).toBe('paused');
    expect((await statusOf(t, id))['state']).toBe('paused');
    const keys = await t.maru(['send-keys', id, 'x']);
    expect(keys.code).toBe(1);
    expect(keys.stderr).toMatch(/is paused/);
    const modify = await t.maru(['modify', id, '--cpus', '2']);
    expect(modify.stderr).toMatch(/is paused; stop it before changing its settings/);
    await t.ok(['resume', id]);
    expect(await t.state(id)).toBe('running');
    await t.ok(['serial', id, '--send', 'after-resume']);
    await t.waitForSerial(id, 'MARU-ECHO:after-resume', 20_000);
  });

  it('ctrl+alt+del reaches the guest (Linux reboots on it), and reset boots it again', async () => {
    await t.ok(['send-keys', id, '--combo', 'ctrl+alt+del']);
    await t.waitForSerial(id, 'MARU-BOOT-OK', 90_000, 2);
    await t.waitForSerial(id, 'MARU-DISKS=', 60_000, 2);
    await t.ok(['reset', id]);
    await t.waitForSerial(id, 'MARU-BOOT-OK', 90_000, 3);
    await t.waitForSerial(id, 'MARU-DISKS=', 60_000, 3);
  });

  it('stops with the ACPI power button: the guest powers itself off', async () => {
    const r = await t.ok(['stop', id, '--timeout', '60']);
    expect(r).toMatch(/The guest powered off/);
    expect(await t.serialLog(id)).toContain('MARU-POWEROFF');
    expect(await t.state(id)).toBe('off');
    await expectNothingLeft(t, id);
    expectImagesClean(t, id);
    const again = await t.maru(['stop', id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/is not running \(off\)/);
  });
});
