// Ending what a dead engine host of a QEMU VM left running (it was killed or crashed): its
// qemu and swtpm, named in the recovery record the QEMU engine wrote to state.json. Each pid
// is verified by its command line first (so a reused pid is never touched); qemu is asked to
// quit over QMP (it flushes its images), else killed.
import { readFile } from 'node:fs/promises';
import { isProcessAlive, waitForProcessExit } from '../../../src-node/run-lock';
import type { LeftoverContext } from '../engine-leftovers';
import { QmpClient, QmpError } from './qmp-client';

/** What the QEMU engine records for recovery (EngineRuntimeInfo.recovery → state.json `engineRecovery`). */
export interface QemuRecoveryRecord {
  /** The qemu process and its QMP socket, while it runs. */
  readonly qemu?: { readonly pid: number; readonly qmpSocket: string };
  /** The swtpm process (a TPM VM) and its control socket, while it runs. */
  readonly swtpm?: { readonly pid: number; readonly ctrlSocket: string };
}

const isPid = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** The record in `raw` (state.json, possibly damaged or from another Maru version); null when it is none. */
export function parseQemuRecoveryRecord(raw: unknown): QemuRecoveryRecord | null {
  if (!isObject(raw)) return null;
  const { qemu, swtpm } = raw;
  return {
    ...(isObject(qemu) && isPid(qemu['pid']) && typeof qemu['qmpSocket'] === 'string'
      ? { qemu: { pid: qemu['pid'], qmpSocket: qemu['qmpSocket'] } }
      : {}),
    ...(isObject(swtpm) && isPid(swtpm['pid']) && typeof swtpm['ctrlSocket'] === 'string'
      ? { swtpm: { pid: swtpm['pid'], ctrlSocket: swtpm['ctrlSocket'] } }
      : {}),
  };
}

/** The command line of `pid` (Linux /proc), or null when it cannot be read. */
async function commandLineOf(pid: number): Promise<string | null> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH' || code === 'EACCES') return null;
    throw err;
  }
}

/** Sends `signal` to `pid`; a process that ended meanwhile (ESRCH) is fine. */
function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** True once `pid` is gone, false when it is still there after `ms`. */
function waitGone(pid: number, ms: number): Promise<boolean> {
  return waitForProcessExit(pid, ms, 50);
}

/**
 * Asks the qemu at `qmpSocket` to quit. True once `quit` went out (QEMU may close the socket
 * before it answers); false (logged) when QMP cannot be reached at all.
 */
async function quitOverQmp(qmpSocket: string, pid: number, log: (line: string) => void): Promise<boolean> {
  const qmp = QmpClient.forUnixSocket(qmpSocket, { commandTimeoutMs: 3000, handshakeTimeoutMs: 3000 });
  try {
    await qmp.open();
  } catch (err) {
    log(`leftover qemu ${pid}: QMP unreachable (${(err as Error).message}); killing it`);
    qmp.dispose();
    return false;
  }
  try {
    await qmp.execute('quit');
  } catch (err) {
    if (!(err instanceof QmpError)) log(`leftover qemu ${pid}: no answer to quit (${(err as Error).message})`);
  } finally {
    qmp.dispose();
  }
  return true;
}

/**
 * Ends the leftover qemu (its command line must name the VM's uuid) and swtpm (its command
 * line must name its control socket) of `raw`. Returns what it ended, e.g.
 * "qemu pid 123 (quit over QMP)".
 */
export async function recoverQemuLeftovers(raw: unknown, ctx: LeftoverContext): Promise<string[]> {
  const record = parseQemuRecoveryRecord(raw);
  const ended: string[] = [];
  if (!record) return ended;
  const { log } = ctx;
  const qemu = record.qemu;
  if (qemu && isProcessAlive(qemu.pid)) {
    const cmd = await commandLineOf(qemu.pid);
    if (cmd && cmd.includes(ctx.vmId)) {
      // Quit over QMP lets QEMU flush its images; only a QEMU that does not go is killed.
      let how = (await quitOverQmp(qemu.qmpSocket, qemu.pid, log)) ? 'quit over QMP' : 'SIGKILL';
      if (how === 'SIGKILL' || !(await waitGone(qemu.pid, 10_000))) {
        signalProcess(qemu.pid, 'SIGKILL');
        how = 'SIGKILL';
        await waitGone(qemu.pid, 5000);
      }
      ended.push(`qemu pid ${qemu.pid} (${how})`);
    } else {
      log(`pid ${qemu.pid} from the old state file is not this VM's qemu any more: left alone`);
    }
  }
  const swtpm = record.swtpm;
  if (swtpm && isProcessAlive(swtpm.pid)) {
    const cmd = await commandLineOf(swtpm.pid);
    if (cmd && cmd.includes('swtpm') && cmd.includes(swtpm.ctrlSocket)) {
      signalProcess(swtpm.pid, 'SIGTERM');
      if (!(await waitGone(swtpm.pid, 3000))) signalProcess(swtpm.pid, 'SIGKILL');
      ended.push(`swtpm pid ${swtpm.pid}`);
    }
  }
  return ended;
}
