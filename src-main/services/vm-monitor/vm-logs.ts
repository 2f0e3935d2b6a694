// The log viewer's service: lists a VM's logs/ folder and returns the tail of one file.
// Names are plain file names (no paths); files are opened without following symlinks.
import { constants } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { AppError } from '../../../src-shared/errors';
import type { VmLogFile, VmLogsService, VmLogText } from '../../../src-shared/contracts/vm-monitor';
import type { LibraryService } from '../../../src-shared/contracts/library';

export class VmLogs implements VmLogsService {
  constructor(private readonly library: Pick<LibraryService, 'show'>) {}

  private async logsFolder(vmRef: string): Promise<string> {
    return path.join((await this.library.show(vmRef)).folder, 'logs');
  }

  async list(vmRef: string): Promise<VmLogFile[]> {
    const dir = await this.logsFolder(vmRef);
    const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[];
      throw new AppError('IO', `Cannot list ${dir}: ${err.message}`);
    });
    const out: VmLogFile[] = [];
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const st = await stat(path.join(dir, name)).catch(() => null);
      if (st?.isFile()) out.push({ name, sizeBytes: st.size, modifiedAt: st.mtime.toISOString() });
    }
    return out.sort((a, b) => (a.modifiedAt < b.modifiedAt ? 1 : a.modifiedAt > b.modifiedAt ? -1 : 0));
  }

  async read(vmRef: string, name: string, tailBytes: number): Promise<VmLogText> {
    if (name !== path.basename(name) || name.startsWith('.')) {
      throw new AppError('INVALID_ARGUMENT', `${JSON.stringify(name)} is not a log file name.`);
    }
    const dir = await this.logsFolder(vmRef);
    const file = path.join(dir, name);
    let fh;
    try {
      fh = await open(file, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new AppError('NOT_FOUND', `The VM has no log named ${JSON.stringify(name)}.`);
      if (code === 'ELOOP') throw new AppError('INVALID_ARGUMENT', `${name} is a symbolic link; not followed.`);
      throw new AppError('IO', `Cannot read ${file}: ${(err as Error).message}`);
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new AppError('INVALID_ARGUMENT', `${name} is not a regular file.`);
      const start = Math.max(0, st.size - tailBytes);
      const buf = Buffer.alloc(st.size - start);
      if (buf.length > 0) await fh.read(buf, 0, buf.length, start);
      let text = buf.toString('utf8');
      // A tail starts mid-line: drop the cut line so the first line shown is whole.
      if (start > 0) text = text.slice(text.indexOf('\n') + 1);
      return { name, text, sizeBytes: st.size, truncated: start > 0 };
    } finally {
      await fh.close();
    }
  }
}
