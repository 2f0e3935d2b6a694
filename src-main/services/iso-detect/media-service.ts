// The media control service: ISO detection and the server-side ISO picker, confined to the
// folders the operator allowed ($MARU_HOME/isos, where web uploads land, plus MARU_ISO_FOLDERS).
import { mkdir, readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { AppError } from '../../../src-shared/errors';
import type { IsoDetection, IsoFolderEntry, IsoFolderListing, MediaService } from '../../../src-shared/contracts/media';
import { detectIso } from './detect-iso';

/** `$MARU_HOME/isos`: where the web console's uploads go. */
export function isoFolder(maruHome: string): string {
  return path.join(maruHome, 'isos');
}

export interface MediaServiceOptions {
  readonly maruHome: string;
  /** More folders to pick ISOs from (absolute paths; `MARU_ISO_FOLDERS`, split on the path delimiter). */
  readonly extraFolders?: readonly string[];
  /**
   * Only detect ISOs inside the allowed folders (the web console: a remote user must not probe
   * arbitrary server paths). The desktop passes false: the user dropped a file of their own.
   */
  readonly confineDetection: boolean;
}

/** Extra ISO folders from the environment (absolute paths only; others are ignored). */
export function isoFoldersFromEnv(env: NodeJS.ProcessEnv): string[] {
  return (env.MARU_ISO_FOLDERS ?? '')
    .split(path.delimiter)
    .map((p) => p.trim())
    .filter((p) => p.length > 0 && path.isAbsolute(p));
}

function inside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

export class Media implements Pick<MediaService, 'detectIso' | 'listIsoFolder'> {
  constructor(private readonly opts: MediaServiceOptions) {}

  /** The allowed folders that exist, resolved (symlinks followed). `$MARU_HOME/isos` is created. */
  async roots(): Promise<string[]> {
    await mkdir(isoFolder(this.opts.maruHome), { recursive: true });
    const out: string[] = [];
    for (const f of [isoFolder(this.opts.maruHome), ...(this.opts.extraFolders ?? [])]) {
      const real = await realpath(f).catch(() => null);
      if (real && !out.includes(real)) out.push(real);
    }
    return out;
  }

  /** Resolves `p` and checks it lies in an allowed folder; FORBIDDEN-like INVALID_ARGUMENT otherwise. */
  private async confine(p: string): Promise<string> {
    if (!path.isAbsolute(p)) throw new AppError('INVALID_ARGUMENT', `${p} is not an absolute path.`);
    const real = await realpath(p).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') {
        throw new AppError('NOT_FOUND', `${p} does not exist.`, { path: p });
      }
      throw new AppError('IO', `Cannot read ${p}: ${err.message}`, { path: p });
    });
    const roots = await this.roots();
    if (!roots.some((r) => inside(r, real))) {
      throw new AppError(
        'INVALID_ARGUMENT',
        `${p} is outside the folders the web console may read (${roots.join(', ')}). ` +
          'Upload the ISO, or add its folder to MARU_ISO_FOLDERS where `maru serve` runs.',
        { path: p },
      );
    }
    return real;
  }

  async detectIso(p: string): Promise<IsoDetection> {
    const file = this.opts.confineDetection ? await this.confine(p) : path.resolve(p);
    const d = await detectIso(file);
    return { ...d, path: file };
  }

  async listIsoFolder(folder: string | null): Promise<IsoFolderListing> {
    const roots = await this.roots();
    if (folder === null) {
      return {
        roots,
        folder: null,
        parent: null,
        entries: roots.map((r) => ({ name: r, path: r, kind: 'folder' as const, sizeBytes: null })),
      };
    }
    const dir = await this.confine(folder);
    const dirents = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOTDIR') throw new AppError('INVALID_ARGUMENT', `${folder} is not a folder.`);
      throw new AppError('IO', `Cannot list ${folder}: ${err.message}`);
    });
    const entries: IsoFolderEntry[] = [];
    for (const d of dirents) {
      if (d.name.startsWith('.')) continue; // hidden files and partial uploads
      const full = path.join(dir, d.name);
      // Follow symlinks, but only to places still inside an allowed folder.
      const real = await realpath(full).catch(() => null);
      if (!real || !roots.some((r) => inside(r, real))) continue;
      const st = await stat(real).catch(() => null);
      if (!st) continue;
      if (st.isDirectory()) entries.push({ name: d.name, path: full, kind: 'folder', sizeBytes: null });
      else if (st.isFile() && /\.iso$/i.test(d.name)) {
        entries.push({ name: d.name, path: full, kind: 'iso', sizeBytes: st.size });
      }
    }
    entries.sort((a, b) => (a.kind !== b.kind ? (a.kind === 'folder' ? -1 : 1) : a.name.localeCompare(b.name)));
    const parentDir = path.dirname(dir);
    const parent = roots.some((r) => r !== dir && inside(r, parentDir)) ? parentDir : null;
    return { roots, folder: dir, parent, entries };
  }
}
