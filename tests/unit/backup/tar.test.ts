// Maru's tar headers against the system's tar (GNU tar): what Maru writes — long and non-ASCII
// names (pax), folders, modes — lists and extracts with `tar`; what `tar --format=posix` writes
// parses back; sizes of 8 GiB and more ride in a pax record; unsafe names are told apart.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  TAR_BLOCK,
  TAR_END,
  TarFormatError,
  parsePaxRecords,
  parseTarHeader,
  tarHeader,
  tarPadding,
  unsafeEntryPath,
  type TarEntry,
} from '../../../src-main/services/backup/tar';

const haveTar = spawnSync('tar', ['--version']).status === 0;
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'maru-tar-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function archiveOf(entries: { entry: TarEntry; body?: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  for (const { entry, body } of entries) {
    parts.push(tarHeader(entry));
    if (body) parts.push(body, Buffer.alloc(tarPadding(body.length)));
  }
  parts.push(TAR_END);
  return Buffer.concat(parts);
}

/** Every header in an archive, pax records applied (bodies skipped). */
function readAll(buf: Buffer): { path: string; type: string; size: number }[] {
  const out: { path: string; type: string; size: number }[] = [];
  let at = 0;
  let pax: Record<string, string> = {};
  for (;;) {
    const h = parseTarHeader(buf.subarray(at, at + TAR_BLOCK));
    at += TAR_BLOCK;
    if (h === null) return out;
    if (h.typeflag === 'x') {
      pax = parsePaxRecords(buf.subarray(at, at + h.size));
    } else {
      const size = pax['size'] !== undefined ? Number(pax['size']) : h.size;
      out.push({ path: (pax['path'] ?? h.path).replace(/\/$/, ''), type: h.typeflag, size });
      pax = {};
      at += size + tarPadding(size);
      continue;
    }
    at += h.size + tarPadding(h.size);
  }
}

describe.skipIf(!haveTar)('tar headers against GNU tar', () => {
  const long = `snapshots/${'a'.repeat(60)}/${'b'.repeat(80)}/${'c'.repeat(120)}.png`;
  const korean = 'snapshots/스냅샷 화면.png';

  it('what Maru writes lists and extracts with tar, names, folders, bodies and modes intact', () => {
    const body = Buffer.from('hello tar\n');
    const file = path.join(dir, 'maru.tar');
    writeFileSync(
      file,
      archiveOf([
        { entry: { path: 'manifest.json', type: 'file', size: body.length, mode: 0o644, mtime: 1_700_000_000 }, body },
        { entry: { path: 'snapshots', type: 'folder', size: 0, mode: 0o700, mtime: 1_700_000_000 } },
        { entry: { path: long, type: 'file', size: 1, mode: 0o600, mtime: 1_700_000_000 }, body: Buffer.from('L') },
        { entry: { path: korean, type: 'file', size: 2, mode: 0o600, mtime: 1_700_000_000 }, body: Buffer.from('KO') },
      ]),
    );
    const list = spawnSync('tar', ['-tf', file], { encoding: 'utf8' });
    expect(list.status, list.stderr).toBe(0);
    expect(list.stdout.split('\n').filter(Boolean)).toEqual(['manifest.json', 'snapshots/', long, korean]);
    const out = path.join(dir, 'x');
    mkdirSync(out);
    expect(spawnSync('tar', ['-xf', file, '-C', out]).status).toBe(0);
    expect(readFileSync(path.join(out, 'manifest.json'), 'utf8')).toBe('hello tar\n');
    expect(readFileSync(path.join(out, long), 'utf8')).toBe('L');
    expect(readFileSync(path.join(out, korean), 'utf8')).toBe('KO');
    const verbose = spawnSync('tar', ['-tvf', file], { encoding: 'utf8' }).stdout;
    expect(verbose).toMatch(/^-rw------- .* snapshots\/스냅샷 화면\.png$/m);
  });

  it('reads what `tar --format=posix` writes, long names included', () => {
    const src = path.join(dir, 'src');
    mkdirSync(path.join(src, path.dirname(long)), { recursive: true });
    writeFileSync(path.join(src, long), 'x'.repeat(1000));
    writeFileSync(path.join(src, 'vm.json'), '{}');
    const file = path.join(dir, 'gnu.tar');
    const r = spawnSync('tar', ['-cf', file, '-C', src, '--format=posix', 'vm.json', long]);
    expect(r.status).toBe(0);
    const entries = readAll(readFileSync(file));
    expect(entries).toEqual([
      { path: 'vm.json', type: '0', size: 2 },
      { path: long, type: '0', size: 1000 },
    ]);
  });

  it('a size of 8 GiB or more goes to a pax record that tar reads', () => {
    const size = 9 * 2 ** 30 + 5;
    const header = tarHeader({ path: 'disks/big.qcow2', type: 'file', size, mode: 0o600, mtime: 0 });
    const pax = parseTarHeader(header.subarray(0, TAR_BLOCK))!;
    expect(pax.typeflag).toBe('x');
    expect(parsePaxRecords(header.subarray(TAR_BLOCK, TAR_BLOCK + pax.size))).toEqual({ size: String(size) });
    const ustar = parseTarHeader(header.subarray(header.length - TAR_BLOCK))!;
    expect(ustar).toMatchObject({ path: 'disks/big.qcow2', typeflag: '0' });
    // GNU tar agrees on the size (it lists the header before finding the body missing).
    const file = path.join(dir, 'big.tar');
    writeFileSync(file, header);
    const listed = spawnSync('tar', ['-tvf', file], { encoding: 'utf8' });
    expect(listed.stdout).toContain(String(size));
  });

  it('a flipped header byte fails its checksum; a zero block is the end', () => {
    const h = tarHeader({ path: 'vm.json', type: 'file', size: 10, mode: 0o644, mtime: 0 });
    h[3] = h[3]! ^ 1;
    expect(() => parseTarHeader(h)).toThrow(TarFormatError);
    expect(parseTarHeader(Buffer.alloc(TAR_BLOCK))).toBeNull();
  });

  it('unsafe names are named as such', () => {
    for (const p of ['/etc/passwd', '../x', 'a/../../x', 'a//b', 'a\\b', '', 'C:/x', 'a/./b', 'x\u0001']) {
      expect(unsafeEntryPath(p), p).not.toBeNull();
    }
    for (const p of ['vm.json', 'disks/disk0.qcow2', korean, long]) expect(unsafeEntryPath(p), p).toBeNull();
  });
});
