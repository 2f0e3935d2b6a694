// VM archives: `maru export` and `maru import` of a VM whose disk holds ~1 GiB of real
// (pseudo-random, incompressible) data, against `tar -cf` + `sha256sum` of the same files and
// `tar -xf` + `sha256sum` of the extracted ones, one after the other in the same run, median of
// 3. Maru flushes what it writes (fsync); a second baseline row adds `sync` of the written files.
// The hash-only row (one read + SHA-256 of the files in Node, as Maru hashes) is what a separate first hashing pass would
// add to an export that put every checksum in a manifest first (docs/backup.md).
// MARU_BENCH_BACKUP_MIB sets the size (64 for a quick proof), _RUNS the repetitions.
import { spawnSync } from 'node:child_process';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { maru, median } from './lib/boot-bench-util.mjs';

export const description =
  'VM archives: maru export / maru import (MB/s) vs tar -cf / tar -xf + sha256sum of the same files';
export const baselineDescription =
  'export: `tar -cf OUT -C VMFOLDER --exclude=logs .` then `sha256sum` of every file, timed together (wall time of ' +
  'the processes), right after each maru export; import: `tar -xf` of that tar into an empty folder then ' +
  '`sha256sum` of every extracted file. The "flushed" rows add `sync` of the written files, as Maru flushes them.';

const SIZE_MIB = Number(process.env.MARU_BENCH_BACKUP_MIB ?? 1024);
const RUNS = Number(process.env.MARU_BENCH_BACKUP_RUNS ?? 3);

function tool(bin, args, opts = {}) {
  const r = spawnSync(bin, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function timed(fn) {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** A raw image of `mib` MiB of incompressible bytes (AES-CTR keystream: fast, never zero blocks). */
function writeRandomRaw(file, mib) {
  const cipher = createCipheriv('aes-128-ctr', randomBytes(16), randomBytes(16));
  const zeros = Buffer.alloc(4 * 2 ** 20);
  const fd = openSync(file, 'w');
  try {
    for (let done = 0; done < mib; done += 4) writeSync(fd, cipher.update(zeros));
  } finally {
    closeSync(fd);
  }
}

/** One read of every file through SHA-256 in this process (4 MiB reads): what a first hashing pass costs. */
function hashPass(dir, files) {
  const buf = Buffer.allocUnsafe(4 * 2 ** 20);
  for (const f of files) {
    const hash = createHash('sha256');
    const fd = openSync(path.join(dir, f), 'r');
    try {
      for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0;) hash.update(buf.subarray(0, n));
    } finally {
      closeSync(fd);
    }
    hash.digest();
  }
}

/** Regular files under `dir` (relative), logs/ left out as the archive leaves it out. */
function filesOf(dir, rel = '') {
  const out = [];
  for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (!rel && e.name === 'logs') continue;
    if (e.isDirectory()) out.push(...filesOf(dir, p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

export async function run() {
  const root = mkdtempSync(path.join(os.tmpdir(), 'maru-bench-backup-'));
  const home = path.join(root, 'home');
  const env = { ...process.env, MARU_HOME: home };
  try {
    maru(['host'], env); // warm-up: the host probe is cached from now on
    const vm = JSON.parse(
      maru(['create', '--name', 'bench', '--os', 'linux64', '--engine', 'qemu', '--disk', '1', '--json'], env),
    ).vm;
    // The VM's disk: a qcow2 holding SIZE_MIB of random data (every cluster allocated).
    const raw = path.join(root, 'data.raw');
    const disk = path.join(vm.folder, 'disks', 'disk0.qcow2');
    writeRandomRaw(raw, SIZE_MIB);
    rmSync(disk);
    tool('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, disk]);
    rmSync(raw);
    const files = filesOf(vm.folder);
    const bytes = files.reduce((n, f) => n + statSync(path.join(vm.folder, f)).size, 0);
    const mb = bytes / 1e6;
    tool('sha256sum', files, { cwd: vm.folder }); // the files are read once before either side times them

    const rows = {
      export: [],
      tarExport: [],
      tarExportSynced: [],
      hashOnly: [],
      import: [],
      tarImport: [],
      tarImportSynced: [],
    };
    for (let i = 0; i < RUNS; i++) {
      const archive = path.join(root, `run-${i}.maru`);
      rows.export.push(timed(() => maru(['export', 'bench', archive, '--json'], env)));
      const tarFile = path.join(root, `run-${i}.tar`);
      rows.tarExport.push(
        timed(() => {
          tool('tar', ['-cf', tarFile, '-C', vm.folder, ...files]);
          tool('sha256sum', files, { cwd: vm.folder });
        }),
      );
      rmSync(tarFile);
      rows.tarExportSynced.push(
        timed(() => {
          tool('tar', ['-cf', tarFile, '-C', vm.folder, ...files]);
          tool('sha256sum', files, { cwd: vm.folder });
          tool('sync', [tarFile]);
        }),
      );
      rows.hashOnly.push(timed(() => hashPass(vm.folder, files)));

      // Import into a fresh home each time (a new uuid would otherwise be one more step).
      const importHome = path.join(root, `import-${i}`);
      rows.import.push(timed(() => maru(['import', archive, '--json'], { ...env, MARU_HOME: importHome })));
      rmSync(importHome, { recursive: true, force: true });
      for (const [key, synced] of [
        ['tarImport', false],
        ['tarImportSynced', true],
      ]) {
        const out = path.join(root, `x-${i}-${key}`);
        mkdirSync(out);
        rows[key].push(
          timed(() => {
            tool('tar', ['-xf', tarFile, '-C', out]);
            tool('sha256sum', files, { cwd: out });
            if (synced) tool('sync', files, { cwd: out });
          }),
        );
        rmSync(out, { recursive: true, force: true });
      }
      rmSync(archive);
      rmSync(tarFile);
    }
    const r2 = (x) => Number(x.toFixed(2));
    const mbps = (s) => Math.round(mb / s);
    const m = Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, median(v)]));
    return {
      rows: [
        {
          metric: `export of a VM with ${SIZE_MIB} MiB of random data, wall time, median of ${RUNS} (vs tar -cf + sha256sum)`,
          value: r2(m.export),
          baseline: r2(m.tarExport),
          unit: 's',
          goalText: 'ratio ≤ 1.2',
          goal: (row) => row.ratio <= 1.2,
        },
        {
          metric: 'the same vs tar -cf + sha256sum + sync (flushed, as Maru writes it)',
          value: r2(m.export),
          baseline: r2(m.tarExportSynced),
          unit: 's',
        },
        { metric: 'export throughput', value: mbps(m.export), baseline: mbps(m.tarExport), unit: 'MB/s' },
        {
          metric: `import of that archive (checked, registered), median of ${RUNS} (vs tar -xf + sha256sum)`,
          value: r2(m.import),
          baseline: r2(m.tarImport),
          unit: 's',
          goalText: 'ratio ≤ 1.2',
          goal: (row) => row.ratio <= 1.2,
        },
        {
          metric: 'the same vs tar -xf + sha256sum + sync',
          value: r2(m.import),
          baseline: r2(m.tarImportSynced),
          unit: 's',
        },
        { metric: 'import throughput', value: mbps(m.import), baseline: mbps(m.tarImport), unit: 'MB/s' },
        {
          metric: 'a separate first hashing pass (read + SHA-256 in Node, as Maru hashes) vs the whole export',
          value: r2(m.hashOnly),
          baseline: r2(m.export),
          unit: 's',
        },
      ],
      notes:
        `VM folder: ${files.length} files, ${Math.round(mb)} MB. maru export ${rows.export.map(r2).join(', ')} s; ` +
        `tar+sha256sum ${rows.tarExport.map(r2).join(', ')} s; maru import ${rows.import.map(r2).join(', ')} s; ` +
        `tar -xf+sha256sum ${rows.tarImport.map(r2).join(', ')} s; hash only ${rows.hashOnly.map(r2).join(', ')} s.`,
      details: rows,
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
