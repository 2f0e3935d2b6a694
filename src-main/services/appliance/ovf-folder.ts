// A loose OVF appliance — NAME.ovf with its disk files (and NAME.mf, optional) beside it, as
// VMware's "Export OVF Template" and VirtualBox's "Write OVF" leave them — as an appliance
// source: every file it names is confined to the descriptor's folder and is only ever read.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../../../src-shared/errors';
import type { ApplianceFile, ApplianceSource } from './appliance-reader';
import { hrefProblem } from './ovf';

function inside(folder: string, p: string): boolean {
  const rel = path.relative(folder, p);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

/**
 * The descriptor at `ovfPath` and the files beside it. Symbolic links are resolved first: the
 * descriptor's folder is its real folder, and a file whose real path lies elsewhere is refused.
 */
export async function openOvfFolder(ovfPath: string): Promise<ApplianceSource> {
  const given = path.resolve(ovfPath);
  const real = await realpath(given).catch((err: unknown) => {
    throw new AppError(
      errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR' ? 'NOT_FOUND' : 'IO',
      `${given} cannot be read (${errno(err) ?? String(err)}): check the path of the .ovf descriptor.`,
    );
  });
  if (!(await stat(real)).isFile()) {
    throw new AppError('INVALID_ARGUMENT', `${given} is not a file: name the appliance's .ovf descriptor.`);
  }
  const folder = path.dirname(real);
  /** Real paths of the files handed out, by name. */
  const realOf = new Map<string, string>();

  const find = async (name: string): Promise<ApplianceFile | null | { readonly refused: string }> => {
    const why = hrefProblem(name);
    if (why) return { refused: why };
    let target: string;
    try {
      target = await realpath(path.join(folder, name));
    } catch (err) {
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return null;
      throw new AppError('IO', `${path.join(folder, name)} cannot be read (${errno(err) ?? String(err)}).`);
    }
    if (!inside(folder, target)) {
      return {
        refused: `File ${name} is a link that leads outside ${folder}; an appliance's files must lie beside its descriptor.`,
      };
    }
    const s = await stat(target);
    if (!s.isFile()) return { refused: `File ${name} in ${folder} is not a regular file.` };
    realOf.set(name, target);
    return { name, size: s.size };
  };
  const fileOf = (f: ApplianceFile): string => {
    const p = realOf.get(f.name);
    if (!p) throw new AppError('INTERNAL', `${f.name} was not found beside ${real} first.`);
    return p;
  };

  const descriptorName = path.basename(real);
  realOf.set(descriptorName, real);
  const descriptor: ApplianceFile = { name: descriptorName, size: (await stat(real)).size };
  // NAME.ovf's manifest is NAME.mf beside it (VirtualBox and ovftool write that name).
  const base = descriptorName.replace(/\.ovf$/i, '');
  let manifest: ApplianceFile | null = null;
  for (const name of [`${base}.mf`, `${base}.MF`]) {
    const found = await find(name);
    if (found === null) continue;
    if ('refused' in found) throw new AppError('INVALID_ARGUMENT', `The appliance's manifest: ${found.refused}`);
    manifest = found;
    break;
  }

  return {
    path: real,
    place: `in ${folder}`,
    descriptor,
    manifest,
    manifestRequired: false,
    allFiles: null,
    find,
    async read(f, position, length) {
      const fh = await open(fileOf(f), 'r');
      try {
        const buf = Buffer.alloc(length);
        const { bytesRead } = await fh.read(buf, 0, length, position);
        if (bytesRead !== length) {
          throw new AppError(
            'IO',
            `${f.name} in ${folder} ended before byte ${position + length}: it changed while being read.`,
          );
        }
        return buf;
      } finally {
        await fh.close();
      }
    },
    async digest(f, algorithm) {
      const hash = createHash(algorithm);
      await pipeline(createReadStream(fileOf(f)), hash);
      return hash.digest('hex');
    },
    qemuSource(f) {
      return `json:${JSON.stringify({ driver: 'vmdk', file: { driver: 'file', filename: fileOf(f) } })}`;
    },
  };
}
