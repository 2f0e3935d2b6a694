// Shared pieces of the QEMU integration tests: the built CLI run as a real process, a
// temporary MARU_HOME per test (its probe cache seeded from one real probe per file), the
// test media, serial-log waits, qemu-img checks, and a sweep that nothing is left behind.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const REPO = fileURLToPath(new URL('../../..', import.meta.url)).replace(/\/$/, '');
export const FIXTURES = path.join(REPO, 'tests/fixtures/build');
export const MEDIA = {
  biosUefi: path.join(FIXTURES, 'maru-test-bios-uefi.iso'),
  secureBoot: path.join(FIXTURES, 'maru-test-secureboot.iso'),
  unsigned: path.join(FIXTURES, 'maru-test-unsigned-uefi.iso'),
  i386: path.join(FIXTURES, 'maru-test-i386.iso'),
  notIso: path.join(FIXTURES, 'not-an-iso.bin'),
  truncated: path.join(FIXTURES, 'truncated.iso'),
};
const CLI = path.join(REPO, 'dist/cli/maru.js');

/** A one-CPU, 256 MiB guest with a 1 GiB disk booting `iso`: the `maru create` options the tests share. */
export function smallVm(iso: string): string[] {
  return ['--cpus', '1', '--memory', '256', '--disk', '1', '--iso', iso];
}

export const haveQemu = existsSync('/usr/bin/qemu-system-x86_64') && existsSync('/usr/bin/qemu-img');
export const haveMedia = Object.values(MEDIA).every((f) => existsSync(f));
export const canRun = haveQemu && haveMedia && process.platform === 'linux';

let built = false;
/** Builds dist/cli and dist/engine-host once per test file. */
export function ensureBuilt(): void {
  if (built) return;
  const r = spawnSync(process.execPath, ['scripts/build.mjs', '--node-only', '--quiet'], {
    cwd: REPO,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`build failed: ${r.stderr}${r.stdout}`);
  built = true;
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The probe result of this host, made once per test file in its own folder, copied into each home. */
let probeTemplate: { home: string; text: string } | null = null;

async function probeCacheFor(home: string): Promise<string> {
  if (!probeTemplate) {
    const tplHome = await mkdtemp(path.join(os.tmpdir(), 'maru-it-probe-'));
    const r = spawnSync(process.execPath, [CLI, 'host', '--json'], {
      env: { ...process.env, MARU_HOME: tplHome },
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`maru host failed: ${r.stderr}`);
    probeTemplate = { home: tplHome, text: await readFile(path.join(tplHome, 'host-probe.json'), 'utf8') };
    await rm(tplHome, { recursive: true, force: true });
  }
  // The cache is keyed by the data folder: point the copy at this home.
  return probeTemplate.text
    .split(JSON.stringify(probeTemplate.home).slice(1, -1))
    .join(JSON.stringify(home).slice(1, -1));
}

/** A temporary MARU_HOME with its own processes; `dispose()` stops and sweeps everything. */
export class TestHome {
  readonly vmIds = new Set<string>();

  private constructor(
    readonly root: string,
    readonly home: string,
    readonly env: NodeJS.ProcessEnv,
  ) {}

  /**
   * `deep` makes the home path so long that `run/<uuid>/control.sock` exceeds 107 bytes, so
   * the sockets must move to the short fallback (under `<root>/xdg`, our XDG_RUNTIME_DIR).
   */
  static async create(options: { deep?: boolean; seedProbe?: boolean } = {}): Promise<TestHome> {
    ensureBuilt();
    const root = await mkdtemp(path.join(os.tmpdir(), 'maru-it-'));
    const home = options.deep
      ? path.join(root, 'a-rather-long-folder-name-'.repeat(3), 'maru-home')
      : path.join(root, 'home');
    await mkdir(home, { recursive: true });
    const xdg = path.join(root, 'xdg');
    await mkdir(xdg, { mode: 0o700 });
    const env: NodeJS.ProcessEnv = { ...process.env, MARU_HOME: home, XDG_RUNTIME_DIR: xdg };
    for (const k of ['MARU_QEMU_DIRS', 'MARU_FIRMWARE_DIRS', 'MARU_SWTPM_DIRS', 'MARU_ENGINE_HOST']) delete env[k];
    if (options.seedProbe !== false) await writeFile(path.join(home, 'host-probe.json'), await probeCacheFor(home));
    return new TestHome(root, home, env);
  }

  /** Runs `maru ARGS…`; resolves with its exit code and output. */
  maru(args: readonly string[], extraEnv: NodeJS.ProcessEnv = {}, timeoutMs = 150_000): Promise<CliResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, ...args], {
        env: { ...this.env, ...extraEnv },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`maru ${args.join(' ')} did not finish within ${timeoutMs} ms\n${stdout}\n${stderr}`));
      }, timeoutMs);
      child.once('error', reject);
      child.once('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  /** Runs `maru ARGS…` and expects exit 0. */
  async ok(args: readonly string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<string> {
    const r = await this.maru(args, extraEnv);
    expect(r.code, `maru ${args.join(' ')}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0);
    return r.stdout;
  }

  /** Creates a VM and returns its uuid. */
  async createVm(name: string, args: readonly string[]): Promise<string> {
    const out = JSON.parse(await this.ok(['create', '--name', name, ...args, '--json'])) as {
      vm: { config: { id: string } };
    };
    this.vmIds.add(out.vm.config.id);
    return out.vm.config.id;
  }

  vmFolder(id: string): string {
    return path.join(this.home, 'vms', id);
  }

  async serialLog(id: string): Promise<string> {
    return (await readFile(path.join(this.vmFolder(id), 'logs', 'serial.log'), 'latin1').catch(() => '')).replace(
      /\r/g,
      '',
    );
  }

  /** Waits until the VM's serial log contains `marker` `count` times. */
  async waitForSerial(id: string, marker: string | RegExp, timeoutMs: number, count = 1): Promise<string> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const text = await this.serialLog(id);
      const n =
        typeof marker === 'string' ? text.split(marker).length - 1 : (text.match(new RegExp(marker, 'g')) ?? []).length;
      if (n >= count) return text;
      if (Date.now() > until) {
        throw new Error(
          `serial log of ${id} has ${n}× ${String(marker)} after ${timeoutMs} ms (wanted ${count}):\n${text.slice(-2000)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** The VM's state as `maru list --json` reports it. */
  async state(id: string): Promise<string> {
    const list = JSON.parse(await this.ok(['list', '--json'])) as { id: string; state: string }[];
    return list.find((e) => e.id === id)?.state ?? 'missing';
  }

  async waitForState(id: string, state: string, timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    let now = '';
    while ((now = await this.state(id)) !== state) {
      if (Date.now() > until) throw new Error(`VM ${id} is ${now}, not ${state}, after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** The writable images of a VM (disks and NVRAM) that exist. */
  images(id: string): string[] {
    const folder = this.vmFolder(id);
    return [path.join(folder, 'disks', 'disk0.qcow2'), path.join(folder, 'nvram.qcow2')].filter((f) => existsSync(f));
  }

  /** Stops every VM still running (force), then checks nothing is left and removes the folder. */
  async dispose(): Promise<void> {
    for (const id of this.vmIds) {
      if (['running', 'paused'].includes(await this.state(id).catch(() => 'gone')))
        await this.maru(['stop', id, '--force']);
      if ((await this.state(id).catch(() => 'gone')) === 'aborted') await this.maru(['stop', id]);
    }
    for (const id of this.vmIds) await expectNothingLeft(this, id);
    await rm(this.root, { recursive: true, force: true });
  }
}

/** Pids whose command line contains `text`. */
export async function processesMentioning(text: string): Promise<number[]> {
  const found: number[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(text)) found.push(Number(pid));
  }
  return found;
}

/** Engine hosts started early by `maru start` (`--await-launch`) for this test home, still running. */
export async function idleEngineHosts(t: TestHome): Promise<number[]> {
  const found: number[] = [];
  for (const pid of await processesMentioning('--await-launch')) {
    const env = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
    if (env.split('\0').includes(`MARU_HOME=${t.home}`)) found.push(pid);
  }
  return found;
}

/**
 * No qemu/swtpm/engine host of VM `id` runs (nor an engine host started early and left
 * unused), its run folder and short socket folder are gone.
 */
export async function expectNothingLeft(t: TestHome, id: string): Promise<void> {
  const until = Date.now() + 10_000;
  let pids: number[] = [];
  while (
    (pids = [
      ...(await processesMentioning(id)),
      ...(await processesMentioning(path.join(t.root, 'xdg'))),
      ...(await idleEngineHosts(t)),
    ]).length
  ) {
    if (Date.now() > until) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(pids, `processes of VM ${id} left running`).toEqual([]);
  expect(existsSync(path.join(t.home, 'run', id)), `run folder of ${id}`).toBe(false);
  const xdg = path.join(t.root, 'xdg', 'maru');
  const left = existsSync(xdg) ? (await readdir(xdg)).filter((n) => n.startsWith(id.slice(0, 8))) : [];
  expect(left, 'short socket folders left').toEqual([]);
}

/** `qemu-img check` of an image: exit 0 (clean) expected; 3 (leaked clusters only) reported as not clean. */
export function qemuImgCheck(image: string): { code: number | null; output: string } {
  const r = spawnSync('qemu-img', ['check', image], { encoding: 'utf8' });
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

/** `qemu-img check` counts: errors (check errors + corruptions) and leaked clusters (-U: readable while a VM runs). */
export function imageCheckCounts(image: string): { errors: number; leaks: number } {
  const r = spawnSync('qemu-img', ['check', '-U', '--output=json', image], { encoding: 'utf8' });
  const j = JSON.parse(r.stdout || '{}') as { 'check-errors'?: number; corruptions?: number; leaks?: number };
  return { errors: (j['check-errors'] ?? 0) + (j.corruptions ?? 0), leaks: j.leaks ?? 0 };
}

export function expectImagesClean(t: TestHome, id: string): void {
  const images = t.images(id);
  expect(images.length).toBeGreaterThan(0);
  for (const image of images) {
    const r = qemuImgCheck(image);
    expect(r.code, `qemu-img check ${image}: ${r.output}`).toBe(0);
    expect(r.output).toContain('No errors were found on the image.');
  }
}

/** Internal snapshot tags of an image (read while the VM may run: -U). */
export function snapshotTags(image: string): string[] {
  const r = spawnSync('qemu-img', ['info', '-U', '--output=json', image], { encoding: 'utf8' });
  const info = JSON.parse(r.stdout) as { snapshots?: { name: string }[] };
  return (info.snapshots ?? []).map((s) => s.name);
}

/** The engine host's status as `maru status --json` prints it. */
export async function statusOf(t: TestHome, id: string): Promise<Record<string, unknown>> {
  return JSON.parse(await t.ok(['status', id, '--json'])) as Record<string, unknown>;
}
