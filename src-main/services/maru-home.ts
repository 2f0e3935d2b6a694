// Where Maru keeps its data ($MARU_HOME): resolving the per-user data folder on each OS,
// and the paths of the folders inside it (docs/ARCHITECTURE.md §4); a running VM's files are
// named by src-node/run-folder.ts.
import os from 'node:os';
import path from 'node:path';

/** Inputs of `resolveMaruHome`; each defaults to this process's, so tests can try every platform anywhere. */
export interface MaruHomeEnvironment {
  readonly env?: NodeJS.ProcessEnv;
  readonly platform?: NodeJS.Platform;
  readonly homedir?: string;
}

/**
 * The data folder: `MARU_HOME` when set, else the OS's per-user data folder —
 * Linux/BSD `$XDG_DATA_HOME/maru` (when absolute, per the XDG spec) or `~/.local/share/maru`,
 * macOS `~/Library/Application Support/Maru`, Windows `%APPDATA%\Maru`.
 */
export function resolveMaruHome(environment: MaruHomeEnvironment = {}): string {
  const env = environment.env ?? process.env;
  const platform = environment.platform ?? process.platform;
  const homedir = environment.homedir ?? os.homedir();
  const p = platform === 'win32' ? path.win32 : path.posix;
  const override = env.MARU_HOME;
  if (override) return p.resolve(override);
  if (platform === 'win32') {
    const appData = env.APPDATA && p.isAbsolute(env.APPDATA) ? env.APPDATA : p.join(homedir, 'AppData', 'Roaming');
    return p.join(appData, 'Maru');
  }
  if (platform === 'darwin') return p.join(homedir, 'Library', 'Application Support', 'Maru');
  const xdg = env.XDG_DATA_HOME;
  // XDG Base Directory spec: a relative path in $XDG_DATA_HOME is invalid and ignored.
  const dataHome = xdg && p.isAbsolute(xdg) ? xdg : p.join(homedir, '.local', 'share');
  return p.join(dataHome, 'maru');
}

/** `<home>/vms`: one folder per VM, named by its uuid. */
export function vmsFolder(home: string): string {
  return path.join(home, 'vms');
}

/** `<home>/vms/<uuid>`: vm.json, disks/, logs/, nvram.qcow2, tpm/, snapshots.json. */
export function vmFolder(home: string, id: string): string {
  return path.join(home, 'vms', id);
}

/** `<home>/orphaned-disks`: disks of VMs deleted without their disks. */
export function orphanedDisksFolder(home: string): string {
  return path.join(home, 'orphaned-disks');
}

/** `<home>/disks`: disk images imported into Maru and not yet part of a VM. */
export function disksFolder(home: string): string {
  return path.join(home, 'disks');
}

/** `<home>/backups`: VM archives the web console exports (and may import). */
export function backupsFolder(home: string): string {
  return path.join(home, 'backups');
}
