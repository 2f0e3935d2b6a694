// Every file and socket of a running VM, named in one place: the run folder `run/<uuid>/`
// (lock, launch.json, state.json), the socket folder (control, QMP, VNC, serial, swtpm, RFB
// sockets and QEMU's pid file) and the markers an engine host leaves in the VM folder; plus
// the one reader of "is this VM's engine host alive, and in which state" (`readRunStatus`).
// Unix socket paths must fit sun_path (107 bytes on Linux, 103 on macOS): when `run/<uuid>/`
// is too deep, the sockets move to a short private folder ($XDG_RUNTIME_DIR/maru/… or /tmp/maru-<uid>/…).
import { createHash } from 'node:crypto';
import { lstat, mkdir, chmod } from 'node:fs/promises';
import path from 'node:path';
import { ENGINE_TRANSITIONS, type EngineRunState } from '../src-shared/contracts/engine';
import { AppError } from '../src-shared/errors';
import { readJsonSync } from './atomic-file';
import { isProcessAlive, readLockSync, type LockInfo } from './run-lock';

// ---- the run folder `run/<uuid>/` ----

/** In `run/<uuid>/`: the engine host's lock (`{pid, startedAt}`, O_EXCL; see run-lock.ts). */
export const RUN_LOCK_FILE = 'lock';
/** In `run/<uuid>/`: what the launcher hands the engine host (EngineLaunchSpec). */
export const RUN_LAUNCH_FILE = 'launch.json';
/** In `run/<uuid>/`: the engine host's current state (EngineRunState), rewritten on every change. */
export const RUN_STATE_FILE = 'state.json';

// ---- markers in the VM folder `vms/<uuid>/` ----

/** In `vms/<uuid>/`: the engine host ended abnormally (AbortedMarker). Cleared by the next start. */
export const ABORTED_MARKER_FILE = 'aborted';
/** In `vms/<uuid>/`: a saved state the next start resumes (SavedStateMarker). */
export const SAVED_STATE_MARKER_FILE = 'saved-state';
/** The VM folder's last screen (PNG), kept when the VM stops or saves, for the library row. */
export const LAST_SCREEN_FILE = 'last-screen.png';

// ---- the socket folder ----

/** Every file an engine host or engine puts in a socket folder, by what it is. */
export const SOCKET_FILES = {
  /** The engine host's control endpoint (EngineControlService). */
  control: 'control.sock',
  /** QEMU's QMP monitor. */
  qmp: 'qmp.sock',
  /** QEMU's own VNC server (the display of a QEMU VM). */
  vnc: 'vnc.sock',
  /** QEMU's first serial port. */
  serial: 'serial.sock',
  /** swtpm's control channel (the TPM of a QEMU VM). */
  swtpm: 'swtpm.sock',
  /** The v86 engine's RFB server (the display of a v86 VM). */
  rfb: 'rfb.sock',
  /** QEMU's pid file. */
  qemuPid: 'qemu.pid',
} as const;

export type SocketFileKind = keyof typeof SOCKET_FILES;

/** Longest socket file name Maru puts in a socket folder: the socket folder is chosen so it fits. */
export const LONGEST_SOCKET_NAME = Object.values(SOCKET_FILES).reduce((a, b) => (b.length > a.length ? b : a));

/** `<socketFolder>/<name of kind>`. */
export function socketFile(socketFolder: string, kind: SocketFileKind): string {
  return path.join(socketFolder, SOCKET_FILES[kind]);
}

/** `<home>/run`: one run folder per running VM, named by its uuid. */
export function runsFolder(maruHome: string): string {
  return path.join(maruHome, 'run');
}

/** `<home>/run/<uuid>`: a running VM's lock, launch and state files (and its sockets, when short enough). */
export function runFolder(maruHome: string, vmId: string): string {
  return path.join(runsFolder(maruHome), vmId);
}

/** The files of a run folder. */
export interface RunFiles {
  readonly folder: string;
  readonly lock: string;
  readonly launch: string;
  readonly state: string;
}

/** The lock, launch and state files in `folder` (a run folder). */
export function runFiles(folder: string): RunFiles {
  return {
    folder,
    lock: path.join(folder, RUN_LOCK_FILE),
    launch: path.join(folder, RUN_LAUNCH_FILE),
    state: path.join(folder, RUN_STATE_FILE),
  };
}

/** The markers an engine host leaves in `vmFolder` (`vms/<uuid>`). */
export function vmMarkerFiles(vmFolder: string): { readonly aborted: string; readonly savedState: string } {
  return {
    aborted: path.join(vmFolder, ABORTED_MARKER_FILE),
    savedState: path.join(vmFolder, SAVED_STATE_MARKER_FILE),
  };
}

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
    throw new AppError(
      'INTERNAL',
      `No socket folder short enough for unix sockets (tried ${folder}). Set XDG_RUNTIME_DIR to a short private folder.`,
    );
  }
  return { folder, short: true };
}

/**
 * In the socket folder: the VM side of internal network adapter `index` (QEMU's `-netdev stream`
 * connects to it; the engine host's network port listens). Never longer than LONGEST_SOCKET_NAME.
 */
export function nicSocketFile(socketFolder: string, index: number): string {
  return path.join(socketFolder, `nic${index}.sock`);
}

/** The control endpoint in a socket folder: a unix socket, or a named pipe on Windows. */
export function controlEndpointFor(socketFolder: string, vmId: string, platform: NodeJS.Platform): string {
  if (platform === 'win32') return `\\\\.\\pipe\\maru-${vmId}-control`;
  return socketFile(socketFolder, 'control');
}

// ---- internal networks ----

/** In `run/`: one folder per internal network (`run/net/<name>/`) with its ports' peer sockets. */
export const NETWORKS_FOLDER = 'net';

/** The peer socket of adapter `index` of VM `vmId` in a network folder: `<uuid>-<index>.sock`. */
export function networkPortSocketName(vmId: string, index: number): string {
  return `${vmId}-${index}.sock`;
}

const LONGEST_PORT_SOCKET_NAME = networkPortSocketName('00000000-0000-0000-0000-000000000000', 9);

export interface NetworkFolderInput {
  readonly maruHome: string;
  /** The network's name (NETWORK_NAME_PATTERN: never starts with `_`). */
  readonly network: string;
  readonly platform: NodeJS.Platform;
  /** Numeric user id (process.getuid), for the /tmp fallback. */
  readonly uid: number | null;
}

/**
 * The folder of internal network `network`'s peer sockets. Every engine host of one data folder
 * must reach the same answer, so it depends on nothing else (not the environment: a desktop app
 * and a CLI may see different XDG_RUNTIME_DIRs): `run/net/<name>` when a peer socket path in it
 * fits sun_path; `run/net/_<hash of the name>` when only the name is too long; else
 * `/tmp/maru-<uid>/net-<hash of the data folder and the name>` (`short`: a private parent to check).
 */
export function chooseNetworkFolder(input: NetworkFolderInput): SocketFolderChoice {
  const max = unixSocketPathMax(input.platform);
  const fits = (folder: string): boolean => Buffer.byteLength(path.join(folder, LONGEST_PORT_SOCKET_NAME)) <= max;
  const hash = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 16);
  const root = path.join(runsFolder(input.maruHome), NETWORKS_FOLDER);
  for (const leaf of [input.network, `_${hash(input.network)}`]) {
    const folder = path.join(root, leaf);
    if (fits(folder)) return { folder, short: false };
  }
  const folder = path.join('/tmp', `maru-${input.uid ?? 'user'}`, `net-${hash(`${input.maruHome}\0${input.network}`)}`);
  return { folder, short: true };
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

// ---- reading a run folder ----

/**
 * The engine host's state.json in `folder`, or null when there is none or it is not a state
 * file (caught mid-rename, damaged, an unknown state). Its other fields are as the engine
 * host wrote them.
 */
export function readRunState(folder: string): EngineRunState | null {
  const state = readJsonSync<Partial<EngineRunState>>(runFiles(folder).state);
  if (typeof state !== 'object' || state === null || Array.isArray(state)) return null;
  if (typeof state.state !== 'string' || !Object.hasOwn(ENGINE_TRANSITIONS, state.state)) return null;
  return state as EngineRunState;
}

/** What a VM's run folder says about its engine host. */
export interface RunStatus {
  /** The run lock, or null when there is none (or it names no pid). */
  readonly lock: LockInfo | null;
  /** True when the lock names a live process: the VM's engine host runs. */
  readonly alive: boolean;
  /**
   * The engine host's state.json while it is alive (null when it is not, or the file is
   * missing or being replaced). A dead host's state file is for recovery: `readRunState`.
   */
  readonly state: EngineRunState | null;
}

/**
 * Whether VM `vmId`'s engine host is alive and its state, from `run/<uuid>/`. Synchronous on
 * purpose: the library asks it for hundreds of VMs in a row. Throws AppError('IO') when the
 * files exist but cannot be read.
 */
export function readRunStatus(maruHome: string, vmId: string): RunStatus {
  const folder = runFolder(maruHome, vmId);
  let file = runFiles(folder).lock;
  try {
    const lock = readLockSync(file);
    const alive = lock !== null && isProcessAlive(lock.pid);
    file = runFiles(folder).state;
    return { lock, alive, state: alive ? readRunState(folder) : null };
  } catch (err) {
    throw new AppError(
      'IO',
      `Cannot read ${file} (the run folder of VM ${vmId}): ${(err as Error).message}. ` +
        `Check that ${folder} belongs to this user.`,
    );
  }
}
