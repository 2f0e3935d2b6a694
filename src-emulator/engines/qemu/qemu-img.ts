// qemu-img, the offline image tool: creating the per-VM NVRAM from the OVMF VARS template,
// checking and repairing qcow2 images after an abnormal end, and listing/deleting internal
// snapshots while the VM is off.
import { execFile } from 'node:child_process';
import { link, rm } from 'node:fs/promises';
import path from 'node:path';
import { AppError } from '../../../src-shared/errors';

interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(bin: string, args: readonly string[], timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(bin, [...args], { timeout: timeoutMs, maxBuffer: 8 << 20, windowsHide: true }, (err, stdout, stderr) => {
      if (err && typeof (err as { code?: unknown }).code !== 'number') {
        reject(
          new AppError(
            'MISSING_DEPENDENCY',
            `qemu-img could not run (${bin}): ${err.message}. Install QEMU's tools (Debian: qemu-utils).`,
          ),
        );
        return;
      }
      resolve({ code: err ? Number((err as { code: number }).code) : 0, stdout, stderr });
    });
  });
}

/**
 * Creates `dest` (qcow2) from a raw OVMF VARS template unless it exists. Never overwrites: the
 * image is converted next to it and hard-linked into place (fails if someone else made it).
 * Returns true when it created the file.
 */
export async function createNvramFromTemplate(qemuImg: string, template: string, dest: string): Promise<boolean> {
  const tmp = path.join(path.dirname(dest), `.${path.basename(dest)}.${process.pid}.tmp`);
  try {
    const r = await run(qemuImg, ['convert', '-f', 'raw', '-O', 'qcow2', template, tmp], 60_000);
    if (r.code !== 0) {
      throw new AppError(
        'IO',
        `Could not create the VM's UEFI NVRAM from ${template}: ${r.stderr.trim() || `exit status ${r.code}`}`,
      );
    }
    try {
      await link(tmp, dest);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
  } finally {
    await rm(tmp, { force: true });
  }
}

/** What `qemu-img check` found. */
export interface ImageCheck {
  readonly image: string;
  /** 0 clean, 1 check not completed, 2 corruption, 3 leaked clusters (harmless, repairable). */
  readonly exitCode: number;
  readonly ok: boolean;
  readonly leaks: number;
  readonly corruptions: number;
  readonly repaired: boolean;
  readonly output: string;
}

function parseCheck(image: string, r: RunResult, repaired: boolean): ImageCheck {
  const text = `${r.stdout}\n${r.stderr}`;
  let leaks = 0;
  let corruptions = 0;
  try {
    const j = JSON.parse(r.stdout) as { leaks?: number; corruptions?: number; 'leaks-fixed'?: number };
    leaks = j.leaks ?? 0;
    corruptions = j.corruptions ?? 0;
  } catch {
    // Older qemu-img or a failure message instead of JSON: fall back to the exit code.
    leaks = r.code === 3 ? 1 : 0;
    corruptions = r.code === 2 ? 1 : 0;
  }
  return {
    image,
    exitCode: r.code,
    ok: r.code === 0 || r.code === 3,
    leaks,
    corruptions,
    repaired,
    output: text.trim(),
  };
}

/** `qemu-img check` (read-only). */
export async function checkImage(qemuImg: string, image: string): Promise<ImageCheck> {
  return parseCheck(image, await run(qemuImg, ['check', '-f', 'qcow2', '--output=json', image], 10 * 60_000), false);
}

/** `qemu-img check -r leaks`: frees clusters an abnormal end left allocated but unused. */
export async function repairLeaks(qemuImg: string, image: string): Promise<ImageCheck> {
  return parseCheck(
    image,
    await run(qemuImg, ['check', '-r', 'leaks', '-f', 'qcow2', '--output=json', image], 10 * 60_000),
    true,
  );
}

/** Internal snapshot tags of an image (empty when it has none). */
export async function listSnapshots(qemuImg: string, image: string): Promise<string[]> {
  const r = await run(qemuImg, ['info', '-U', '-f', 'qcow2', '--output=json', image], 60_000);
  if (r.code !== 0) throw new AppError('IO', `qemu-img cannot read ${image}: ${r.stderr.trim()}`);
  const info = JSON.parse(r.stdout) as { snapshots?: { name: string }[] };
  return (info.snapshots ?? []).map((s) => s.name);
}

/** Deletes internal snapshot `tag` from an image (VM off). */
export async function deleteSnapshot(qemuImg: string, image: string, tag: string): Promise<void> {
  const r = await run(qemuImg, ['snapshot', '-d', tag, image], 10 * 60_000);
  if (r.code !== 0) throw new AppError('IO', `Could not delete snapshot ${tag} from ${image}: ${r.stderr.trim()}`);
}

/** Creates internal snapshot `tag` of an image's disk contents (VM off). */
export async function createSnapshot(qemuImg: string, image: string, tag: string): Promise<void> {
  const r = await run(qemuImg, ['snapshot', '-c', tag, image], 10 * 60_000);
  if (r.code !== 0) throw new AppError('IO', `Could not snapshot ${image} as ${tag}: ${r.stderr.trim()}`);
}

/** Puts an image's disk contents back to internal snapshot `tag` (VM off). */
export async function applySnapshot(qemuImg: string, image: string, tag: string): Promise<void> {
  const r = await run(qemuImg, ['snapshot', '-a', tag, image], 10 * 60_000);
  if (r.code !== 0) throw new AppError('IO', `Could not revert ${image} to snapshot ${tag}: ${r.stderr.trim()}`);
}

/**
 * Creates `file`, a qcow2 overlay of `sizeBytes` on `backing` (stored as given: a name relative
 * to the overlay's folder, or absolute). The backing is not opened (it may not be in place yet).
 */
export async function createOverlay(qemuImg: string, file: string, backing: string, sizeBytes: number): Promise<void> {
  const r = await run(
    qemuImg,
    ['create', '-q', '-f', 'qcow2', '-u', '-b', backing, '-F', 'qcow2', file, String(sizeBytes)],
    60_000,
  );
  if (r.code !== 0) throw new AppError('IO', `Could not create the overlay ${file} on ${backing}: ${r.stderr.trim()}`);
}

/** Copies into `file` everything it reads from its backing chain, and drops the backing (VM off). */
export async function flattenImage(qemuImg: string, file: string): Promise<void> {
  const r = await run(qemuImg, ['rebase', '-q', '-f', 'qcow2', '-b', '', file], 24 * 3600_000);
  if (r.code !== 0) throw new AppError('IO', `Could not make ${file} independent of its base: ${r.stderr.trim()}`);
}
