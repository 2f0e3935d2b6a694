// Disk import: `maru disk import` of a ~1 GiB VMDK full of real (pseudo-random, non-zero) data
// against `qemu-img convert -O qcow2` of the same file, one after the other in the same run,
// median of 3. Maru's import also inspects and checks the source, measures the space it needs
// and flushes the copy (qemu-img's convert default does not flush: a second baseline row does).
// MARU_BENCH_DISK_IMPORT_MIB sets the size (64 for a quick proof), _RUNS the repetitions.
import { spawnSync } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { maru, median } from './lib/boot-bench-util.mjs';

export const description =
  'Disk import: maru disk import of a VMDK (MB/s) vs qemu-img convert -O qcow2 of the same file';
export const baselineDescription =
  '`qemu-img convert -O qcow2 SRC OUT` of the same VMDK, timed the same way (wall time of the process), right ' +
  'after each maru import; and the same with `-t writeback` (flushed, as Maru writes it)';

const SIZE_MIB = Number(process.env.MARU_BENCH_DISK_IMPORT_MIB ?? 1024);
const RUNS = Number(process.env.MARU_BENCH_DISK_IMPORT_RUNS ?? 3);

function tool(bin, args) {
  const r = spawnSync(bin, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Times `fn` (s) after writing back what earlier steps left dirty, so no side pays for another's writes. */
function timed(fn) {
  spawnSync('sync');
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

export async function run() {
  const root = mkdtempSync(path.join(os.tmpdir(), 'maru-bench-import-'));
  const home = path.join(root, 'home');
  const env = { ...process.env, MARU_HOME: home };
  try {
    const raw = path.join(root, 'data.raw');
    const source = path.join(root, 'server.vmdk');
    writeRandomRaw(raw, SIZE_MIB);
    tool('qemu-img', ['convert', '-f', 'raw', '-O', 'vmdk', raw, source]);
    rmSync(raw);
    const mb = statSync(source).size / 1e6;
    maru(['host'], env); // warm-up: the host probe (where qemu-img is) is cached from now on
    maru(['disk', 'info', source], env); // and the source is read once before either side times it
    const maruSeconds = [];
    const rawSeconds = [];
    const flushedSeconds = [];
    for (let i = 0; i < RUNS; i++) {
      const imported = path.join(home, 'disks', `run-${i}.qcow2`);
      maruSeconds.push(timed(() => maru(['disk', 'import', source, '--name', `run-${i}`, '--json'], env)));
      rmSync(imported);
      const out = path.join(root, `raw-${i}.qcow2`);
      rawSeconds.push(timed(() => tool('qemu-img', ['convert', '-f', 'vmdk', '-O', 'qcow2', source, out])));
      rmSync(out);
      flushedSeconds.push(
        timed(() => tool('qemu-img', ['convert', '-t', 'writeback', '-f', 'vmdk', '-O', 'qcow2', source, out])),
      );
      rmSync(out);
    }
    const r2 = (x) => Number(x.toFixed(2));
    const mbps = (s) => Math.round(mb / s);
    const [m, r, f] = [median(maruSeconds), median(rawSeconds), median(flushedSeconds)];
    return {
      rows: [
        {
          metric: `import of a ${SIZE_MIB} MiB VMDK (random data), wall time, median of ${RUNS} (vs qemu-img convert)`,
          value: r2(m),
          baseline: r2(r),
          unit: 's',
          goalText: 'ratio ≤ 1.05',
          goal: (row) => row.ratio <= 1.05,
        },
        {
          metric: `the same vs qemu-img convert -t writeback (flushed, as Maru writes it)`,
          value: r2(m),
          baseline: r2(f),
          unit: 's',
        },
        { metric: 'import throughput (maru vs qemu-img convert)', value: mbps(m), baseline: mbps(r), unit: 'MB/s' },
      ],
      notes:
        `Source: ${Math.round(mb)} MB monolithicSparse VMDK. maru ${maruSeconds.map(r2).join(', ')} s; ` +
        `qemu-img ${rawSeconds.map(r2).join(', ')} s; qemu-img -t writeback ${flushedSeconds.map(r2).join(', ')} s.`,
      details: { maruSeconds, rawSeconds, flushedSeconds },
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
