// Log rotation at each VM start: `name` → `name.1` → … → `name.N` (the oldest dropped), so
// each run has fresh logs and the last few are kept. Used by the engine host and the launcher.
import { rename } from 'node:fs/promises';
import path from 'node:path';

/** Generations kept by default besides the current log. */
export const LOG_GENERATIONS = 3;

/** Moves `name` to `name.1` (… up to `generations`) in `folder`, for each of `names`. Missing files are skipped. */
export async function rotateLogs(
  folder: string,
  names: readonly string[],
  generations = LOG_GENERATIONS,
): Promise<void> {
  for (const name of names) {
    const base = path.join(folder, name);
    for (let i = generations - 1; i >= 0; i--) {
      const from = i === 0 ? base : `${base}.${i}`;
      try {
        await rename(from, `${base}.${i + 1}`);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  }
}
