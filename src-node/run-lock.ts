// The run lock `run/<uuid>/lock`: created with O_EXCL by the engine host that runs the VM
// (JSON {pid, startedAt}). A lock whose pid is dead is stale and taken over; a live one
// means the VM already runs. Only the owner removes its lock. The one parser of lock files.
import { constants as fsConstants, readFileSync } from 'node:fs';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { AppError } from '../src-shared/errors';

export interface LockInfo {
  readonly pid: number;
  readonly startedAt: string;
}

/** True when a process with this pid exists (EPERM: it exists but belongs to someone else). */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Resolves true once `pid` has exited, or false when it is still there after `timeoutMs` (checked every `pollMs`). */
export async function waitForProcessExit(pid: number, timeoutMs: number, pollMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (isProcessAlive(pid)) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, pollMs));
  }
  return true;
}

/**
 * Parses a lock file's text: JSON `{pid, startedAt}` as the engine host writes it, or text
 * starting with a pid (a lock written by hand or by an older tool). Null when it names no pid
 * (half-written, empty, garbage).
 */
export function parseLock(text: string): LockInfo | null {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{')) {
    const m = /^(\d+)(?:\s|$)/.exec(trimmed);
    const pid = m ? Number(m[1]) : 0;
    return Number.isSafeInteger(pid) && pid > 0 ? { pid, startedAt: '' } : null;
  }
  try {
    const j = JSON.parse(trimmed) as Partial<LockInfo> | null;
    if (j && typeof j.pid === 'number' && Number.isInteger(j.pid) && j.pid > 0) {
      return { pid: j.pid, startedAt: typeof j.startedAt === 'string' ? j.startedAt : '' };
    }
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
  }
  return null;
}

/** The lock's content, or null when there is none (or it is unreadable as a lock). */
export function readLockSync(file: string): LockInfo | null {
  try {
    return parseLock(readFileSync(file, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw err;
  }
}

/** A held run lock. */
export class RunLock {
  private released = false;

  private constructor(
    readonly file: string,
    readonly info: LockInfo,
    /** The stale lock this one replaced (its engine host died without cleaning up). */
    readonly replaced: LockInfo | null,
  ) {}

  /**
   * Creates the lock for `info.pid`. A stale lock is moved aside and replaced; a live one
   * throws AppError('BUSY') naming `vmLabel`, its pid and start time.
   */
  static async acquire(file: string, info: LockInfo, vmLabel: string): Promise<RunLock> {
    let replaced: LockInfo | null = null;
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const fh = await open(file, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
        try {
          await fh.writeFile(JSON.stringify(info) + '\n');
          await fh.sync();
        } finally {
          await fh.close();
        }
        return new RunLock(file, info, replaced);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return null; // removed meanwhile: try again
        throw err;
      });
      if (text === null) continue;
      const held = parseLock(text);
      if (held && isProcessAlive(held.pid) && held.pid !== info.pid) {
        throw new AppError(
          'BUSY',
          `VM ${vmLabel} is already running (engine host pid ${held.pid}, started ${held.startedAt || 'earlier'}). ` +
            'Stop it first, or attach to it.',
          { pid: held.pid },
        );
      }
      if (!held && attempt === 0) {
        // Possibly being written right now by another engine host: give it a moment.
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      // Stale: move it aside atomically (only one taker wins the rename), then retry.
      const aside = `${file}.stale-${info.pid}`;
      try {
        await rename(file, aside);
        replaced = held ?? replaced;
        await rm(aside, { force: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    throw new AppError('BUSY', `Could not take the run lock ${file}: another Maru process keeps changing it.`);
  }

  /** Removes the lock if it is still ours. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    const now = await readFile(this.file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      throw err;
    });
    if (now !== null && parseLock(now)?.pid === this.info.pid) await rm(this.file, { force: true });
  }
}
