// Engine host processes for plain Node front ends: where the engine host script is, and
// starting one early (before the launch file exists) so its Node start-up overlaps the
// runtime's checks (the detached spawner in vm-runtime.ts hands it the launch). Kept free of
// heavy imports: the CLI calls it before it loads anything else.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppError } from '../../../src-shared/errors';

/** The engine host script: next to this bundle (dist/cli → dist/engine-host), else dist/ above the sources. */
export function defaultEngineHostPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env['MARU_ENGINE_HOST']) return path.resolve(env['MARU_ENGINE_HOST']);
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const sibling of [path.join(here, '..', 'engine-host'), path.join(here, '..', '..', 'engine-host')]) {
    const candidate = path.join(sibling, 'engine-host.js');
    if (existsSync(candidate)) return candidate;
  }
  for (let dir = here; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'dist', 'engine-host', 'engine-host.js');
    if (existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) break;
  }
  throw new AppError(
    'MISSING_DEPENDENCY',
    'The engine host (dist/engine-host/engine-host.js) is not built. Run "node scripts/build.mjs --node-only".',
  );
}

/** An engine host started with `--await-launch`: it loads its code, then waits for a launch message. */
export interface PrewarmedEngineHost {
  readonly child: ChildProcess;
  readonly scriptPath: string;
}

/**
 * Starts a detached engine host that waits (over its IPC channel) for the launch file to run.
 * It exits by itself when the channel closes without one, so a launcher that fails its checks
 * only has to let it go. Returns null when the script cannot be found or started.
 */
export function prewarmEngineHost(env: NodeJS.ProcessEnv = process.env): PrewarmedEngineHost | null {
  try {
    const scriptPath = defaultEngineHostPath(env);
    const child = spawn(process.execPath, [scriptPath, '--await-launch'], {
      detached: true,
      // No log file is known yet: the engine host opens the VM's log itself when the launch arrives.
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
      env,
      windowsHide: true,
    });
    child.on('error', () => undefined); // a failed spawn shows as "not connected": the spawner starts afresh
    return { child, scriptPath };
  } catch {
    return null;
  }
}

/** Lets a prewarmed engine host go unused (it exits once its channel closes). */
export function releasePrewarmed(host: PrewarmedEngineHost | null | undefined): void {
  if (!host) return;
  if (host.child.connected) host.child.disconnect();
  host.child.unref();
}
