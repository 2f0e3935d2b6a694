// The folder boundaries of eslint.config.js, run through ESLint's own Node API on snippets
// placed in each folder: a forbidden static import, dynamic `import('…')` and
// `typeof import('…')` are each reported, and the allowed ones are not.
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ overrideConfigFile: 'eslint.config.js' });

/** The boundary messages ESLint reports for `code` as if it were the file `filePath`, by line. */
async function boundaryReports(filePath: string, code: string): Promise<Map<number, string>> {
  const [result] = await eslint.lintText(code, { filePath });
  const out = new Map<number, string>();
  for (const m of result?.messages ?? []) {
    if (m.fatal) throw new Error(`${filePath}: ${m.message}`);
    if (m.ruleId === 'no-restricted-imports' || m.ruleId === 'no-restricted-syntax') out.set(m.line, m.message);
  }
  return out;
}

describe('lint boundaries', () => {
  it('the renderer: static, dynamic and type imports of main, engine or Node code are all reported', async () => {
    const reports = await boundaryReports(
      'src-renderer/library/probe.ts',
      [
        "import { Library } from '../../src-main/services/library/library-service';", // 1
        "export const engine = import('../../src-emulator/engine-host/engine-host');", // 2
        "export const fs = import('node:fs');", // 3
        "export type Lock = typeof import('../../src-node/run-lock');", // 4
        "export const errors = import('../../src-shared/errors');", // 5: allowed
        "import { formatBytes } from '../../src-shared/format-bytes';", // 6: allowed
        'export { Library, formatBytes };',
      ].join('\n'),
    );
    expect([...reports.keys()].sort()).toEqual([1, 2, 3, 4]);
    expect(reports.get(1)).toMatch(/reaches main only through the control contract/);
    expect(reports.get(2)).toMatch(/reaches engines only over RFB/);
    expect(reports.get(3)).toMatch(/must not use Node built-ins/);
    expect(reports.get(4)).toMatch(/The renderer has no Node/);
  });

  it('src-node: only src-shared and node:*', async () => {
    const reports = await boundaryReports(
      'src-node/probe.ts',
      [
        "import { readFile } from 'node:fs/promises';", // 1: allowed
        "import { AppError } from '../src-shared/errors';", // 2: allowed
        "export const m = import('../src-main/services/maru-home');", // 3
        "import { QemuEngine } from '../src-emulator/engines/qemu/qemu-engine';", // 4
        "import * as z from 'zod';", // 5
        'export { readFile, AppError, QemuEngine, z };',
      ].join('\n'),
    );
    expect([...reports.keys()].sort()).toEqual([3, 4, 5]);
    expect(reports.get(5)).toMatch(/no packages/);
  });

  it('src-shared imports nothing of ours; engine and main-side code may use src-node', async () => {
    const shared = await boundaryReports(
      'src-shared/probe.ts',
      "export const lock = import('../src-node/run-lock');\nexport const z = import('zod');",
    );
    expect([...shared.keys()]).toEqual([1]);
    const emulator = await boundaryReports(
      'src-emulator/engine-host/probe.ts',
      "export const lock = import('../../src-node/run-lock');\nexport const ui = import('../../src-renderer/main');",
    );
    expect([...emulator.keys()]).toEqual([2]);
    const cli = await boundaryReports(
      'src-main/cli/probe.ts',
      "export const lock = import('../../src-node/run-lock');\nexport const e = import('electron');",
    );
    expect([...cli.keys()]).toEqual([2]);
  });
});
