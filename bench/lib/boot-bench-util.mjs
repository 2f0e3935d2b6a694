// Pieces the boot benchmarks share: the median, running the built `maru` CLI, and waiting
// for a marker to appear in a (serial log) file.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Runs `node dist/cli/maru.js ARGS`; throws with its stderr when it fails. */
export function maru(args, env) {
  const r = spawnSync(process.execPath, ['dist/cli/maru.js', ...args], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`maru ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** Milliseconds from `t0` until `marker` is in `file` (polled every `pollMs`). */
export async function waitForMarker(file, marker, t0, timeoutMs, pollMs = 20) {
  for (;;) {
    if (existsSync(file) && readFileSync(file, 'latin1').includes(marker)) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`${marker} not seen in ${file} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
