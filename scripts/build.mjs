// Builds Maru: esbuild bundles for the CLI (and later the engine host, Electron main and
// preload); Vite for the renderer. `--node-only` skips the renderer and Electron (what
// `npm run maru` needs), `--quiet` prints only errors.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

const args = new Set(process.argv.slice(2));
const nodeOnly = args.has('--node-only');
const quiet = args.has('--quiet');
const log = (m) => quiet || console.log(m);

// ESM bundles for Node: CJS-only dependencies still get a `require`.
const nodeBanner = {
  js: "import { createRequire as __maruCreateRequire } from 'node:module'; const require = __maruCreateRequire(import.meta.url);",
};

// The CLI is code-split (commands load what they need on demand: `maru list` must start fast).
const nodeTargets = [
  { entry: 'src-main/cli/maru.ts', outdir: 'dist/cli', split: true },
  // Code-split too (the v86 engine loads only for v86 VMs); the entry keeps its name.
  { entry: { 'engine-host': 'src-emulator/engine-host/engine-host.ts' }, outdir: 'dist/engine-host', split: true },
];

// Vite's `import text from './file.svg?raw'` (the renderer's OS icons, assets/os), for the
// esbuild bundles of renderer code: the file's text as a string.
const rawTextImports = {
  name: 'raw-text-imports',
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, (a) => ({
      path: resolve(dirname(a.importer), a.path.slice(0, -'?raw'.length)),
      namespace: 'raw-text',
    }));
    b.onLoad({ filter: /.*/, namespace: 'raw-text' }, (a) => ({
      contents: readFileSync(a.path, 'utf8'),
      loader: 'text',
    }));
  },
};

mkdirSync('dist', { recursive: true });
for (const t of nodeTargets) {
  if (!Object.values(typeof t.entry === 'string' ? { e: t.entry } : t.entry).every((f) => existsSync(f))) continue;
  await build({
    entryPoints: typeof t.entry === 'string' ? [t.entry] : t.entry,
    ...(t.split ? { outdir: t.outdir, splitting: true, chunkNames: 'chunks/[name]-[hash]' } : { outfile: t.out }),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    banner: nodeBanner,
    external: ['electron', 'v86'],
    logLevel: quiet ? 'error' : 'warning',
  });
  log(`built ${t.out ?? t.outdir}`);
}

if (!nodeOnly) {
  if (existsSync('src-main/electron/main.ts')) {
    await build({
      entryPoints: ['src-main/electron/main.ts'],
      outfile: 'dist/electron/main.cjs',
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      external: ['electron', 'v86'],
      // Shared services locate files with import.meta.url; give the CommonJS bundle one.
      define: { 'import.meta.url': '__maruImportMetaUrl' },
      banner: { js: "const __maruImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
      sourcemap: 'linked',
      logLevel: 'warning',
    });
    await build({
      entryPoints: ['src-main/electron/preload.ts'],
      outfile: 'dist/electron/preload.cjs',
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'chrome130',
      external: ['electron'],
      logLevel: 'warning',
    });
    log('built dist/electron');
  }
  if (existsSync('src-renderer/ssr/render-page.tsx')) {
    // The web console's server rendering of a signed-in page (src-main/server/page-renderer.ts).
    await build({
      entryPoints: ['src-renderer/ssr/render-page.tsx'],
      // Split: the lazily loaded views (wizard, dialogs, display) are never rendered here.
      outdir: 'dist/ssr',
      splitting: true,
      chunkNames: 'chunks/[name]-[hash]',
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      jsx: 'automatic',
      plugins: [rawTextImports],
      banner: nodeBanner,
      define: { 'process.env.NODE_ENV': '"production"' },
      sourcemap: 'linked',
      logLevel: quiet ? 'error' : 'warning',
    });
    log('built dist/ssr');
  }
  if (existsSync('src-renderer/index.html')) {
    const r = spawnSync(
      process.execPath,
      ['node_modules/vite/bin/vite.js', 'build', '--logLevel', quiet ? 'error' : 'warn'],
      {
        stdio: 'inherit',
      },
    );
    if (r.status !== 0) process.exit(r.status ?? 1);
    log('built dist/renderer');
  }
}
