// Small durable files the engine host writes for the launcher and the library: JSON
// written atomically (temp file + rename), and reading them back tolerantly.
import { readFileSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/** Writes `value` as JSON to `file` atomically (a reader sees the old or the new file, never half). */
export async function writeJsonAtomic(file: string, value: unknown, mode = 0o600): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(JSON.stringify(value, null, 2) + '\n');
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Parses a JSON file, or returns null when it is missing or not valid JSON. */
export function readJsonSync<T>(file: string): T | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw err;
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    if (err instanceof SyntaxError) return null;
    throw err;
  }
}
