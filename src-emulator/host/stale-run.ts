// Recovery after an engine host died without cleaning up (killed, crashed): its qemu and
// swtpm may still run. They are found through the last state.json, verified by their
// command lines (so a reused pid is never touched), asked to quit over QMP, else killed.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { RUN_STATE_FILE, type EngineRunState } from '../../src-shared/contracts/engine';
import { QmpClient, QmpError } from '../engines/qemu/qmp-client';
import { isProcessAlive } from './run-lock';
import { readJsonSync } from './state-files';

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

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (isProcessAlive(pid)) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/** What recovery did. */
export interface StaleRunRecovery {
  /** Leftover processes ended, e.g. "qemu pid 123 (quit over QMP)". */
  readonly ended: string[];
  /** The previous run's state file, when there was one. */
  readonly previous: EngineRunState | null;
}

/**
 * Ends the leftover processes of a dead engine host of VM `vmId` whose run folder is
 * `runFolder`. Only processes whose command line names the VM's uuid (qemu) or its socket
 * folder (swtpm) are touched.
 */
export async function recoverStaleRun(
  runFolder: string,
  vmId: string,
  log: (line: string) => void,
): Promise<StaleRunRecovery> {
  const previous = readJsonSync<EngineRunState>(path.join(runFolder, RUN_STATE_FILE));
  const ended: string[] = [];
  if (!previous || previous.vmId !== vmId) return { ended, previous };
  const qemuPid = previous.children?.qemu;
  if (qemuPid && isProcessAlive(qemuPid)) {
    const cmd = await commandLineOf(qemuPid);
    if (cmd && cmd.includes(vmId)) {
      let how = 'SIGKILL';
      if (previous.qmpSocket) {
        const qmp = QmpClient.forUnixSocket(previous.qmpSocket, { commandTimeoutMs: 3000, handshakeTimeoutMs: 3000 });
        try {
          await qmp.open();
          await qmp.execute('quit').catch((err: unknown) => {
            if (!(err instanceof QmpError)) throw err;
          });
          how = 'quit over QMP';
        } catch (err) {
          log(`leftover qemu ${qemuPid}: QMP quit failed (${(err as Error).message}); killing it`);
        } finally {
          qmp.dispose();
        }
      }
      if (!(await waitGone(qemuPid, 10_000))) {
        process.kill(qemuPid, 'SIGKILL');
        how = 'SIGKILL';
        await waitGone(qemuPid, 5000);
      }
      ended.push(`qemu pid ${qemuPid} (${how})`);
    } else {
      log(`pid ${qemuPid} from the old state file is not this VM's qemu any more: left alone`);
    }
  }
  const swtpmPid = previous.children?.swtpm;
  if (swtpmPid && isProcessAlive(swtpmPid)) {
    const cmd = await commandLineOf(swtpmPid);
    if (cmd && cmd.includes('swtpm') && cmd.includes(previous.socketFolder)) {
      process.kill(swtpmPid, 'SIGTERM');
      if (!(await waitGone(swtpmPid, 3000))) process.kill(swtpmPid, 'SIGKILL');
      ended.push(`swtpm pid ${swtpmPid}`);
    }
  }
  for (const e of ended) log(`ended leftover ${e}`);
  return { ended, previous };
}
