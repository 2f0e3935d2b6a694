#!/usr/bin/env node
// `maru` entry for `npm link` / installs: runs the bundled CLI (build it with `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../dist/cli/maru.js', import.meta.url));
if (!existsSync(cli)) {
  console.error('maru: the CLI is not built yet. Run `npm run build` in the Maru folder first.');
  process.exit(2);
}
await import(cli);
