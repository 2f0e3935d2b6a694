// TCP throughput between two QEMU guests on a Maru internal network (each engine host's port
// relays frames: QEMU → -netdev stream → port → peer socket → port → QEMU) against the same two
// qemu command lines joined by QEMU's own `-netdev socket,listen=/connect=` pair (no relay), and,
// for reference, by a direct `-netdev stream` unix pair. The guests time the transfer themselves.
//
// Needs two serial commands in the test medium (scripts/build-fixtures.sh, the init's serial loop);
// without them the benchmark stops and says so:
//   sink=PORT            → a TCP server that discards what it receives, for ever; `MARU-SINKING=PORT`
//   blast=ADDR:PORT:MIB  → `dd if=/dev/zero bs=64k count=MIB*16 | nc ADDR PORT`, timed with
//                          /proc/uptime; `MARU-BLAST=MIB:START:END` (seconds, 10 ms resolution)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { maru, median } from './lib/boot-bench-util.mjs';

export const description =
  'TCP throughput between two QEMU guests (TCG) on a Maru internal network vs QEMU’s own socket netdev pair (MiB/s)';
export const baselineDescription =
  'the same two qemu command lines (logs/qemu-command.json) with the internal adapter’s -netdev replaced by ' +
  'QEMU’s own `-netdev socket,listen=127.0.0.1:P` / `connect=127.0.0.1:P` pair, same guests, same transfer, ' +
  'timed by the guest the same way';

const ISO = path.resolve('tests/fixtures/build/maru-test-bios-uefi.iso');
const MIB = Number(process.env.MARU_BENCH_NET_MIB ?? 64);
const RUNS = Number(process.env.MARU_BENCH_NET_RUNS ?? 3);
const BOOT_MS = 180_000;
const BLAST_MS = 600_000;
const PORT = 9000;
const VMS = ['bench-net-a', 'bench-net-b'];
const ADDR = ['10.9.0.1', '10.9.0.2'];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** How often `marker` is in the serial log `file`. */
function markerCount(file, marker) {
  if (!existsSync(file)) return 0;
  return readFileSync(file, 'latin1').split(marker).length - 1;
}

/** Waits until `marker` is in `file` more than `before` times; returns the text after its last occurrence. */
async function waitForNth(file, marker, before, timeoutMs) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const text = existsSync(file) ? readFileSync(file, 'latin1') : '';
    const parts = text.split(marker);
    if (parts.length - 1 > before) return parts[parts.length - 1].split(/\r?\n/)[0].trim();
    if (Date.now() > until) throw new Error(`${marker} not seen in ${file} within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** A guest: types lines into its serial console, reads answers from its serial log. */
function guest(serialLog, write) {
  return {
    serialLog,
    async ask(line, marker, timeoutMs = 60_000) {
      const before = markerCount(serialLog, marker);
      const echo = markerCount(serialLog, `MARU-ECHO:${line}`);
      await write(line);
      const until = Date.now() + timeoutMs;
      for (;;) {
        if (markerCount(serialLog, `MARU-ECHO:${line}`) > echo) {
          throw new Error(
            `The test medium does not know "${line.split('=')[0]}=": add sink= and blast= to its serial loop ` +
              '(see the comment at the top of bench/internal-network.bench.mjs) and rebuild the test media.',
          );
        }
        if (markerCount(serialLog, marker) > before) return waitForNth(serialLog, marker, before, 1000);
        if (Date.now() > until) throw new Error(`no ${marker} after "${line}" within ${timeoutMs} ms`);
        await sleep(50);
      }
    },
  };
}

/** Sets both guests' addresses, starts the sink on B, warms up, then times RUNS transfers A → B. */
async function measure(a, b) {
  await waitForNth(a.serialLog, 'MARU-NICS=', 0, BOOT_MS);
  await waitForNth(b.serialLog, 'MARU-NICS=', 0, BOOT_MS);
  await a.ask(`ip=eth0:${ADDR[0]}/24`, 'MARU-IP=');
  await b.ask(`ip=eth0:${ADDR[1]}/24`, 'MARU-IP=');
  await b.ask(`sink=${PORT}`, 'MARU-SINKING=');
  const blast = async (mib) => {
    const t0 = Date.now();
    const answer = await a.ask(`blast=${ADDR[1]}:${PORT}:${mib}`, 'MARU-BLAST=', BLAST_MS);
    const hostS = (Date.now() - t0) / 1000;
    const [n, start, end] = answer.split(':').map(Number);
    if (!(n === mib && end > start)) throw new Error(`unexpected answer MARU-BLAST=${answer}`);
    return { guest: mib / (end - start), host: mib / hostS };
  };
  await blast(Math.min(8, MIB)); // warm-up: ARP, TCP slow start, the page cache of the guest's dd/nc
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(await blast(MIB));
  return runs;
}

/** CPU seconds (user + system) a process has used (Linux /proc). */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

async function maruPhase(env, ids, home) {
  for (const vm of VMS) maru(['start', vm, '--headless'], env);
  const guests = ids.map((id) =>
    guest(path.join(home, 'vms', id, 'logs', 'serial.log'), async (line) => {
      maru(['serial', id, '--send', line], env);
    }),
  );
  const hostPids = ids.map((id) => JSON.parse(readFileSync(path.join(home, 'run', id, 'lock'), 'utf8')).pid);
  await waitForNth(guests[0].serialLog, 'MARU-NICS=', 0, BOOT_MS);
  await waitForNth(guests[1].serialLog, 'MARU-NICS=', 0, BOOT_MS);
  const cpu0 = hostPids.map(cpuSeconds);
  const runs = await measure(guests[0], guests[1]);
  const cpu = hostPids.map((p, i) => cpuSeconds(p) - cpu0[i]).reduce((x, y) => x + y, 0);
  for (const vm of VMS) maru(['stop', vm, '--force'], env);
  // warm-up and runs: how much the two engine hosts spent relaying one GiB
  return { runs, cpuPerGiB: cpu / ((Math.min(8, MIB) + RUNS * MIB) / 1024) };
}

/** The internal adapter's `-netdev` in a recorded qemu command line, replaced by `netdev`. */
function withNetdev(argv, netdev) {
  const i = argv.findIndex((a, k) => k > 0 && argv[k - 1] === '-netdev' && a.startsWith('stream,'));
  if (i < 0) throw new Error('the recorded qemu command line has no -netdev stream (internal adapter)');
  const id = /(?:^|,)id=([^,]+)/.exec(argv[i])[1];
  return [...argv.slice(0, i), netdev.replace('{id}', id), ...argv.slice(i + 1)];
}

/** Runs both recorded qemu command lines with their netdevs replaced; the guests measure. */
async function rawPhase(commands, ids, home, netdevs) {
  const children = [];
  try {
    for (const [k, command] of commands.entries()) {
      mkdirSync(path.join(home, 'run', ids[k]), { recursive: true, mode: 0o700 });
      rmSync(path.join(home, 'vms', ids[k], 'logs', 'serial.log'), { force: true });
      const child = spawn(command.binary, withNetdev(command.argv, netdevs[k]), { stdio: 'ignore' });
      children.push({ child, exited: new Promise((r) => child.once('exit', r)) });
      if (k === 0) await sleep(500); // the listening side first
    }
    const serialSocket = (k) => path.join(home, 'run', ids[k], 'serial.sock');
    const guests = ids.map((id, k) =>
      guest(path.join(home, 'vms', id, 'logs', 'serial.log'), async (line) => {
        await new Promise((resolve, reject) => {
          const s = net.createConnection(serialSocket(k), () => s.end(`${line}\r`, resolve));
          s.once('error', reject);
        });
      }),
    );
    return await measure(guests[0], guests[1]);
  } finally {
    for (const c of children) c.child.kill('SIGTERM');
    await Promise.all(children.map((c) => c.exited));
    for (const id of ids) rmSync(path.join(home, 'run', id), { recursive: true, force: true });
  }
}

export async function run() {
  if (!existsSync(ISO)) throw new Error(`${ISO} is missing: run scripts/build-fixtures.sh`);
  const home = mkdtempSync(path.join(os.tmpdir(), 'maru-bench-net-'));
  const env = { ...process.env, MARU_HOME: home };
  try {
    const ids = VMS.map((vm) => {
      const created = JSON.parse(
        maru(
          ['create', '--name', vm, '--os', 'linux64', '--engine', 'qemu', '--firmware', 'bios', '--cpus', '1', '--memory', '256', '--disk', '0', '--iso', ISO, '--json'],
          env,
        ),
      ); // prettier-ignore
      maru(['modify', vm, '--nic1', 'internal:bench'], env);
      return created.vm.config.id;
    });
    maru(['host'], env); // the probe cache

    const viaMaru = await maruPhase(env, ids, home);
    const commands = ids.map((id) =>
      JSON.parse(readFileSync(path.join(home, 'vms', id, 'logs', 'qemu-command.json'), 'utf8')),
    );
    const tcpPort = 20000 + (process.pid % 20000);
    const viaSocket = await rawPhase(commands, ids, home, [
      `socket,id={id},listen=127.0.0.1:${tcpPort}`,
      `socket,id={id},connect=127.0.0.1:${tcpPort}`,
    ]);
    const pair = path.join(home, 'pair.sock');
    const viaStream = await rawPhase(commands, ids, home, [
      `stream,id={id},server=on,addr.type=unix,addr.path=${pair}`,
      `stream,id={id},server=off,addr.type=unix,addr.path=${pair}`,
    ]);

    const r1 = (x) => Number(x.toFixed(1));
    const med = (runs, k = 'guest') => r1(median(runs.map((r) => r[k])));
    return {
      rows: [
        {
          metric: `TCP A → B, ${MIB} MiB, guest-timed, median of ${RUNS}`,
          value: med(viaMaru.runs),
          baseline: med(viaSocket),
          unit: 'MiB/s',
          goalText: 'ratio ≥ 0.8',
          goal: (r) => r.value / r.baseline >= 0.8,
        },
        {
          metric: 'the same, host-timed (serial command to answer)',
          value: med(viaMaru.runs, 'host'),
          baseline: med(viaSocket, 'host'),
          unit: 'MiB/s',
        },
        {
          metric: 'reference: QEMU’s -netdev stream unix pair (no relay), guest-timed',
          value: med(viaStream),
          baseline: null,
          unit: 'MiB/s',
        },
        {
          metric: 'CPU of the two engine hosts per GiB relayed',
          value: Number(viaMaru.cpuPerGiB.toFixed(2)),
          baseline: null,
          unit: 's/GiB',
        },
      ],
      notes:
        `maru runs (MiB/s): ${viaMaru.runs.map((r) => r1(r.guest)).join(', ')}; socket pair: ` +
        `${viaSocket.map((r) => r1(r.guest)).join(', ')}; stream pair: ${viaStream.map((r) => r1(r.guest)).join(', ')}. ` +
        'Each phase boots both guests once, warms up with 8 MiB, then times the runs; accelerator TCG, 1 vCPU each, ' +
        'virtio-net. The guest clock (/proc/uptime) has 10 ms resolution.',
    };
  } finally {
    for (const vm of VMS) spawnSync(process.execPath, ['dist/cli/maru.js', 'stop', vm, '--force'], { env });
    rmSync(home, { recursive: true, force: true });
  }
}
