// Gives benchmarks the real Library service: bundles src-main/services/library with esbuild
// into a temp module and imports it (benchmarks are plain .mjs, the service is TypeScript).
import { build } from 'esbuild';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export async function Library(maruHome) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'maru-bench-lib-'));
  const out = path.join(dir, 'library.mjs');
  try {
    await build({
      entryPoints: ['src-main/services/library/library-service.ts'],
      outfile: out,
      bundle: true,
      platform: 'node',
      format: 'esm',
      logLevel: 'error',
    });
    const mod = await import(pathToFileURL(out).href);
    return new mod.Library({ maruHome });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
