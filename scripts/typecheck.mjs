// Type-checks every folder against its own tsconfig (its own lib and types), so the
// folder boundaries hold for types too: src-shared has no node or DOM types, the renderer no node,
// src-node no DOM.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const projects = [
  'src-shared/tsconfig.json',
  'src-node/tsconfig.json',
  'src-emulator/tsconfig.json',
  'src-main/tsconfig.json',
  'src-main/electron/tsconfig.json',
  'src-renderer/tsconfig.json',
  'tests/tsconfig.json',
];
let failed = 0;
for (const p of projects) {
  if (!existsSync(p)) continue;
  const r = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', p, '--pretty'], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.error(`typecheck failed: ${p}`);
  } else {
    console.log(`typecheck ok: ${p}`);
  }
}
process.exit(failed ? 1 : 0);
