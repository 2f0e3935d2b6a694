// Floppy images: an empty one Maru formats itself must read as a clean FAT12 file system to
// the real tools (mtools' mdir/mcopy, dosfstools' fsck.fat, when installed), and only files of
// a real floppy size pass as floppies.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createFloppyImage, formatFloppy, inspectFloppy } from '../../../src-emulator/media/floppy-image';
import { CREATABLE_FLOPPY_SIZES } from '../../../src-shared/storage-layout';

const dir = mkdtempSync(path.join(os.tmpdir(), 'maru-floppy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tool(name: string): string | null {
  for (const d of ['/usr/bin', '/usr/sbin', '/sbin', '/bin']) {
    try {
      statSync(path.join(d, name));
      return path.join(d, name);
    } catch {
      // not there
    }
  }
  return null;
}
const mdir = tool('mdir');
const mcopy = tool('mcopy');
const fsck = tool('fsck.fat');

describe('createFloppyImage', () => {
  it.each(CREATABLE_FLOPPY_SIZES)(
    'writes a %s FAT12 floppy that mtools and fsck.fat read as empty and clean',
    async (size) => {
      const file = path.join(dir, `empty-${size}.img`);
      const made = await createFloppyImage(file, size);
      expect(made.path).toBe(file);
      expect(statSync(file).size).toBe({ '720K': 737_280, '1.44M': 1_474_560, '2.88M': 2_949_120 }[size]);
      const bytes = readFileSync(file);
      expect([bytes[510], bytes[511]]).toEqual([0x55, 0xaa]);
      expect(bytes.toString('latin1', 54, 62)).toBe('FAT12   ');
      if (fsck) {
        const r = spawnSync(fsck, ['-n', file], { encoding: 'utf8' });
        expect(r.status, r.stdout + r.stderr).toBe(0);
      }
      if (mdir && mcopy) {
        const env = { ...process.env, MTOOLS_SKIP_CHECK: '1' };
        const listed = spawnSync(mdir, ['-i', file, '::/'], { encoding: 'utf8', env });
        expect(listed.status, listed.stderr).toBe(0);
        expect(listed.stdout).toMatch(/No files/);
        // A file copied in comes back out byte for byte: the FAT and the root directory work.
        const src = path.join(dir, `hello-${size}.txt`);
        writeFileSync(src, 'hello from maru\r\n'.repeat(100));
        expect(spawnSync(mcopy, ['-i', file, src, '::/HELLO.TXT'], { env }).status).toBe(0);
        const back = spawnSync(mcopy, ['-i', file, '::/HELLO.TXT', '-'], { env });
        expect(back.stdout.toString()).toBe(readFileSync(src, 'utf8'));
        if (fsck) expect(spawnSync(fsck, ['-n', file]).status).toBe(0);
      }
    },
  );

  it('never replaces an existing file, and refuses a size it does not make', async () => {
    const file = path.join(dir, 'taken.img');
    writeFileSync(file, 'precious');
    await expect(createFloppyImage(file, '1.44M')).rejects.toThrow(/already exists/);
    expect(readFileSync(file, 'utf8')).toBe('precious');
    await expect(createFloppyImage(path.join(dir, 'odd.img'), '1.7M' as never)).rejects.toThrow(/1\.44M, 720K, 2\.88M/);
    expect(() => statSync(path.join(dir, 'odd.img'))).toThrow();
  });

  it('boot sector geometry matches the format (BPB)', () => {
    const b = Buffer.from(formatFloppy('720K', { volumeId: 0x12345678, label: 'maru' }));
    expect(b.readUInt16LE(11)).toBe(512);
    expect(b.readUInt16LE(19)).toBe(1440);
    expect(b[21]).toBe(0xf9);
    expect(b.readUInt16LE(24)).toBe(9);
    expect(b.readUInt16LE(26)).toBe(2);
    expect(b.readUInt32LE(39)).toBe(0x12345678);
    expect(b.toString('latin1', 43, 54)).toBe('MARU       ');
    // Both FATs start with the media descriptor and an end-of-chain entry.
    expect([...b.subarray(512, 515)]).toEqual([0xf9, 0xff, 0xff]);
    expect([...b.subarray(512 * 4, 512 * 4 + 3)]).toEqual([0xf9, 0xff, 0xff]);
  });
});

describe('inspectFloppy', () => {
  it('accepts a standard size and refuses others with the sizes it takes', async () => {
    const ok = path.join(dir, 'ok.img');
    writeFileSync(ok, Buffer.alloc(1_474_560));
    expect((await inspectFloppy(ok)).format.name).toBe('1.44M');
    const bad = path.join(dir, 'bad.img');
    writeFileSync(bad, Buffer.alloc(1_000_000));
    await expect(inspectFloppy(bad)).rejects.toThrow(/is not a floppy image: it is 1000000 bytes.*1474560/);
    await expect(inspectFloppy(path.join(dir, 'missing.img'))).rejects.toThrow(/does not exist/);
    await expect(inspectFloppy(dir)).rejects.toThrow(/not a regular file/);
  });
});
