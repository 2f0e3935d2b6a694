// qemu-img, the offline image tool: creating the per-VM NVRAM from the OVMF VARS template,
// checking and repairing qcow2 images after an abnormal end, listing/deleting internal
// snapshots while the VM is off, and reading, measuring, converting and resizing disk images
// of any format (the disks service).
import { execFile, spawn } from 'node:child_process';
import { link, rm } from 'node:fs/promises';
import path from 'node:path';
import type { AbortSignalLike } from '../../../src-shared/contracts/jobs';
import { AppError, CancelledError } from '../../../src-shared/errors';

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

/**
 * Points `file` at another backing file without reading or copying data (`rebase -u`): the new
 * one must hold the same content (a base moved along with its overlay, as an import does).
 */
export async function relinkImage(qemuImg: string, file: string, backing: string): Promise<void> {
  const r = await run(qemuImg, ['rebase', '-q', '-u', '-f', 'qcow2', '-F', 'qcow2', '-b', backing, file], 60_000);
  if (r.code !== 0) throw new AppError('IO', `Could not point ${file} at its base ${backing}: ${r.stderr.trim()}`);
}

/** The fields of `qemu-img info --output=json` Maru reads. */
export interface QemuImageInfo {
  readonly filename: string;
  readonly format: string;
  readonly 'virtual-size': number;
  readonly 'actual-size'?: number;
  readonly 'cluster-size'?: number;
  readonly encrypted?: boolean;
  readonly 'backing-filename'?: string;
  readonly 'full-backing-filename'?: string;
  readonly 'backing-filename-format'?: string;
  readonly 'dirty-flag'?: boolean;
  readonly snapshots?: readonly { readonly name: string }[];
  readonly 'format-specific'?: { readonly type: string; readonly data: Readonly<Record<string, unknown>> };
}

/** A qemu-img failure: `details.stderr` holds what qemu-img said (callers translate it). */
function toolError(what: string, r: RunResult): AppError {
  const said = r.stderr.trim() || r.stdout.trim() || `exit status ${r.code}`;
  return new AppError('IO', `${what}: ${said}`, { stderr: r.stderr, exitCode: r.code });
}

export interface ImageInfoOptions {
  /** Open as this qemu format instead of probing the content. */
  readonly format?: string;
  /** Read even while another process holds the image (`-U`; the figures may be a moment old). */
  readonly shared?: boolean;
}

function infoArgs(file: string, options: ImageInfoOptions, chain: boolean): string[] {
  return [
    'info',
    '--output=json',
    ...(chain ? ['--backing-chain'] : []),
    ...(options.shared ? ['-U'] : []),
    ...(options.format ? ['-f', options.format] : []),
    file,
  ];
}

/** `qemu-img info` of one image (its backing file is named, not opened). */
export async function imageInfo(qemuImg: string, file: string, options: ImageInfoOptions = {}): Promise<QemuImageInfo> {
  const r = await run(qemuImg, infoArgs(file, options, false), 5 * 60_000);
  if (r.code !== 0) throw toolError(`qemu-img cannot read ${file}`, r);
  return JSON.parse(r.stdout) as QemuImageInfo;
}

/** `qemu-img info --backing-chain`: the image and every backing file under it (each opened). */
export async function imageChain(
  qemuImg: string,
  file: string,
  options: ImageInfoOptions = {},
): Promise<QemuImageInfo[]> {
  const r = await run(qemuImg, infoArgs(file, options, true), 5 * 60_000);
  if (r.code !== 0) throw toolError(`qemu-img cannot open ${file} with its backing files`, r);
  const parsed = JSON.parse(r.stdout) as QemuImageInfo | QemuImageInfo[];
  return Array.isArray(parsed) ? parsed : [parsed];
}

/** `qemu-img check` of an image of any format; null when qemu-img has no check for that format. */
export async function checkImageOf(qemuImg: string, image: string, format: string): Promise<ImageCheck | null> {
  const r = await run(qemuImg, ['check', '-f', format, '--output=json', image], 30 * 60_000);
  // 63: "This image format does not support checks" (raw, vpc).
  if (r.code === 63) return null;
  return parseCheck(image, r, false);
}

/** What a copy of an image in `outputFormat` needs on the host disk (`qemu-img measure`). */
export async function measureImage(
  qemuImg: string,
  file: string,
  format: string,
  outputFormat: 'qcow2' | 'raw',
): Promise<{ readonly requiredBytes: number; readonly fullyAllocatedBytes: number }> {
  const r = await run(qemuImg, ['measure', '--output=json', '-f', format, '-O', outputFormat, file], 30 * 60_000);
  if (r.code !== 0) throw toolError(`qemu-img cannot measure ${file}`, r);
  const j = JSON.parse(r.stdout) as { required: number; 'fully-allocated': number };
  return { requiredBytes: j.required, fullyAllocatedBytes: j['fully-allocated'] };
}

/** Grows an image to `sizeBytes` (`qemu-img resize`; qemu-img itself refuses to shrink without --shrink). */
export async function resizeImage(qemuImg: string, file: string, format: string, sizeBytes: number): Promise<void> {
  const r = await run(qemuImg, ['resize', '-q', '-f', format, file, String(sizeBytes)], 10 * 60_000);
  if (r.code !== 0) throw toolError(`Could not resize ${file}`, r);
}

export interface ConvertImageOptions {
  readonly source: string;
  readonly sourceFormat: string;
  /** Created (or truncated) by qemu-img: callers pass a fresh temporary name. */
  readonly target: string;
  readonly targetFormat: string;
  /** `-o` creation options of the target format (e.g. `subformat=dynamic`). */
  readonly targetOptions?: readonly string[];
  /** Make the target an overlay on this backing file (`-B`, stored as given; `-F` its format). */
  readonly backing?: { readonly file: string; readonly format: string };
  /** 0..1, as qemu-img reports it (`-p`). */
  readonly onProgress?: (fraction: number) => void;
  readonly signal?: AbortSignalLike;
}

/**
 * `qemu-img convert`: copies the guest-visible contents of `source` into a new image, leaving
 * zero ranges unallocated; the copy is on disk (flushed) when it resolves. Cancelling ends qemu-img (CancelledError once it has exited); the
 * target is left for the caller to remove.
 */
export function convertImage(qemuImg: string, o: ConvertImageOptions): Promise<void> {
  // -t writeback: qemu-img flushes the copy before it exits (its convert default, unsafe, does not).
  const args = ['convert', '-p', '-t', 'writeback', '-f', o.sourceFormat, '-O', o.targetFormat];
  if (o.targetOptions?.length) args.push('-o', o.targetOptions.join(','));
  if (o.backing) args.push('-B', o.backing.file, '-F', o.backing.format);
  args.push(o.source, o.target);
  return new Promise((resolve, reject) => {
    if (o.signal?.aborted) {
      reject(new CancelledError('The conversion was cancelled.'));
      return;
    }
    const child = spawn(qemuImg, args, { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    let stderr = '';
    let pending = '';
    let cancelled = false;
    const onAbort = (): void => {
      cancelled = true;
      child.kill('SIGTERM');
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      // "    (12.34/100%)\r" per step.
      pending += chunk;
      const parts = pending.split(/[\r\n]/);
      pending = parts.pop() ?? '';
      for (const part of parts) {
        const m = /\((\d+(?:\.\d+)?)\/100%\)/.exec(part);
        if (m) o.onProgress?.(Math.min(1, Number(m[1]) / 100));
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      if (stderr.length < 64 * 1024) stderr += chunk;
    });
    child.on('error', (err) => {
      o.signal?.removeEventListener('abort', onAbort);
      reject(
        new AppError(
          'MISSING_DEPENDENCY',
          `qemu-img could not run (${qemuImg}): ${err.message}. Install QEMU's tools (Debian: qemu-utils).`,
        ),
      );
    });
    child.on('close', (code, signal) => {
      o.signal?.removeEventListener('abort', onAbort);
      // SIGINT: Ctrl+C at a terminal reaches qemu-img too (same process group), maybe before our abort.
      if (cancelled || signal === 'SIGINT') reject(new CancelledError('The conversion was cancelled.'));
      else if (code === 0) resolve();
      else {
        reject(
          toolError(`qemu-img could not convert ${o.source}`, {
            code: code ?? 128,
            stdout: '',
            stderr: stderr || (signal ? `ended by ${signal}` : ''),
          }),
        );
      }
    });
  });
}
