// Builds test ISOs with the real mastering tools (xorriso; genisoimage for UDF) from trees
// written here: Windows-like, XP-like, FreeDOS-like, plain data. Plus a WIM header stub.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export function hasTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).status === 0;
}

/** Writes `files` (path → content) under `root`; a path ending in "/" is an empty folder. */
export function writeTree(root: string, files: Record<string, string | Buffer>): string {
  for (const [rel, content] of Object.entries(files)) {
    const full = path.join(root, rel);
    if (rel.endsWith('/')) {
      mkdirSync(full, { recursive: true });
      continue;
    }
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, content);
  }
  return root;
}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
}

/** `xorriso -as mkisofs` with Rock Ridge and Joliet, like scripts/build-fixtures.sh. */
export function xorrisoIso(out: string, label: string, dir: string, extra: string[] = []): string {
  run('xorriso', ['-as', 'mkisofs', '-quiet', '-o', out, '-V', label, '-R', '-J', '-joliet-long', ...extra, dir]);
  return out;
}

/** `genisoimage -udf`: an ISO 9660 + UDF 1.02 bridge medium, as Windows install media are. */
export function udfIso(out: string, label: string, dir: string, extra: string[] = []): string {
  run('genisoimage', ['-quiet', '-udf', '-V', label, '-o', out, ...extra, dir]);
  return out;
}

/** A WIM header (magic MSWIM, 208 bytes) pointing at a UTF-16LE XML resource, as Windows writes it. */
export function wimStub(xml: string, imageCount: number): Buffer {
  const body = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(xml, 'utf16le')]);
  const header = Buffer.alloc(208);
  header.write('MSWIM\0\0\0', 0, 'latin1');
  header.writeUInt32LE(208, 8);
  header.writeUInt32LE(0x10d00, 12);
  header.writeUInt32LE(imageCount, 44);
  header.writeUIntLE(body.length, 72, 6);
  header.writeBigUInt64LE(208n, 80);
  header.writeBigUInt64LE(BigInt(body.length), 88);
  // Some resource data after the XML, as a real image has.
  return Buffer.concat([header, body, Buffer.alloc(4096, 0x5a)]);
}

/** WIM XML for one image, as in a real install.wim. */
export function windowsXml(name: string, build: number, arch = 9): string {
  return (
    `<WIM><TOTALBYTES>123</TOTALBYTES><IMAGE INDEX="1"><WINDOWS><ARCH>${arch}</ARCH>` +
    `<PRODUCTNAME>Microsoft® Windows® Operating System</PRODUCTNAME><VERSION><MAJOR>10</MAJOR><MINOR>0</MINOR>` +
    `<BUILD>${build}</BUILD><SPBUILD>1</SPBUILD></VERSION></WINDOWS><NAME>${name}</NAME>` +
    `<DESCRIPTION>${name}</DESCRIPTION></IMAGE></WIM>`
  );
}
