// Live snapshots on the QEMU engine: `maru snapshot VM take` / `restore` (CLI → services →
// engine host → QMP snapshot-save / snapshot-load) against the raw QMP jobs on the same VM
// definition run raw (the engine host's own qemu command line, logs/qemu-command.json, same
// image), one after the other, with the guest holding FILL_MIB of RAM it wrote (dirty RAM).
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { maru, median, waitForMarker } from './lib/boot-bench-util.mjs';

export const description =
  'QEMU (TCG) live snapshot take and restore of a guest with dirty RAM: maru CLI vs raw QMP jobs (s)';
export const baselineDescription =
  'the same qemu command line started directly, the same guest filling the same RAM, snapshot-save / snapshot-load ' +
  'run over its QMP socket by a minimal client (job started → concluded → dismissed)';

const ISO = path.resolve('tests/fixtures/build/maru-test-i386.iso');
const FILL_MIB = Number(process.env.MARU_BENCH_SNAPSHOT_FILL_MIB ?? 1024);
const MEMORY_MIB = FILL_MIB + 512;
const RUNS = Number(process.env.MARU_BENCH_SNAPSHOT_RUNS ?? 3);
const VM = 'bench-snap';

/** A minimal QMP client: enough for capabilities, commands and waiting for a job to conclude. */
async function qmpConnect(socketPath) {
  const sock = net.connect(socketPath);
  await new Promise((res, rej) => sock.once('connect', res).once('error', rej));
  let buf = '';
  let greeted = false;
  const waiters = [];
  sock.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (!line) continue;
      const msg = JSON.parse(line);
      if (msg.QMP) greeted = true;
      else if ('return' in msg || 'error' in msg) waiters.shift()?.(msg);
    }
  });
  while (!greeted) await new Promise((r) => setTimeout(r, 5));
  const execute = (cmd, args) =>
    new Promise((resolve, reject) => {
      waiters.push((m) => (m.error ? reject(new Error(`${cmd}: ${m.error.desc}`)) : resolve(m.return)));
      sock.write(JSON.stringify(args ? { execute: cmd, arguments: args } : { execute: cmd }) + '\n');
    });
  await execute('qmp_capabilities');
  const runJob = async (cmd, args, id) => {
    await execute(cmd, { ...args, 'job-id': id });
    for (;;) {
      const jobs = await execute('query-jobs');
      const j = jobs.find((x) => x.id === id);
      if (j && j.status === 'concluded') {
        await execute('job-dismiss', { id });
        if (j.error) throw new Error(`${cmd}: ${j.error}`);
        return;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  return { execute, runJob, close: () => sock.destroy() };
}

function serialCount(file, marker) {
  return existsSync(file) ? readFileSync(file, 'latin1').split(marker).length - 1 : 0;
}

async function fillRam(sendLine, serialLog) {
  const before = serialCount(serialLog, 'MARU-FILLED=');
  await sendLine(`fill=${FILL_MIB}`);
  const end = Date.now() + 600_000;
  while (serialCount(serialLog, 'MARU-FILLED=') === before) {
    if (Date.now() > end) throw new Error('the guest did not fill its RAM');
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function run() {
  if (!existsSync(ISO)) throw new Error(`${ISO} is missing: run scripts/build-fixtures.sh`);
  const home = mkdtempSync(path.join(os.tmpdir(), 'maru-bench-snap-'));
  const env = { ...process.env, MARU_HOME: home };
  try {
    const created = JSON.parse(
      maru(['create', '--name', VM, '--os', 'linux32', '--engine', 'qemu', '--cpus', '1', '--memory', String(MEMORY_MIB), '--disk', '1', '--iso', ISO, '--json'], env),
    ); // prettier-ignore
    const id = created.vm.config.id;
    const vmFolder = path.join(home, 'vms', id);
    const runFolder = path.join(home, 'run', id);
    const serialLog = path.join(vmFolder, 'logs', 'serial.log');

    // The raw run gets its own copy of the fresh disk: neither side writes into clusters the
    // other's snapshots freed (that would favour whoever runs second).
    const disk = created.vm.disks[0].path;
    const rawDisk = path.join(vmFolder, 'disks', 'raw-copy.qcow2');
    copyFileSync(disk, rawDisk);

    // ---- Maru: start, fill, then take / restore through the CLI
    maru(['start', VM, '--headless'], env);
    await waitForMarker(serialLog, 'MARU-READY', Date.now(), 180_000);
    await fillRam(async (l) => maru(['serial', VM, '--send', l], env), serialLog);
    const maruTake = [];
    const maruRestore = [];
    for (let i = 0; i < RUNS; i++) {
      let t0 = Date.now();
      maru(['snapshot', VM, 'take', `m${i}`], env);
      maruTake.push((Date.now() - t0) / 1000);
      t0 = Date.now();
      maru(['snapshot', VM, 'restore', `m${i}`], env);
      maruRestore.push((Date.now() - t0) / 1000);
    }
    const stateBytes = JSON.parse(maru(['snapshot', VM, 'list', '--json'], env)).snapshots[0].stateBytes;
    const command = JSON.parse(readFileSync(path.join(vmFolder, 'logs', 'qemu-command.json'), 'utf8'));
    maru(['stop', VM, '--force'], env);
    for (let i = 0; i < RUNS; i++) maru(['snapshot', VM, 'delete', `m${i}`], env);

    // ---- raw: the same command line, the same guest, QMP by hand
    rmSync(serialLog, { force: true });
    mkdirSync(runFolder, { recursive: true, mode: 0o700 });
    const argv = command.argv.map((a) => (a.includes(disk) ? a.replace(disk, rawDisk) : a));
    const child = spawn(command.binary, argv, { stdio: 'ignore' });
    const exited = new Promise((r) => child.once('exit', r));
    const rawTake = [];
    const rawRestore = [];
    try {
      await waitForMarker(serialLog, 'MARU-READY', Date.now(), 180_000);
      const qmpPath = argv.find((a) => a.includes('qmp.sock')).replace(/^.*path=([^,]+).*$/, '$1');
      const serialPath = argv.find((a) => a.includes('id=ser0')).replace(/^.*path=([^,]+).*$/, '$1');
      const serial = net.connect(serialPath);
      await new Promise((r) => serial.once('connect', r));
      await fillRam(async (l) => void serial.write(`${l}\n`), serialLog);
      serial.destroy();
      const qmp = await qmpConnect(qmpPath);
      const devices = argv.filter((a) => a.startsWith('driver=qcow2,')).map((a) => /node-name=([^,]+)/.exec(a)[1]);
      for (let i = 0; i < RUNS; i++) {
        const args = { tag: `r${i}`, vmstate: devices[0], devices };
        let t0 = Date.now();
        await qmp.runJob('snapshot-save', args, `save${i}`);
        rawTake.push((Date.now() - t0) / 1000);
        t0 = Date.now();
        await qmp.runJob('snapshot-load', args, `load${i}`);
        rawRestore.push((Date.now() - t0) / 1000);
      }
      qmp.close();
    } finally {
      child.kill('SIGTERM');
      await exited;
      rmSync(runFolder, { recursive: true, force: true });
    }
    const r2 = (x) => Number(x.toFixed(2));
    return {
      rows: [
        {
          metric: `take, ${FILL_MIB} MiB dirty RAM (median of ${RUNS})`,
          value: r2(median(maruTake)),
          baseline: r2(median(rawTake)),
          unit: 's',
          goalText: 'ratio ≤ 1.1',
          goal: (r) => r.value / r.baseline <= 1.1,
        },
        {
          metric: `restore while running, ${FILL_MIB} MiB dirty RAM (median of ${RUNS})`,
          value: r2(median(maruRestore)),
          baseline: r2(median(rawRestore)),
          unit: 's',
          goalText: 'ratio ≤ 1.1',
          goal: (r) => r.value / r.baseline <= 1.1,
        },
        {
          metric: 'saved RAM + device state per snapshot',
          value: Math.round(stateBytes / 2 ** 20),
          baseline: null,
          unit: 'MiB',
        },
      ],
      details: { maruTake, rawTake, maruRestore, rawRestore, fillMiB: FILL_MIB, memoryMiB: MEMORY_MIB },
    };
  } finally {
    try {
      maru(['stop', VM, '--force'], env);
    } catch {
      // already off
    }
    rmSync(home, { recursive: true, force: true });
  }
}
