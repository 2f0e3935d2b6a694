// A real `maru serve` for e2e tests: a temp MARU_HOME with VMs made by the real CLI, a
// password set with `maru serve --set-password`, and the server on a free loopback port.
// Torn down (process and folder) after the worker.
import { expect, test as base, type Page } from '@playwright/test';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface MaruServer {
  url: string;
  home: string;
  password: string;
  cli(args: string[], input?: string): { status: number | null; stdout: string; stderr: string };
}

const CLI = path.resolve('dist/cli/maru.js');

export function runCli(home: string, args: string[], input?: string) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    env: { ...process.env, MARU_HOME: home },
    encoding: 'utf8',
    input,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export async function startServer(
  home: string,
  extraArgs: string[] = [],
  env: Readonly<Record<string, string>> = {},
): Promise<{ url: string; proc: ChildProcess; token: string | null }> {
  const proc = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...extraArgs], {
    env: { ...process.env, ...env, MARU_HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`maru serve did not start: ${out}`)), 15_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /Maru web console: (\S+)/.exec(out);
      if (m?.[1] && /\n/.test(out.slice(m.index))) {
        clearTimeout(timer);
        // wait a moment so the token line (if any) is in
        setTimeout(() => resolve(m[1]!), 50);
      }
    });
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    proc.on('exit', (code) => reject(new Error(`maru serve exited (${code}): ${out}`)));
  });
  const token = /One-time login token: (\S+)/.exec(out)?.[1] ?? null;
  return { url, proc, token };
}

/**
 * A server of its own (own MARU_HOME, password set) for a spec that must not share state;
 * stop() removes it. `env` goes to the server (and the engine hosts it spawns).
 */
export async function startOwnServer(
  prefix: string,
  env: Readonly<Record<string, string>> = {},
): Promise<MaruServer & { stop(): Promise<void> }> {
  const home = mkdtempSync(path.join(os.tmpdir(), prefix));
  const password = 'correct horse battery';
  const set = runCli(home, ['serve', '--set-password', '--password-stdin'], password + '\n');
  if (set.status !== 0) throw new Error(`set-password failed: ${set.stderr}`);
  const { url, proc } = await startServer(home, [], env);
  return {
    url,
    home,
    password,
    cli: (args, input) => runCli(home, args, input),
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
      rmSync(home, { recursive: true, force: true });
    },
  };
}

export const test = base.extend<object, { maru: MaruServer }>({
  maru: [
    // eslint-disable-next-line no-empty-pattern -- Playwright needs the fixture-object pattern
    async ({}, use) => {
      const home = mkdtempSync(path.join(os.tmpdir(), 'maru-e2e-'));
      const password = 'correct horse battery';
      const set = runCli(home, ['serve', '--set-password', '--password-stdin'], password + '\n');
      if (set.status !== 0) throw new Error(`set-password failed: ${set.stderr}`);
      const { url, proc } = await startServer(home);
      await use({ url, home, password, cli: (args, input) => runCli(home, args, input) });
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
      rmSync(home, { recursive: true, force: true });
    },
    { scope: 'worker' },
  ],
});

export { expect };

/** The i386 test ISO (BIOS, boots on QEMU and v86): `npm run fixtures` builds it. */
export const TEST_ISO_I386 = path.resolve('tests/fixtures/build/maru-test-i386.iso');

/**
 * For a spec that boots one VM from the test ISO on a server of its own: skipped when the
 * fixtures are missing; afterwards the VM is forced off and the server removed. Its serial
 * log is read through the real CLI. `env` goes to the server (e.g. an engine-host test hook).
 */
export function ownVmServer(prefix: string, vmName: string, env: Readonly<Record<string, string>> = {}) {
  let server: (MaruServer & { stop(): Promise<void> }) | undefined;
  test.beforeAll(async () => {
    test.skip(!existsSync(TEST_ISO_I386), 'fixture ISOs missing: run `npm run fixtures` (.ci/run does)');
    server = await startOwnServer(prefix, env);
  });
  test.afterAll(async () => {
    if (!server) return;
    server.cli(['stop', vmName, '--force']);
    await server.stop();
  });
  const own = {
    get maru(): MaruServer {
      if (!server) throw new Error('the server is not started yet');
      return server;
    },
    /** Creates the VM through the real CLI: Linux 32-bit, 128 MiB, no disk, the test ISO in its drive. */
    createVm(extraArgs: string[] = []): void {
      const args = ['--os', 'linux32', '--memory', '128', '--disk', '0', '--iso', TEST_ISO_I386, ...extraArgs];
      const made = own.maru.cli(['create', '--name', vmName, ...args]);
      expect(made.status, made.stderr).toBe(0);
    },
    serial: (): string => own.maru.cli(['serial', vmName]).stdout,
    /** Waits until the VM's serial log shows `text` (the error quotes the log's end). */
    async serialHas(text: string, timeoutMs: number): Promise<void> {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const out = own.serial();
        if (out.includes(text)) return;
        if (Date.now() > end) throw new Error(`serial never showed ${text}; last output:\n${out.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    },
  };
  return own;
}

/** A full-page screenshot, attached to the test's report as `name`. */
export async function shot(page: Page, name: string): Promise<void> {
  const file = base.info().outputPath(`${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  await base.info().attach(name, { path: file, contentType: 'image/png' });
}

/** Signs in to `maru` with the login page's labels (English by default, or Korean). */
export async function logIn(
  page: Page,
  maru: MaruServer,
  button = 'Log in',
  passwordLabel = 'Password',
): Promise<void> {
  await page.goto(maru.url);
  await page.getByLabel(passwordLabel).fill(maru.password);
  await page.getByRole('button', { name: button, exact: true }).click();
}
