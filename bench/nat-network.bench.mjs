// TCP throughput from a QEMU guest through its NAT adapter (QEMU's own `-netdev user`, slirp) to a
// sink on the host, under Maru against the same recorded qemu command line run raw. The engine host is
// not in the data path for NAT, so the two should match. The guest times the transfer itself.
//
// Serial commands of the test medium (scripts/build-fixtures.sh, the init's serial loop):
//   dhcp=eth0            → `MARU-DHCP=eth0:10.0.2.15/24` (or `:fail`)
//   blast=ADDR:PORT:MIB  → `dd if=/dev/zero bs=64k count=MIB*16 | nc ADDR PORT`, timed with
//                          /proc/uptime; `MARU-BLAST=MIB:START:END` (seconds, 10 ms resolution)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { maru, median } from './lib/boot-bench-util.mjs';

export const description =
  'TCP throughput guest → host through a QEMU NAT adapter under Maru vs the same qemu command line run raw (MiB/s)';
export const baselineDescription =
  'the qemu command line Maru recorded (logs/qemu-command.json) started directly, with its QMP, VNC, serial ' +
  'and pidfile paths moved to a folder of its own and the `-netdev user` unchanged; same guest, same transfers ' +
  'to the same host sink, timed by the guest the same way';

const ISO = path.resolve('tests/fixtures/build/maru-test-bios-uefi.iso');
const MIB = Number(process.env.MARU_BENCH_NAT_MIB ?? 64);
const RUNS = Number(process.env.MARU_BENCH_NAT_RUNS ?? 3);
const WARM_MIB = Math.min(8, MIB);
const BOOT_MS = 180_000;
const BLAST_MS = 600_000;
const VM = 'bench-nat';
/** The host as the guest sees it on the first NAT adapter (slirp's gateway: host loopback). */
const HOST_FROM_GUEST = '10.0.2.2';
const GUEST_ADDRESS = '10.0.2.15/24';

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
            `The test medium does not know "${line.split('=')[0]}=": rebuild the test media with ` +
              'scripts/build-fixtures.sh (its serial loop answers dhcp= and blast=).',
          );
        }
        if (markerCount(serialLog, marker) > before) return waitForNth(serialLog, marker, before, 1000);
        if (Date.now() > until) throw new Error(`no ${marker} after "${line}" within ${timeoutMs} ms`);
        await sleep(50);
      }
    },
  };
}

/**
 * A TCP sink on 127.0.0.1 (a free port): counts each connection's bytes and closes its side when the
 * guest closes its own (busybox nc shuts its sending side at the end of its input, then waits for ours).
 */
async function startSink() {
  /** Finished connections, in order: { bytes, seconds (first byte → guest's close), error }. */
  const done = [];
  const sockets = new Set();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    let bytes = 0;
    let first = null;
    socket.on('data', (chunk) => {
      first ??= performance.now();
      bytes += chunk.length;
    });
    socket.once('end', () => {
      done.push({ bytes, seconds: first === null ? 0 : (performance.now() - first) / 1000, error: null });
      socket.end();
    });
    socket.once('error', (err) => {
      done.push({ bytes, seconds: 0, error: err.message });
      socket.destroy();
    });
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    port: server.address().port,
    done,
    /** The connections that finished after the first `before`, once at least one has (or throws). */
    async since(before, timeoutMs) {
      const until = Date.now() + timeoutMs;
      while (done.length <= before) {
        if (Date.now() > until) throw new Error(`the host sink saw no connection end within ${timeoutMs} ms`);
        await sleep(20);
      }
      return done.slice(before);
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** CPU seconds (user + system) a process has used (Linux /proc); null where there is no /proc. */
function cpuSeconds(pid) {
  const file = `/proc/${pid}/stat`;
  if (!existsSync(file)) return null;
  const stat = readFileSync(file, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/**
 * Waits for the guest's drivers, leases its address, warms up, then times RUNS transfers of MIB MiB to
 * the sink. `pids` name processes whose CPU time over the timed runs is reported per GiB sent.
 */
async function measure(g, sink, pids) {
  await waitForNth(g.serialLog, 'MARU-NICS=', 0, BOOT_MS);
  const lease = await g.ask('dhcp=eth0', 'MARU-DHCP=');
  if (lease !== `eth0:${GUEST_ADDRESS}`) {
    throw new Error(`the guest's DHCP on its NAT adapter answered "${lease}", expected eth0:${GUEST_ADDRESS}`);
  }
  const blast = async (mib) => {
    const before = sink.done.length;
    const t0 = Date.now();
    const answer = await g.ask(`blast=${HOST_FROM_GUEST}:${sink.port}:${mib}`, 'MARU-BLAST=', BLAST_MS);
    const hostS = (Date.now() - t0) / 1000;
    const [n, start, end] = answer.split(':').map(Number);
    if (!(n === mib && end > start)) throw new Error(`unexpected answer MARU-BLAST=${answer}`);
    // Cross-check: the sink must have received every byte, on one connection.
    const conns = await sink.since(before, 10_000);
    const expected = mib * 1024 * 1024;
    if (conns.length !== 1 || conns[0].error || conns[0].bytes !== expected) {
      throw new Error(
        `the guest says it sent ${mib} MiB, but the host sink saw ${conns.length} connection(s) with ` +
          `${conns.map((c) => `${c.bytes} bytes${c.error ? ` (${c.error})` : ''}`).join(', ')}; expected one of ${expected} bytes`,
      );
    }
    return { guest: mib / (end - start), sink: mib / conns[0].seconds, command: mib / hostS };
  };
  await blast(WARM_MIB); // warm-up: ARP, slirp's connection setup, the page cache of the guest's dd/nc
  const cpu0 = pids.map(cpuSeconds);
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(await blast(MIB));
  const gib = (RUNS * MIB) / 1024;
  const cpuPerGiB = pids.map((p, i) => {
    const now = cpuSeconds(p);
    return now === null || cpu0[i] === null ? null : (now - cpu0[i]) / gib;
  });
  return { runs, cpuPerGiB };
}

/** The value of option `key` in a QEMU option string (`,,` is an escaped comma), or null. */
function optionValue(opts, key) {
  const m = new RegExp(`(?:^|,)${key}=((?:[^,]|,,)*)`).exec(opts);
  return m ? m[1].replace(/,,/g, ',') : null;
}

/** `opts` with option `key` set to `value` (which must have no comma); throws when `key` is absent. */
function withOption(opts, key, value) {
  if (optionValue(opts, key) === null) throw new Error(`no ${key}= in "${opts}"`);
  return opts.replace(new RegExp(`((?:^|,)${key}=)(?:[^,]|,,)*`), `$1${value}`);
}

/** The argument after each `flag` in `argv`, in order. */
function argsOf(argv, flag) {
  return argv.flatMap((a, k) => (k > 0 && argv[k - 1] === flag ? [a] : []));
}

/** The serial chardev (the one `-serial chardev:ID` names) of a recorded command line. */
function serialChardev(argv) {
  const serial = argsOf(argv, '-serial')[0];
  const id = serial?.startsWith('chardev:') ? serial.slice('chardev:'.length) : null;
  const chardev = argsOf(argv, '-chardev').find((c) => optionValue(c, 'id') === id);
  if (!chardev) throw new Error('the recorded qemu command line has no -serial chardev:ID with its -chardev');
  return chardev;
}

/**
 * The recorded command line with Maru's sockets, pidfile and serial log moved into `dir`, and nothing
 * else changed (the `-netdev user` stays as Maru built it).
 */
function rawArgv(argv, dir) {
  if (argv.includes('-S')) throw new Error('the recorded qemu command line starts paused (-S): nothing would run it');
  const serialId = optionValue(serialChardev(argv), 'id');
  return argv.map((a, k) => {
    const flag = argv[k - 1];
    if (flag === '-pidfile') return path.join(dir, 'qemu.pid');
    if (flag === '-vnc' && a.startsWith('unix:')) return `unix:${path.join(dir, 'vnc.sock')}`;
    if (flag === '-chardev' && a.startsWith('socket,') && optionValue(a, 'path') !== null) {
      const id = optionValue(a, 'id');
      let out = withOption(a, 'path', path.join(dir, `${id}.sock`));
      if (id === serialId && optionValue(a, 'logfile') !== null) {
        out = withOption(out, 'logfile', path.join(dir, 'serial.log'));
      }
      return out;
    }
    return a;
  });
}

/** The NAT adapters' `-netdev user,…` of a command line (what the baseline must keep identical). */
function userNetdevs(argv) {
  return argsOf(argv, '-netdev').filter((a) => a.startsWith('user,'));
}

async function maruPhase(env, id, home, sink) {
  maru(['start', VM, '--headless'], env);
  const command = JSON.parse(readFileSync(path.join(home, 'vms', id, 'logs', 'qemu-command.json'), 'utf8'));
  const serialLog = optionValue(serialChardev(command.argv), 'logfile');
  if (!serialLog) throw new Error('the recorded qemu command line logs no serial output (no logfile=)');
  const g = guest(serialLog, async (line) => {
    maru(['serial', id, '--send', line], env);
  });
  const hostPid = JSON.parse(readFileSync(path.join(home, 'run', id, 'lock'), 'utf8')).pid;
  const pidFile = argsOf(command.argv, '-pidfile')[0];
  await waitForNth(serialLog, 'MARU-NICS=', 0, BOOT_MS);
  const qemuPid = Number(readFileSync(pidFile, 'utf8').trim());
  const { runs, cpuPerGiB } = await measure(g, sink, [qemuPid, hostPid]);
  maru(['stop', VM, '--force'], env);
  return { command, runs, qemuCpuPerGiB: cpuPerGiB[0], hostCpuPerGiB: cpuPerGiB[1] };
}

/** Runs the recorded qemu command line directly (its own socket folder); the guest measures the same way. */
async function rawPhase(command, home, sink) {
  if (command.swtpm) throw new Error('the recorded VM has a TPM (swtpm): the raw baseline does not start one');
  const dir = path.join(home, 'raw');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const argv = rawArgv(command.argv, dir);
  const recorded = userNetdevs(command.argv);
  if (recorded.length === 0) throw new Error('the recorded qemu command line has no -netdev user (NAT adapter)');
  if (JSON.stringify(userNetdevs(argv)) !== JSON.stringify(recorded)) {
    throw new Error('bug: the baseline changed the -netdev user it must keep identical');
  }
  const child = spawn(command.binary, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b) => (stderr = (stderr + b.toString()).slice(-2000)));
  let stopping = false;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  // Fails the phase at once when QEMU ends (or cannot start) before it is told to.
  const died = new Promise((_, reject) => {
    const fail = (why) => {
      if (!stopping) reject(new Error(`the raw QEMU ${why} during the baseline: ${stderr.trim() || '(no output)'}`));
    };
    child.once('error', (err) => fail(`could not start (${err.message})`));
    child.once('exit', (code, signal) => fail(`exited (${signal ?? `code ${code}`})`));
  });
  try {
    const serialSocket = path.join(dir, `${optionValue(serialChardev(argv), 'id')}.sock`);
    const g = guest(path.join(dir, 'serial.log'), async (line) => {
      await new Promise((resolve, reject) => {
        const s = net.createConnection(serialSocket, () => s.end(`${line}\r`, resolve));
        s.once('error', reject);
      });
    });
    const { runs, cpuPerGiB } = await Promise.race([measure(g, sink, [child.pid]), died]);
    return { argv, runs, qemuCpuPerGiB: cpuPerGiB[0] };
  } finally {
    stopping = true;
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    }
  }
}

export async function run() {
  if (!existsSync(ISO)) throw new Error(`${ISO} is missing: run scripts/build-fixtures.sh`);
  if (!(Number.isInteger(MIB) && MIB > 0 && Number.isInteger(RUNS) && RUNS > 0)) {
    throw new Error('MARU_BENCH_NAT_MIB and MARU_BENCH_NAT_RUNS must be positive whole numbers');
  }
  const home = mkdtempSync(path.join(os.tmpdir(), 'maru-bench-nat-'));
  const env = { ...process.env, MARU_HOME: home };
  let sink = null;
  let created = false;
  try {
    sink = await startSink();
    const id = JSON.parse(
      maru(
        ['create', '--name', VM, '--os', 'linux64', '--engine', 'qemu', '--firmware', 'bios', '--cpus', '1', '--memory', '256', '--disk', '0', '--iso', ISO, '--json'],
        env,
      ),
    ).vm.config.id; // prettier-ignore
    created = true;
    maru(['host'], env); // the probe cache

    const viaMaru = await maruPhase(env, id, home, sink);
    const raw = await rawPhase(viaMaru.command, home, sink);

    const r1 = (x) => Number(x.toFixed(1));
    const r2 = (x) => (x === null ? null : Number(x.toFixed(2)));
    const med = (runs, k = 'guest') => r1(median(runs.map((r) => r[k])));
    const list = (runs, k = 'guest') => runs.map((r) => r1(r[k])).join(', ');
    const nic = argsOf(viaMaru.command.argv, '-device').find((d) => /(?:^|,)netdev=net0(?:,|$)/.test(d));
    return {
      rows: [
        {
          metric: `NAT TCP guest → host, ${MIB} MiB, guest-timed, median of ${RUNS}`,
          value: med(viaMaru.runs),
          baseline: med(raw.runs),
          unit: 'MiB/s',
          goalText: 'ratio ≥ 0.9',
          goal: (r) => r.value / r.baseline >= 0.9,
        },
        {
          metric: 'the same, host-timed (sink: first byte → guest closes)',
          value: med(viaMaru.runs, 'sink'),
          baseline: med(raw.runs, 'sink'),
          unit: 'MiB/s',
        },
        {
          metric: 'CPU of QEMU per GiB sent',
          value: r2(viaMaru.qemuCpuPerGiB),
          baseline: r2(raw.qemuCpuPerGiB),
          unit: 's/GiB',
        },
        {
          metric: 'CPU of the engine host per GiB sent (not in the data path)',
          value: r2(viaMaru.hostCpuPerGiB),
          baseline: null,
          unit: 's/GiB',
        },
      ],
      notes:
        `maru runs (MiB/s, guest-timed): ${list(viaMaru.runs)}; raw: ${list(raw.runs)}. ` +
        `Host-timed by the sink: maru ${list(viaMaru.runs, 'sink')}; raw ${list(raw.runs, 'sink')}. ` +
        `Serial command to answer: maru ${list(viaMaru.runs, 'command')}; raw ${list(raw.runs, 'command')}. ` +
        `Each phase boots the guest once, leases ${GUEST_ADDRESS} by DHCP, warms up with ${WARM_MIB} MiB, then ` +
        `times the runs to a node TCP sink on 127.0.0.1 (reached as ${HOST_FROM_GUEST}), which counted every byte. ` +
        `Accelerator ${argsOf(viaMaru.command.argv, '-accel')[0] ?? '(unknown)'}, 1 vCPU, 256 MiB, BIOS; adapter ${nic ?? '(unknown)'}; ` +
        `${userNetdevs(viaMaru.command.argv).join(' ')} in both. The guest clock (/proc/uptime) has 10 ms resolution.`,
    };
  } finally {
    if (created) spawnSync(process.execPath, ['dist/cli/maru.js', 'stop', VM, '--force'], { env });
    await sink?.close();
    rmSync(home, { recursive: true, force: true });
  }
}
