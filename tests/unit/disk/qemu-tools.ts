// Helpers for the qcow2 tests: temp folders, the real qemu-img / qemu-io, and a seeded random
// source, so every test checks our files with QEMU's own tools.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { AppError } from '../../../src-shared/errors';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

export function qemuImg(...args: string[]): string {
  return execFileSync('qemu-img', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs qemu-io commands (each one `-c`) against an image; throws on failure. */
export function qemuIo(file: string, ...commands: string[]): string {
  const args = ['-f', 'qcow2'];
  for (const c of commands) args.push('-c', c);
  const r = spawnSync('qemu-io', [...args, file], { encoding: 'utf8' });
  if (r.status !== 0 || /error|failed/i.test(r.stdout + r.stderr)) {
    throw new Error(`qemu-io ${commands.join('; ')} failed: ${r.stdout}${r.stderr}`);
  }
  return r.stdout;
}

export interface CheckReport {
  status: number | null;
  report: Record<string, unknown>;
  text: string;
}

export function qemuImgCheck(file: string): CheckReport {
  const r = spawnSync('qemu-img', ['check', '--output=json', file], { encoding: 'utf8' });
  let report: Record<string, unknown> = {};
  try {
    report = JSON.parse(r.stdout) as Record<string, unknown>;
  } catch (err) {
    report = { parseError: String(err), stdout: r.stdout };
  }
  return { status: r.status, report, text: r.stdout + r.stderr };
}

/** Asserts `qemu-img check` finds no errors, corruptions or leaks. */
export function expectCleanCheck(file: string): void {
  const c = qemuImgCheck(file);
  expect(c.report, c.text).not.toHaveProperty('corruptions');
  expect(c.report, c.text).not.toHaveProperty('leaks');
  expect(c.report['check-errors'], c.text).toBe(0);
  expect(c.status, c.text).toBe(0);
}

/** The guest view of an image, as `qemu-img convert -O raw` produces it. */
export async function qemuToRaw(file: string, dir: string, format = 'qcow2'): Promise<Buffer> {
  const out = path.join(dir, `convert-${process.hrtime.bigint()}.raw`);
  try {
    qemuImg('convert', '-f', format, '-O', 'raw', file, out);
    return await readFile(out);
  } finally {
    await rm(out, { force: true });
  }
}

export interface QemuSnapshot {
  id: string;
  name: string;
  'vm-state-size': number;
  'date-sec': number;
  'date-nsec': number;
  'vm-clock-sec': number;
  'vm-clock-nsec': number;
}

export function qemuSnapshots(file: string): QemuSnapshot[] {
  const info = JSON.parse(qemuImg('info', '--output=json', file)) as { snapshots?: QemuSnapshot[] };
  return info.snapshots ?? [];
}

export async function makeTempDir(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'maru-qcow2-'));
}

export async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** Content and modification time, to prove a file was not touched. */
export async function fingerprint(file: string): Promise<{ bytes: Buffer; mtimeMs: number; size: number }> {
  const s = await stat(file);
  return { bytes: await readFile(file), mtimeMs: s.mtimeMs, size: s.size };
}

/** A small deterministic PRNG (mulberry32) so failures reproduce. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Bytes that differ at every position and between calls (so misplaced data shows). */
export function pattern(length: number, seed: number): Buffer {
  const rnd = prng(seed);
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = (rnd() * 256) | 0;
  return b;
}

export async function expectAppError(p: Promise<unknown>, code: string, text?: RegExp): Promise<AppError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  const appErr = err as AppError;
  expect(appErr.code, appErr.message).toBe(code);
  if (text) expect(appErr.message).toMatch(text);
  return appErr;
}

/** Index of the first differing byte, or -1 (a readable failure instead of a 64 MiB diff). */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  const n = a.length;
  for (let i = 0; i < n; i += 4096) {
    const end = Math.min(n, i + 4096);
    if (Buffer.compare(a.subarray(i, end), b.subarray(i, end)) !== 0) {
      for (let j = i; j < end; j++) if (a[j] !== b[j]) return j;
    }
  }
  return -1;
}

export function expectSameBytes(actual: Uint8Array, expected: Uint8Array, label = 'bytes'): void {
  const at = firstDifference(actual, expected);
  expect(at, `${label} differ first at ${at} (lengths ${actual.length} / ${expected.length})`).toBe(-1);
}
