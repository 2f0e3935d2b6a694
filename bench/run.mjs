// Benchmark runner: `npm run bench` runs every bench/*.bench.mjs, `npm run bench -- NAME`
// one. Each benchmark returns rows; the runner prints a Markdown table and writes
// bench/results/NAME.json with the figures, the baseline from the same run, and the ratio.
import { readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import os from 'node:os';

const here = path.dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const all = readdirSync(here)
  .filter((f) => f.endsWith('.bench.mjs'))
  .map((f) => f.replace(/\.bench\.mjs$/, ''))
  .sort();
const names = wanted.length ? wanted : all;
for (const n of names) {
  if (!all.includes(n)) {
    console.error(`bench: no benchmark "${n}" (have: ${all.join(', ')})`);
    process.exit(2);
  }
}

mkdirSync(path.join(here, 'results'), { recursive: true });
let failed = 0;
for (const name of names) {
  const mod = await import(pathToFileURL(path.join(here, `${name}.bench.mjs`)).href);
  console.log(`\n## ${name}: ${mod.description}\n`);
  const started = Date.now();
  const result = await mod.run();
  const rows = result.rows;
  const cols = ['metric', 'maru', 'baseline', 'ratio', 'unit', 'goal', 'met'];
  console.log(`| ${cols.join(' | ')} |`);
  console.log(`|${cols.map(() => '---').join('|')}|`);
  for (const r of rows) {
    const ratio = r.baseline ? r.value / r.baseline : null;
    r.ratio = ratio === null ? null : Number(ratio.toFixed(3));
    r.met = r.goal ? r.goal(r) : null;
    console.log(
      `| ${r.metric} | ${r.value} | ${r.baseline ?? '—'} | ${r.ratio ?? '—'} | ${r.unit} | ${r.goalText ?? '—'} | ${
        r.met === null ? '—' : r.met ? 'yes' : 'NO'
      } |`,
    );
    if (r.met === false) failed++;
  }
  if (result.notes) console.log(`\n${result.notes}`);
  const out = {
    name,
    description: mod.description,
    date: new Date().toISOString(),
    host: {
      platform: process.platform,
      arch: process.arch,
      cpus: os.cpus().length,
      cpu: os.cpus()[0]?.model,
      node: process.version,
    },
    durationMs: Date.now() - started,
    baseline: mod.baselineDescription,
    rows: rows.map(({ goal: _goal, ...r }) => r),
    notes: result.notes ?? null,
  };
  writeFileSync(path.join(here, 'results', `${name}.json`), JSON.stringify(out, null, 2) + '\n');
  console.log(`\nwrote bench/results/${name}.json`);
}
process.exitCode = failed ? 1 : 0;
