// `maru start` on the one road: the CLI calls the `vm` service's start job through its
// in-process transport, shows the job's phases on stderr, and Ctrl+C cancels a start that is
// under way — the engine host stops the VM and leaves nothing behind; the next start works.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEDIA, REPO, TestHome, canRun, expectNothingLeft, smallVm } from './qemu-test-kit';

describe.skipIf(!canRun)('start progress and cancel through the CLI (real QEMU, TCG)', () => {
  let t: TestHome;
  let id = '';

  beforeAll(async () => {
    t = await TestHome.create();
    id = await t.createVm('progress vm', [
      '--os',
      'linux64',
      '--firmware',
      'uefi',
      '--no-secure-boot',
      ...smallVm(MEDIA.biosUefi),
    ]);
  });
  afterAll(async () => {
    await t?.dispose();
  });

  it('shows the start job phases on stderr, one line each', async () => {
    const r = await t.maru(['start', 'progress vm']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^check: 0%$/m);
    expect(r.stderr).toMatch(/^launch: 20%$/m);
    expect(r.stderr).toMatch(/^running: 100%$/m);
    expect(r.stdout).toMatch(/Started "progress vm"/);
    await t.ok(['stop', 'progress vm', '--force']);
    await expectNothingLeft(t, id);
  });

  it('Ctrl+C during the start cancels it: exit 130, the VM is off, nothing is left running', async () => {
    // A real start reports `ready` within a second here; the engine host's test hook holds that
    // report for 20 s so the cancel lands mid-start every time (QEMU itself is already running).
    const child = spawn(process.execPath, [path.join(REPO, 'dist/cli/maru.js'), 'start', 'progress vm'], {
      env: { ...t.env, MARU_TEST_HOLD_READY_MS: '20000' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no launch phase: ${stderr}`)), 60_000);
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (/^launch: /m.test(stderr)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    await new Promise((r) => setTimeout(r, 1500)); // QEMU is up by now
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toMatch(/cancelled/);
    expect(await t.state(id)).toBe('off');
    await expectNothingLeft(t, id);
    // The VM is free again: the next start works.
    const again = await t.maru(['start', 'progress vm', '--json']);
    expect(again.code, again.stderr).toBe(0);
    await t.ok(['stop', 'progress vm', '--force']);
    await expectNothingLeft(t, id);
  });
});
