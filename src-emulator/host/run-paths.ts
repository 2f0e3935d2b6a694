// Where a running VM's files go: `run/<uuid>/` for the lock, launch and state files, and a
// socket folder for the control, QMP, VNC, serial and swtpm sockets. Unix socket paths must
// fit sun_path (107 bytes on Linux, 103 on macOS): when `run/<uuid>/` is too deep, the
// sockets move to a short private folder ($XDG_RUNTIME_DIR/maru/… or /tmp/maru-<uid>/…).
import { createHash } from 'node:crypto';
import { lstat, mkdir, chmod } from 'node:fs/promises';
import path from 'node:path';
import { AppError } from '../../src-shared/errors';

/** Longest socket file name Maru puts in a socket folder. */
export const LONGEST_SOCKET_NAME = 'control.sock';
export const CONTROL_SOCKET_NAME = 'control.sock';

/** Longest usable unix socket path in bytes (sun_path minus its NUL). */
export function unixSocketPathMax(platform: NodeJS.Platform): number {
  return platform === 'linux' ? 107 : 103;
}

export interface SocketFolderInput {
  readonly runFolder: string;
  readonly vmId: string;
  readonly platform: NodeJS.Platform;
  readonly env: NodeJS.ProcessEnv;
  /** Numeric user id (process.getuid), for the /tmp fallback. */
  readonly uid: number | null;
}

/** The socket folder and whether it is the short fallback. */
export interface SocketFolderChoice {
  readonly folder: string;
  readonly short: boolean;
}

/**
 * Picks the socket folder: `runFolder` when every socket path in it fits, else
 * `$XDG_RUNTIME_DIR/maru/<uuid8>-<hash>` (when set and short enough), else
 * `/tmp/maru-<uid>/<uuid8>-<hash>`. The hash of the run folder keeps two data folders apart.
 */
export function chooseSocketFolder(input: SocketFolderInput): SocketFolderChoice {
  const max = unixSocketPathMax(input.platform);
  const fits = (folder: string): boolean => Buffer.byteLength(path.join(folder, LONGEST_SOCKET_NAME)) <= max;
  if (input.platform === 'win32' || fits(input.runFolder)) return { folder: input.runFolder, short: false };
  const leaf = `${input.vmId.slice(0, 8)}-${createHash('sha256').update(input.runFolder).digest('hex').slice(0, 6)}`;
  const xdg = input.env['XDG_RUNTIME_DIR'];
  if (xdg && path.isAbsolute(xdg)) {
    const folder = path.join(xdg, 'maru', leaf);
    if (fits(folder)) return { folder, short: true };
  }
  const folder = path.join('/tmp', `maru-${input.uid ?? 'user'}`, leaf);
  if (!fits(folder)) {
    throw new AppError('INTERNAL', `No socket folder short enough for unix sockets (tried ${folder}).`);
  }
  return { folder, short: true };
}

/** The control endpoint in a socket folder: a unix socket, or a named pipe on Windows. */
export function controlEndpointFor(socketFolder: string, vmId: string, platform: NodeJS.Platform): string {
  if (platform === 'win32') return `\\\\.\\pipe\\maru-${vmId}-control`;
  return path.join(socketFolder, CONTROL_SOCKET_NAME);
}

/**
 * Creates `folder` (and a short fallback's parent) readable by this user only, refusing a
 * parent that is a symlink or belongs to someone else (a shared /tmp must not be trusted).
 */
export async function ensurePrivateFolder(folder: string, short: boolean): Promise<void> {
  if (short && process.platform !== 'win32') {
    const parent = path.dirname(folder);
    await mkdir(parent, { recursive: true, mode: 0o700 });
    const st = await lstat(parent);
    const uid = process.getuid?.();
    if (!st.isDirectory() || st.isSymbolicLink() || (uid !== undefined && st.uid !== uid)) {
      throw new AppError(
        'IO',
        `The socket folder ${parent} is not a private folder of this user (a symlink, or owned by uid ${st.uid}). ` +
          'Remove it, or set XDG_RUNTIME_DIR to a private folder.',
      );
    }
    if ((st.mode & 0o077) !== 0) await chmod(parent, 0o700);
  }
  await mkdir(folder, { recursive: true, mode: 0o700 });
  if (process.platform !== 'win32') await chmod(folder, 0o700);
}
