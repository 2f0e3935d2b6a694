// A child process the engine owns (qemu, swtpm, qemu-img): spawned without a shell in its
// own process group (terminal signals stay with us), its exit as a promise, and a
// terminate that escalates from SIGTERM to SIGKILL. Disposing kills it.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Disposable } from './lifecycle';

export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Set when the program could not be started (ENOENT, EACCES …). */
  readonly spawnError: Error | null;
}

export interface SpawnOptions {
  /** File descriptor (e.g. an opened log file) for stdout and stderr; ignored when absent. */
  readonly outputFd?: number;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

/** Describes how a process ended, e.g. "killed by SIGKILL" or "exit status 1". */
export function describeExit(exit: ProcessExit): string {
  if (exit.spawnError) return `could not be started: ${exit.spawnError.message}`;
  if (exit.signal) return `killed by ${exit.signal}`;
  return `exit status ${exit.code ?? 'unknown'}`;
}

export class ManagedProcess implements Disposable {
  readonly exited: Promise<ProcessExit>;
  private exitValue: ProcessExit | null = null;

  private constructor(
    private readonly child: ChildProcess,
    readonly name: string,
  ) {
    this.exited = new Promise((resolve) => {
      let spawnError: Error | null = null;
      child.once('error', (err) => {
        spawnError = err;
        // 'close' does not follow an 'error' for a process that never started.
        if (child.pid === undefined) {
          this.exitValue = { code: null, signal: null, spawnError };
          resolve(this.exitValue);
        }
      });
      child.once('exit', (code, signal) => {
        this.exitValue = { code, signal, spawnError };
        resolve(this.exitValue);
      });
    });
  }

  /** Starts `file args…`; resolves once the OS started it, rejects when it could not (ENOENT …). */
  static async start(file: string, args: readonly string[], options: SpawnOptions = {}): Promise<ManagedProcess> {
    const out = options.outputFd ?? 'ignore';
    const child = spawn(file, [...args], {
      stdio: ['ignore', out, out],
      detached: true,
      windowsHide: true,
      ...(options.env ? { env: options.env } : {}),
      ...(options.cwd ? { cwd: options.cwd } : {}),
    });
    const proc = new ManagedProcess(child, file);
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (err) => reject(err));
    });
    return proc;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** How it ended, or null while it runs. */
  get exit(): ProcessExit | null {
    return this.exitValue;
  }

  get running(): boolean {
    return this.exitValue === null;
  }

  kill(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** Waits up to `ms` for the process to end; true when it did. */
  async waitForExit(ms: number): Promise<boolean> {
    if (!this.running) return true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    const r = await Promise.race([this.exited.then(() => true as const), timedOut]);
    clearTimeout(timer);
    return r;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit. */
  async terminate(graceMs = 3000): Promise<ProcessExit> {
    this.kill('SIGTERM');
    if (!(await this.waitForExit(graceMs))) this.kill('SIGKILL');
    return this.exited;
  }

  dispose(): void {
    this.kill('SIGKILL');
  }
}
