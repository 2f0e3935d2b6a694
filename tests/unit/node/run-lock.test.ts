// The run lock (src-node/run-lock.ts, the one lock parser): O_EXCL creation, a live holder
// refused with a clear message, a stale lock (dead pid) or a garbage one replaced, and
// release removing only our own lock.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunLock, isProcessAlive, parseLock, readLockSync, waitForProcessExit } from '../../../src-node/run-lock';

/** A pid that certainly does not run: a child that already exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

describe('RunLock', () => {
  let dir = '';
  let file = '';
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'maru-lock-'));
    file = path.join(dir, 'lock');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates the lock with pid and start time, and releases it', async () => {
    const lock = await RunLock.acquire(file, { pid: process.pid, startedAt: 't0' }, '"vm"');
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ pid: process.pid, startedAt: 't0' });
    expect(readLockSync(file)).toEqual({ pid: process.pid, startedAt: 't0' });
    expect(lock.replaced).toBeNull();
    await lock.release();
    expect(readLockSync(file)).toBeNull();
  });

  it('refuses when a live process holds it, naming the VM and pid', async () => {
    const holder = process.ppid; // alive for the whole test
    await writeFile(file, JSON.stringify({ pid: holder, startedAt: 'earlier-time' }));
    await expect(RunLock.acquire(file, { pid: process.pid, startedAt: 'now' }, '"web"')).rejects.toMatchObject({
      code: 'BUSY',
      message: expect.stringContaining(`VM "web" is already running (engine host pid ${holder}, started earlier-time)`),
    });
    expect(readLockSync(file)?.pid).toBe(holder);
  });

  it('replaces a stale lock whose pid is dead, and a garbage one', async () => {
    const dead = deadPid();
    expect(isProcessAlive(dead)).toBe(false);
    await writeFile(file, JSON.stringify({ pid: dead, startedAt: 'old' }));
    const lock = await RunLock.acquire(file, { pid: process.pid, startedAt: 'new' }, '"vm"');
    expect(lock.replaced).toEqual({ pid: dead, startedAt: 'old' });
    expect(readLockSync(file)?.pid).toBe(process.pid);
    await lock.release();
    await writeFile(file, '{"pid":');
    const again = await RunLock.acquire(file, { pid: process.pid, startedAt: 'x' }, '"vm"');
    expect(readLockSync(file)?.startedAt).toBe('x');
    await again.release();
  });

  it('release leaves a lock that is no longer ours', async () => {
    const lock = await RunLock.acquire(file, { pid: process.pid, startedAt: 'a' }, '"vm"');
    await writeFile(file, JSON.stringify({ pid: process.ppid, startedAt: 'someone else' }));
    await lock.release();
    expect(readLockSync(file)?.pid).toBe(process.ppid);
  });

  it('parses JSON locks and pid-only text, nothing else', () => {
    expect(parseLock('{"pid": 12, "startedAt": "s"}')).toEqual({ pid: 12, startedAt: 's' });
    expect(parseLock('{"pid": 12, "startedAt": 5}')).toEqual({ pid: 12, startedAt: '' });
    expect(parseLock('4321\n')).toEqual({ pid: 4321, startedAt: '' });
    expect(parseLock('{"pid": -1}')).toBeNull();
    expect(parseLock('{"pid":')).toBeNull();
    expect(parseLock('null')).toBeNull();
    expect(parseLock('12abc')).toBeNull();
    expect(parseLock('')).toBeNull();
    expect(isProcessAlive(0)).toBe(false);
  });

  it('treats a pid-only lock like any other: live is BUSY, dead is replaced', async () => {
    await writeFile(file, `${process.ppid}\n`);
    await expect(RunLock.acquire(file, { pid: process.pid, startedAt: 'now' }, '"vm"')).rejects.toMatchObject({
      code: 'BUSY',
    });
    const dead = deadPid();
    await writeFile(file, `${dead}\n`);
    const lock = await RunLock.acquire(file, { pid: process.pid, startedAt: 'now' }, '"vm"');
    expect(lock.replaced).toEqual({ pid: dead, startedAt: '' });
    await lock.release();
  });
});

describe('waitForProcessExit', () => {
  it('is true once a real process has ended, false while one still runs past the wait', async () => {
    expect(await waitForProcessExit(deadPid(), 1000, 20)).toBe(true);
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30_000)'], { stdio: 'ignore' });
    try {
      expect(await waitForProcessExit(child.pid!, 150, 20)).toBe(false);
      child.kill('SIGKILL');
      expect(await waitForProcessExit(child.pid!, 5000, 20)).toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
