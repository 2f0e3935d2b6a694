// What a web console caller may touch (the CallerPolicy the control road applies to every
// host-path and bind-address argument): host paths only inside the ISO folders, the VM library
// and the imported disks (and VM archives), resolved through symlinks, with one answer for "missing"
// and "forbidden"; new files only in the imported disks or backups folder; port forwards on loopback only
// unless the owner started the server with --allow-remote-forwards.
import { mkdir, realpath } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { CallerPolicy, HostPathUse } from '../../src-shared/contracts/access';
import { AppError } from '../../src-shared/errors';
import { isoFolder } from '../services/iso-detect/media-service';
import { backupsFolder, disksFolder, vmsFolder } from '../services/maru-home';

export interface WebCallerPolicyOptions {
  readonly maruHome: string;
  /** More ISO folders (MARU_ISO_FOLDERS where the server runs; absolute paths). */
  readonly isoFolders?: readonly string[];
  /** The owner's setting: port forwards may listen on any address, not only loopback. */
  readonly allowRemoteForwards?: boolean;
}

function inside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

const LOOPBACK = new net.BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** True for 127.0.0.0/8, ::1 (however written, IPv4-mapped too) and `localhost`. */
export function isLoopbackAddress(address: string): boolean {
  const a = address
    .trim()
    .replace(/^\[|\]$/g, '')
    .toLowerCase();
  if (a === 'localhost') return true;
  if (net.isIPv4(a)) return LOOPBACK.check(a, 'ipv4');
  if (net.isIPv6(a)) return LOOPBACK.check(a, 'ipv6');
  return false;
}

export class WebCallerPolicy implements CallerPolicy {
  constructor(private readonly opts: WebCallerPolicyOptions) {}

  /** The folders a web caller's paths may lie in, resolved (those that exist). */
  async roots(): Promise<string[]> {
    const folders = [
      isoFolder(this.opts.maruHome),
      ...(this.opts.isoFolders ?? []),
      vmsFolder(this.opts.maruHome),
      disksFolder(this.opts.maruHome),
      backupsFolder(this.opts.maruHome),
    ];
    const out: string[] = [];
    for (const f of folders) {
      const real = await realpath(f).catch(() => null);
      if (real && !out.includes(real)) out.push(real);
    }
    return out;
  }

  /**
   * The real path (symlinks resolved) of `p` when it lies in an ISO folder or the library.
   * A path that does not exist, cannot be read or lies elsewhere gets one and the same error,
   * so a web user learns nothing about the server's other files.
   */
  async checkHostPath(p: string, use: HostPathUse): Promise<string> {
    if (use === 'output') return this.checkOutputPath(p);
    const refuse = () =>
      new AppError(
        'INVALID_ARGUMENT',
        `${JSON.stringify(p)} is not a ${use === 'folder' ? 'folder' : 'file'} the web console can use: it may ` +
          `only use ${use === 'folder' ? 'folders' : 'files'} in the ISO folders (${this.folderList()}) and the VM ` +
          'library. Upload the ISO, or add its folder to MARU_ISO_FOLDERS where `maru serve` runs.',
      );
    if (typeof p !== 'string' || !path.isAbsolute(p) || p.includes('\0')) throw refuse();
    const real = await realpath(p).catch(() => null);
    if (real === null) throw refuse();
    const roots = await this.roots();
    if (!roots.some((r) => inside(r, real))) throw refuse();
    return real;
  }

  /**
   * A file a call will create (a converted disk, a VM archive): only directly in
   * `$MARU_HOME/disks` or `$MARU_HOME/backups` (made on demand), never elsewhere — not even the
   * library, where a stray file could pose as a VM's. Returns the path with its folder resolved;
   * whether the file already exists is the call's business (it refuses to replace one).
   */
  private async checkOutputPath(p: string): Promise<string> {
    const folders = [disksFolder(this.opts.maruHome), backupsFolder(this.opts.maruHome)];
    const refuse = () =>
      new AppError(
        'INVALID_ARGUMENT',
        `${JSON.stringify(p)} is not a place the web console can write to: it may only create files in ${folders.join(' or ')}.`,
      );
    if (typeof p !== 'string' || !path.isAbsolute(p) || p.includes('\0')) throw refuse();
    const name = path.basename(p);
    if (name === '' || name === '.' || name === '..' || name.startsWith('.')) throw refuse();
    // Made on demand: only the folder the path names.
    const named = folders.find((f) => f === path.resolve(path.dirname(p)));
    if (named) await mkdir(named, { recursive: true, mode: 0o700 }).catch(() => undefined);
    const realParent = await realpath(path.dirname(p)).catch(() => null);
    for (const folder of folders) {
      const realFolder = await realpath(folder).catch(() => null);
      if (realFolder !== null && realParent === realFolder) return path.join(realFolder, name);
    }
    throw refuse();
  }

  checkBindAddress(address: string): void {
    if (this.opts.allowRemoteForwards || isLoopbackAddress(address)) return;
    throw new AppError(
      'INVALID_ARGUMENT',
      `A port forward from the web console may listen on loopback only (127.0.0.1, ::1 or localhost): ` +
        `${JSON.stringify(address)} would open the guest's port to every network this server is on. Use ` +
        '127.0.0.1 (and an SSH tunnel to reach it), or have the server owner start `maru serve --allow-remote-forwards`.',
    );
  }

  /** The ISO folders as configured (not resolved: the message must not depend on what exists). */
  private folderList(): string {
    return [isoFolder(this.opts.maruHome), ...(this.opts.isoFolders ?? [])].join(', ');
  }
}
