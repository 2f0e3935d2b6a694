// ISO 9660 recognition on the real test media (when built) and on synthetic files: the
// "CD001" descriptor, truncation against the volume size, missing files; never written.
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectIso } from '../../../src-emulator/media/iso-image';

const fixtures = path.resolve('tests/fixtures/build');
const haveMedia = existsSync(path.join(fixtures, 'maru-test-bios-uefi.iso'));

function pvd(blocks: number): Buffer {
  const f = Buffer.alloc(16 * 2048 + 2048);
  const d = f.subarray(16 * 2048);
  d[0] = 1;
  d.write('CD001', 1, 'latin1');
  d[6] = 1;
  d.write('MY_VOLUME'.padEnd(32, ' '), 40, 'latin1');
  d.writeUInt32LE(blocks, 80);
  d.writeUInt32BE(blocks, 84);
  d.writeUInt16LE(2048, 128);
  d.writeUInt16BE(2048, 130);
  return f;
}

describe('inspectIso', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'maru-iso-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('accepts a minimal ISO 9660 image and reads its volume id and size', async () => {
    const f = path.join(dir, 'ok.iso');
    await writeFile(f, pvd(17));
    expect(await inspectIso(f)).toEqual({
      path: f,
      sizeBytes: 17 * 2048,
      volumeBytes: 17 * 2048,
      volumeId: 'MY_VOLUME',
    });
  });

  it('refuses a file without the descriptor, a short one, a truncated one, a folder, a missing one', async () => {
    const junk = path.join(dir, 'junk.bin');
    await writeFile(junk, Buffer.alloc(64 * 1024, 0x41));
    await expect(inspectIso(junk)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/not a CD\/DVD image/),
    });
    const tiny = path.join(dir, 'tiny.iso');
    await writeFile(tiny, 'hello');
    await expect(inspectIso(tiny)).rejects.toThrow(/only 5 bytes/);
    const cut = path.join(dir, 'cut.iso');
    await writeFile(cut, pvd(1000));
    await expect(inspectIso(cut)).rejects.toThrow(
      /truncated: its ISO 9660 volume is 2048000 bytes but the file has only 34816/,
    );
    await expect(inspectIso(dir)).rejects.toThrow(/not a regular file/);
    await expect(inspectIso(path.join(dir, 'nope.iso'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it.skipIf(!haveMedia)(
    'recognises the built test media and refuses the bad inputs, leaving them untouched',
    async () => {
      const iso = path.join(fixtures, 'maru-test-bios-uefi.iso');
      expect((await inspectIso(iso)).volumeId).toBe('MARU_TEST');
      for (const bad of ['not-an-iso.bin', 'truncated.iso']) {
        const f = path.join(fixtures, bad);
        const before = statSync(f);
        await expect(inspectIso(f)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
        const after = statSync(f);
        expect([after.size, after.mtimeMs]).toEqual([before.size, before.mtimeMs]);
      }
    },
  );
});
