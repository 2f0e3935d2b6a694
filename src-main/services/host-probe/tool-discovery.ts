// Finds the host programs Maru drives — qemu-system-x86_64, qemu-system-i386, qemu-img,
// swtpm — on PATH and in the usual install folders, and reads their versions.
import { constants as fsConstants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import path from 'node:path';
import { runCommand } from './run-command';

/** QEMU older than this lacks working QMP internal snapshots (6.1.0 was broken). */
export const MIN_QEMU_VERSION = '6.2';

export const QEMU_SYSTEM_BINARIES = ['qemu-system-x86_64', 'qemu-system-i386'] as const;
export type QemuSystemBinary = (typeof QEMU_SYSTEM_BINARIES)[number];

/** A program found on disk, with what the cache key needs to notice an upgrade. */
export interface LocatedFile {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
}

/** Where to look for programs. `qemuSearchPath`, when given, replaces PATH and the usual folders for QEMU. */
export interface ToolSearch {
  readonly platform: NodeJS.Platform;
  readonly pathEnv: string | undefined;
  readonly qemuSearchPath?: readonly string[];
}

/** Install folders that are often missing from PATH (GUI apps on macOS, the QEMU installer on Windows). */
export function wellKnownToolDirs(platform: NodeJS.Platform): string[] {
  if (platform === 'darwin') return ['/opt/homebrew/bin', '/usr/local/bin', '/opt/local/bin'];
  if (platform === 'win32') {
    const programFiles = process.env['ProgramFiles'] ?? 'C:\\Program Files';
    return [path.win32.join(programFiles, 'qemu'), 'C:\\Program Files\\qemu'];
  }
  return [];
}

/** The folders searched, in order, without duplicates or empty entries. */
export function toolSearchDirs(search: ToolSearch, forQemu: boolean): string[] {
  const dirs =
    forQemu && search.qemuSearchPath
      ? [...search.qemuSearchPath]
      : [...splitPathEnv(search.pathEnv, search.platform), ...wellKnownToolDirs(search.platform)];
  return [...new Set(dirs.filter((d) => d.length > 0))];
}

function splitPathEnv(pathEnv: string | undefined, platform: NodeJS.Platform): string[] {
  if (!pathEnv) return [];
  return pathEnv.split(platform === 'win32' ? ';' : ':').map((d) => d.replace(/^"(.*)"$/, '$1'));
}

/** Looks for an executable called `name` (plus `.exe` on Windows) in `dirs`; first hit wins. */
export async function findExecutable(
  name: string,
  dirs: readonly string[],
  platform: NodeJS.Platform,
): Promise<LocatedFile | null> {
  const fileName = platform === 'win32' ? `${name}.exe` : name;
  const join = platform === 'win32' ? path.win32.join : path.posix.join;
  for (const dir of dirs) {
    const candidate = join(dir, fileName);
    const located = await statExecutable(candidate, platform);
    if (located) return located;
  }
  return null;
}

async function statExecutable(file: string, platform: NodeJS.Platform): Promise<LocatedFile | null> {
  try {
    const st = await stat(file);
    if (!st.isFile()) return null;
    if (platform !== 'win32') await access(file, fsConstants.X_OK);
    return { path: file, size: st.size, mtimeMs: st.mtimeMs };
  } catch (err) {
    // Missing, not executable, or unreadable: this folder has no usable copy; try the next.
    if (isFsError(err)) return null;
    throw err;
  }
}

/** Reads a file's size and mtime, or null when it is not there. */
export async function statFile(file: string): Promise<LocatedFile | null> {
  try {
    const st = await stat(file);
    return st.isFile() ? { path: file, size: st.size, mtimeMs: st.mtimeMs } : null;
  } catch (err) {
    if (isFsError(err)) return null;
    throw err;
  }
}

export function isFsError(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string';
}

/**
 * Pulls the version out of a `--version` banner: `QEMU emulator version 7.2.22 (Debian …)`,
 * `qemu-img version 8.2.0`, `TPM emulator version 0.7.1, Copyright …`. Null when absent.
 */
export function parseToolVersion(banner: string): string | null {
  const match = /\bversion\s+v?(\d+\.\d+(?:\.\d+)?)/i.exec(banner);
  return match?.[1] ?? null;
}

/** Numeric comparison of dotted versions; missing parts count as 0 (`6.2` = `6.2.0`). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((p) => Number.parseInt(p, 10) || 0);
  const pb = b.split('.').map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/** Whether a QEMU version is new enough for Maru (≥ MIN_QEMU_VERSION); an unknown version is not. */
export function isQemuVersionOk(version: string | null): boolean {
  return version !== null && compareVersions(version, MIN_QEMU_VERSION) >= 0;
}

/** Runs `program --version` and parses the banner; null when it fails or prints no version. */
export async function readToolVersion(program: string, timeoutMs = 5000): Promise<string | null> {
  const result = await runCommand(program, ['--version'], timeoutMs);
  return parseToolVersion(`${result.stdout}\n${result.stderr}`);
}
