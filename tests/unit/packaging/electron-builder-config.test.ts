// electron-builder.yml cannot be exercised by packaging here (no Electron binary), so it is
// validated against electron-builder's own configuration schema, and its targets checked.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

describe('electron-builder.yml', () => {
  const yaml = require('js-yaml') as { load(text: string): unknown };
  const config = yaml.load(readFileSync('electron-builder.yml', 'utf8')) as Record<string, Record<string, unknown>>;

  it("passes electron-builder's schema validation", async () => {
    const { validateConfiguration } = require('app-builder-lib/out/util/config/config.js') as {
      validateConfiguration(c: unknown, logger: { isEnabled: boolean; add(): void }): Promise<void>;
    };
    const logger = { isEnabled: false, add: () => undefined };
    await expect(validateConfiguration(config, logger)).resolves.toBeUndefined();
    // The validator does refuse a broken config (so this test can fail).
    await expect(validateConfiguration({ ...config, linux: { target: 42, bogus: true } }, logger)).rejects.toThrow();
  });

  it('builds AppImage + deb, dmg and nsis, and ships SeaBIOS as extra resources', () => {
    expect(config.linux?.target).toEqual(['AppImage', 'deb']);
    expect(config.mac?.target).toEqual(['dmg']);
    expect(config.win?.target).toEqual(['nsis']);
    const extra = config.extraResources as unknown as { from: string; filter: string[] }[];
    expect(extra[0]?.filter).toContain('bios-256k.bin');
    expect(extra[0]?.filter).toContain('vgabios-stdvga.bin');
  });

  it('switches the run-as-node fuse off', () => {
    expect(config.electronFuses?.runAsNode).toBe(false);
  });
});
