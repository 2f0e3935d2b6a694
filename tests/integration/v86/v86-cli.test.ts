// The v86 engine as users run it: `maru` (the built CLI) starts a VM on v86 in a detached
// engine host. One VM installs a small OS from an ISO onto its qcow2 disk, boots it again
// from the disk with the ISO ejected, and along the way shows serial, keys, screenshots in
// text and graphics modes, the RFB socket, save-state/resume and stop; then bad inputs.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestViewer, decodePng, pictureStats, waitForLog } from './v86-test-kit';

const CLI = path.resolve('dist/cli/maru.js');
const FIXTURES = path.resolve('tests/fixtures/build');
const INSTALL_ISO = path.join(FIXTURES, 'maru-v86-install.iso');
const BOOT_MS = 240_000;
let home: string;
let fixturesProblem: string | undefined;

function maru(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    env: { ...process.env, MARU_HOME: home, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function ok(args: string[], env: Record<string, string> = {}): string {
  const r = maru(args, env);
  expect(r.code, `maru ${args.join(' ')}: ${r.err}`).toBe(0);
  return r.out;
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

interface StartJson {
  status: {
    engine: string;
    display: string | null;
    serialLog: string | null;
    notes?: string[];
    resumedFromSavedState?: boolean;
  };
}

beforeAll(() => {
  const b = spawnSync(process.execPath, ['scripts/build.mjs', '--node-only', '--quiet'], { encoding: 'utf8' });
  if (b.status !== 0) throw new Error(`build failed: ${b.stderr}`);
  if (!existsSync(INSTALL_ISO)) {
    const f = spawnSync('bash', ['scripts/build-v86-fixtures.sh'], { encoding: 'utf8' });
    if (f.status !== 0) fixturesProblem = `run "npm run fixtures" first: ${f.stderr.trim()}`;
  }
  home = mkdtempSync(path.join(os.tmpdir(), 'maru-v86-'));
});

afterAll(() => {
  // Leave nothing running: force off whatever a failed test left.
  for (const vm of ['inst', 'auto-dos']) maru(['stop', vm, '--force']);
  if (home) rmSync(home, { recursive: true, force: true });
});

describe('v86 engine through the CLI', () => {
  it('installs an OS from an ISO onto qcow2, boots it from the disk, and serves screen, keys, serial and states', async (ctx) => {
    if (fixturesProblem) ctx.skip(fixturesProblem);
    const created = JSON.parse(
      ok([
        'create',
        '--name',
        'inst',
        '--os',
        'linux32',
        '--engine',
        'v86',
        '--memory',
        '128',
        '--disk',
        '1',
        '--iso',
        INSTALL_ISO,
        '--json',
      ]),
    ) as { vm: { config: { id: string }; disks: { path: string }[]; folder: string } };
    const disk = created.vm.disks[0]!.path;
    const folder = created.vm.folder;

    // ---- boot from the CD: the installer writes the disk
    const started = JSON.parse(ok(['start', 'inst', '--headless', '--json'])) as StartJson;
    expect(started.status.engine).toBe('v86');
    expect(started.status.notes?.join(' ')).toMatch(/v86/);
    const serialLog = started.status.serialLog!;
    const rfbSocket = started.status.display!;
    expect(rfbSocket).toMatch(/rfb\.sock$/);
    const log1 = await waitForLog(serialLog, /MARU-INSTALL-OK token=(\S+)[\s\S]*MARU-READY/, BOOT_MS);
    const token = /MARU-INSTALL-OK token=(\S+)/.exec(log1)![1]!;
    expect(log1).toContain('MARU-MODE=cd');

    // the screen in text mode: a PNG of the 80×25 console drawn with the guest's font
    const shotFile = path.join(home, 'text.png');
    expect(ok(['screenshot', 'inst', shotFile])).toMatch(/720×400/);
    const text = decodePng(readFileSync(shotFile));
    expect([text.width, text.height]).toEqual([720, 400]);
    expect(pictureStats(text).nonBlack).toBeGreaterThan(2000);

    // typed keys reach the guest's console (its reader echoes lines to serial)
    ok(['send-keys', 'inst', 'maru keys 123\n']);
    await waitForLog(serialLog, /MARU-KEY:maru keys 123/, 30_000);
    // serial input reaches the guest
    ok(['serial', 'inst', '--send', 'over serial']);
    await waitForLog(serialLog, /MARU-ECHO:over serial/, 30_000);

    // the RFB socket: a viewer sees the same text screen, with QEMU key events acknowledged
    const viewer = await TestViewer.connect(rfbSocket);
    expect([viewer.width, viewer.height, viewer.name]).toEqual([720, 400, 'inst']);
    await viewer.update(false);
    expect(viewer.qemuKeys).toBe(true);
    expect(pictureStats(viewer.picture()).nonBlack).toBeGreaterThan(2000);
    // keys from the viewer (XT scancodes): "v", "n", "c", Enter
    for (const [sym, q] of [
      [0x76, 0x2f],
      [0x6e, 0x31],
      [0x63, 0x2e],
      [0xff0d, 0x1c],
    ] as const) {
      viewer.qemuKey(true, sym, q);
      viewer.qemuKey(false, sym, q);
    }
    await waitForLog(serialLog, /MARU-KEY:vnc/, 30_000);

    // ---- eject the ISO and reset: the machine boots the installed OS from the qcow2 disk
    ok(['eject', 'inst']);
    ok(['reset', 'inst']);
    const log2 = await waitForLog(serialLog, /MARU-MODE=disk[\s\S]*MARU-READY/, BOOT_MS);
    expect(log2).toContain(`MARU-DISK-TOKEN=${token}`);
    expect(log2).toContain('MARU-FB=1024x768');

    // graphics mode (VESA framebuffer console): a non-blank 1024×768 screenshot
    const fbFile = path.join(home, 'fb.png');
    expect(ok(['screenshot', 'inst', fbFile])).toMatch(/1024×768/);
    const fb = decodePng(readFileSync(fbFile));
    expect([fb.width, fb.height]).toEqual([1024, 768]);
    expect(pictureStats(fb).nonBlack).toBeGreaterThan(2000);
    // the viewer that stayed connected is told the new size, then gets the whole screen
    for (let i = 0; i < 20 && viewer.width !== 1024; i++) await viewer.update(true);
    expect(viewer.resizes.at(-1)).toMatchObject({ width: 1024, height: 768 });
    expect(pictureStats(viewer.picture()).nonBlack).toBeGreaterThan(2000);
    viewer.close();

    // ---- save the state, then resume it (no second boot: keys work at once)
    ok(['save-state', 'inst']);
    expect(existsSync(path.join(folder, 'saved-state'))).toBe(true);
    expect(existsSync(path.join(folder, 'v86-saved-state.bin'))).toBe(true);
    expect(spawnSync('qemu-img', ['snapshot', '-l', disk], { encoding: 'utf8' }).stdout).toContain('maru-saved-state');
    const resumed = JSON.parse(ok(['start', 'inst', '--json'])) as StartJson;
    expect(resumed.status.resumedFromSavedState).toBe(true);
    ok(['send-keys', 'inst', 'after resume\n']);
    const log3 = await waitForLog(resumed.status.serialLog!, /MARU-KEY:after resume/, 30_000);
    expect(log3).not.toContain('MARU-BOOT-OK');
    expect(existsSync(path.join(folder, 'saved-state'))).toBe(false);

    // ---- stop: no ACPI on v86, said clearly; --force powers off
    const acpi = maru(['stop', 'inst']);
    expect(acpi.code).not.toBe(0);
    expect(acpi.err).toMatch(/no ACPI power button.*--force/);
    expect(ok(['stop', 'inst', '--force'])).toMatch(/Powered off/);
    expect(ok(['status', 'inst'])).toMatch(/off|not running/);

    // the disk v86 wrote is a clean qcow2 that QEMU reads identically
    expect(spawnSync('qemu-img', ['check', disk], { encoding: 'utf8' }).status).toBe(0);
    const raw = path.join(home, 'disk.raw');
    expect(spawnSync('qemu-img', ['convert', '-O', 'raw', disk, raw]).status).toBe(0);
    const sector = readFileSync(raw)
      .subarray(2047 * 512, 2048 * 512)
      .toString('latin1');
    expect(sector.startsWith(`MARU-TOKEN=${token}\n`)).toBe(true);
    rmSync(raw);
  }, 900_000);

  it('engine auto picks v86 when QEMU is absent, and for presets that prefer it, and says why', async () => {
    const noQemu = { MARU_QEMU_DIRS: path.join(home, 'no-qemu-here') };
    mkdirSync(noQemu.MARU_QEMU_DIRS, { recursive: true });
    const probeHome = mkdtempSync(path.join(os.tmpdir(), 'maru-v86-noqemu-'));
    try {
      const env = { ...noQemu, MARU_HOME: probeHome };
      ok(['create', '--name', 'auto-linux', '--os', 'linux32', '--memory', '64', '--disk', '0'], env);
      const out = ok(['start', 'auto-linux', '--headless'], env);
      expect(out).toMatch(/with v86/);
      expect(out).toMatch(/QEMU is not installed/);
      ok(['stop', 'auto-linux', '--force'], env);
    } finally {
      rmSync(probeHome, { recursive: true, force: true });
    }
    // QEMU present: the DOS preset still prefers v86
    ok(['create', '--name', 'auto-dos', '--os', 'dos', '--disk', '0']);
    const dos = ok(['start', 'auto-dos', '--headless']);
    expect(dos).toMatch(/with v86/);
    expect(dos).toMatch(/preset prefers the v86 engine/);
    ok(['stop', 'auto-dos', '--force']);
  }, 300_000);

  it('refuses bad input with clear errors: no BIOS, 2 CPUs, UEFI, a damaged qcow2 (left untouched)', () => {
    ok(['create', '--name', 'bad', '--os', 'linux32', '--engine', 'v86', '--memory', '64', '--disk', '1']);
    const show = JSON.parse(ok(['show', 'bad', '--json'])) as { folder: string; disks: { path: string }[] };

    // no BIOS where the engine looks
    const empty = path.join(home, 'no-bios');
    mkdirSync(empty, { recursive: true });
    const noBios = maru(['start', 'bad'], { MARU_SEABIOS_DIR: empty });
    expect(noBios.code).not.toBe(0);
    expect(noBios.err).toMatch(/found no BIOS.*bios-256k\.bin.*no-bios.*apt install seabios/s);
    expect(ok(['status', 'bad'])).toMatch(/off|not running/);

    // the library refuses v86 settings it cannot run …
    const twoCpus = maru([
      'create',
      '--name',
      'two',
      '--os',
      'linux32',
      '--engine',
      'v86',
      '--cpus',
      '2',
      '--disk',
      '0',
    ]);
    expect(twoCpus.code).not.toBe(0);
    expect(twoCpus.err).toMatch(/2 CPUs cannot run on v86/);
    // … and a vm.json edited by hand is refused at start, saying why and what to do
    const cfgFile = path.join(show.folder, 'vm.json');
    const original = readFileSync(cfgFile, 'utf8');
    for (const [patch, why] of [
      [{ cpus: 2 }, /v86 emulates one CPU and the VM has 2/],
      [{ firmware: 'uefi' }, /v86 boots with BIOS only and the VM uses UEFI/],
    ] as const) {
      writeFileSync(cfgFile, JSON.stringify({ ...JSON.parse(original), ...patch }, null, 2));
      const r = maru(['start', 'bad']);
      expect(r.code).not.toBe(0);
      expect(r.err).toMatch(why);
      expect(r.err).toMatch(/--engine qemu/);
    }
    writeFileSync(cfgFile, original);

    // a damaged qcow2: refused with a message naming the disk, and never written to
    const disk = show.disks[0]!.path;
    const good = readFileSync(disk);
    const cases: [string, Buffer, RegExp][] = [
      ['truncated', good.subarray(0, 200), /truncated|too short|ends|smaller/i],
      ['bad magic', Buffer.concat([Buffer.from('NOPE'), good.subarray(4)]), /not a qcow2|magic/i],
    ];
    for (const [label, bytes, why] of cases) {
      writeFileSync(disk, bytes);
      const before = sha256(disk);
      const r = maru(['start', 'bad']);
      expect(r.code, label).not.toBe(0);
      expect(r.err, label).toMatch(why);
      expect(r.err, label).toContain(disk);
      expect(sha256(disk), `${label}: the image was modified`).toBe(before);
    }
    writeFileSync(disk, good);
  }, 300_000);
});
