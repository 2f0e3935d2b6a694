// The desktop app's entry point: package.json "main" must be the CommonJS bundle
// scripts/build.mjs writes for src-main/electron/main.ts (it once named a file the build never
// wrote, so the packaged app could not start), with its preload and renderer beside it, and
// the packaged binary's fuses complete. Run after `node scripts/build.mjs` (as `npm test` does).
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { main?: string };

describe('the desktop entry point', () => {
  it('is the bundle the build writes for src-main/electron/main.ts', () => {
    const script = readFileSync('scripts/build.mjs', 'utf8');
    const m = /entryPoints: \['src-main\/electron\/main\.ts'\],\s*outfile: '([^']+)'/.exec(script);
    expect(m, 'scripts/build.mjs bundles src-main/electron/main.ts to an outfile').not.toBeNull();
    expect(pkg.main).toBe(m![1]);
  });

  it('exists after the build, with the preload and the renderer main loads', () => {
    const main = path.resolve(pkg.main ?? '');
    expect(existsSync(main), `${pkg.main} is missing: run "node scripts/build.mjs" first`).toBe(true);
    // main.ts loads `preload.cjs` beside itself and serves `../renderer`.
    expect(existsSync(path.join(path.dirname(main), 'preload.cjs'))).toBe(true);
    expect(existsSync(path.join(path.dirname(main), '..', 'renderer', 'index.html'))).toBe(true);
  });

  it('is packaged, and the binary runs only the integrity-checked app', () => {
    const yaml = require('js-yaml') as { load(text: string): unknown };
    const config = yaml.load(readFileSync('electron-builder.yml', 'utf8')) as {
      files: string[];
      electronFuses: Record<string, boolean>;
    };
    expect(config.files).toContain('dist/**');
    expect(config.files).not.toContain(`!${pkg.main}`);
    expect(config.electronFuses).toEqual({
      runAsNode: false,
      enableCookieEncryption: true,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
    });
  });
});
