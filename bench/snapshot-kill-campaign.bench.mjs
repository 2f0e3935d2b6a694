// The snapshot kill -9 campaign with more rounds than the test suite runs (default 40 per
// operation; MARU_KILL_CAMPAIGN_ROUNDS overrides): tests/integration/snapshots/kill-campaign.test.ts
// through vitest, its counts read from its output.
import { spawnSync } from 'node:child_process';

export const description =
  'kill -9 of QEMU / the engine host during snapshot take, restore, delete; of the CLI during linked clones';
export const baselineDescription = 'none: every round must end with the tree and the images in agreement';

export async function run() {
  const rounds = Number(process.env.MARU_KILL_CAMPAIGN_ROUNDS ?? 40);
  const seed = Number(process.env.MARU_KILL_CAMPAIGN_SEED ?? Date.now() % 1e9);
  const r = spawnSync('npx', ['vitest', 'run', 'tests/integration/snapshots/kill-campaign.test.ts'], {
    env: { ...process.env, MARU_KILL_CAMPAIGN_ROUNDS: String(rounds), MARU_KILL_CAMPAIGN_SEED: String(seed) },
    encoding: 'utf8',
  });
  const out = r.stdout + r.stderr;
  const plain = out.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g'), '');
  const passed = /Tests\s+2 passed/.test(plain);
  const counts = /kill campaign \(seed[\s\S]*?\n\}/.exec(out)?.[0] ?? '';
  const cut = Number(/linked clone kill campaign: \d+ rounds, (\d+) cut short/.exec(out)?.[1] ?? NaN);
  console.log(counts);
  return {
    rows: [
      { metric: `rounds per operation (seed ${seed})`, value: rounds, baseline: null, unit: 'rounds' },
      { metric: 'linked clones cut short by the kill', value: cut, baseline: null, unit: 'rounds' },
      {
        metric: 'every round consistent, every snapshot left restores',
        value: passed ? 1 : 0,
        baseline: null,
        unit: 'yes=1',
        goalText: '1',
        goal: (x) => x.value === 1,
      },
    ],
    details: { output: out.slice(-4000) },
  };
}
