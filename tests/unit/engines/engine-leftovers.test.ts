// Recovery after a dead engine host, dispatched by engine kind (engines/engine-leftovers.ts):
// QEMU's recovery ends the processes its record names only when their command lines prove
// they belong to the VM, and nothing else. The "qemu" and "swtpm" here are real processes
// (Node, named like them on their command line), so pids, /proc and signals are real.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { recoverEngineLeftovers } from '../../../src-emulator/engines/engine-leftovers';
import { parseQemuRecoveryRecord } from '../../../src-emulator/engines/qemu/qemu-recovery';
import { isProcessAlive } from '../../../src-node/run-lock';

const vmId = '0b7c3e1a-5d2f-4a6b-9c8d-1e2f3a4b5c6d';
const children: ChildProcess[] = [];

/** A long-running process whose command line carries `args`. */
async function processWith(...args: string[]): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e6)', ...args], { stdio: 'ignore' });
  children.push(child);
  await new Promise((r) => child.once('spawn', r));
  return child.pid!;
}

async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100 && isProcessAlive(pid); i++) await new Promise((r) => setTimeout(r, 20));
  return !isProcessAlive(pid);
}

afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

describe.skipIf(process.platform !== 'linux')('leftovers of a dead engine host', () => {
  it('QEMU: ends the qemu and swtpm of this VM (QMP unreachable: killed at once)', async () => {
    const ctrlSocket = `/tmp/maru-test-${process.pid}/swtpm.sock`;
    const qemu = await processWith('qemu-system-x86_64', '-name', `guest=${vmId}`);
    const swtpm = await processWith('swtpm', 'socket', '--ctrl', `type=unixio,path=${ctrlSocket}`);
    const log: string[] = [];
    const record = { qemu: { pid: qemu, qmpSocket: '/nonexistent/qmp.sock' }, swtpm: { pid: swtpm, ctrlSocket } };
    const started = Date.now();
    const ended = await recoverEngineLeftovers('qemu', JSON.parse(JSON.stringify(record)), {
      vmId,
      log: (l) => log.push(l),
    });
    expect(ended).toEqual([`qemu pid ${qemu} (SIGKILL)`, `swtpm pid ${swtpm}`]);
    expect(await gone(qemu)).toBe(true);
    expect(await gone(swtpm)).toBe(true);
    expect(log.join('\n')).toMatch(/QMP unreachable/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('QEMU: leaves alone processes that are not this VM’s (a reused pid)', async () => {
    const other = await processWith('qemu-system-x86_64', '-name', 'guest=someone-else');
    const notSwtpm = await processWith('something', 'else');
    const log: string[] = [];
    const ended = await recoverEngineLeftovers(
      'qemu',
      { qemu: { pid: other, qmpSocket: '/nonexistent' }, swtpm: { pid: notSwtpm, ctrlSocket: '/x/swtpm.sock' } },
      { vmId, log: (l) => log.push(l) },
    );
    expect(ended).toEqual([]);
    expect(isProcessAlive(other)).toBe(true);
    expect(isProcessAlive(notSwtpm)).toBe(true);
    expect(log.join('\n')).toMatch(/is not this VM's qemu any more: left alone/);
  });

  it('ends nothing for v86 (in-process), a damaged record or an unknown engine', async () => {
    const qemu = await processWith('qemu-system-x86_64', vmId);
    const ctx = { vmId, log: () => undefined };
    expect(await recoverEngineLeftovers('v86', { qemu: { pid: qemu, qmpSocket: '/x' } }, ctx)).toEqual([]);
    expect(await recoverEngineLeftovers('qemu', 'garbage', ctx)).toEqual([]);
    expect(await recoverEngineLeftovers('qemu', { qemu: { pid: -1, qmpSocket: '/x' } }, ctx)).toEqual([]);
    const log: string[] = [];
    const unknown = 'bochs' as unknown as 'qemu';
    expect(await recoverEngineLeftovers(unknown, {}, { vmId, log: (l) => log.push(l) })).toEqual([]);
    expect(log).toEqual(['the dead engine host ran an unknown engine "bochs": nothing of it is ended']);
    expect(isProcessAlive(qemu)).toBe(true);
  });
});

describe('the QEMU recovery record', () => {
  it('keeps only well-formed entries', () => {
    expect(parseQemuRecoveryRecord(null)).toBeNull();
    expect(parseQemuRecoveryRecord({})).toEqual({});
    expect(
      parseQemuRecoveryRecord({ qemu: { pid: 5, qmpSocket: '/q' }, swtpm: { pid: '6', ctrlSocket: '/s' } }),
    ).toEqual({ qemu: { pid: 5, qmpSocket: '/q' } });
  });
});
