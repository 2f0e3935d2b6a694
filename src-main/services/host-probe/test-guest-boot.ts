// One test boot of the probe guest under one accelerator / CPU model / machine: spawns QEMU,
// watches COM1 for the markers and stderr for fatal errors, and always reaps the process.
import { spawn } from 'node:child_process';
import type { AcceleratorName } from '../../../src-shared/host-info';
import { CancelledError } from '../../../src-shared/errors';
import { PROBE_EXIT_PORT, PROBE_MARKER_FPU_BAD, PROBE_MARKER_OK, PROBE_MARKER_START } from './probe-boot-sector';

export interface TestBootOptions {
  readonly qemuPath: string;
  readonly accel: AcceleratorName;
  /** `pc` for the plain test; `q35` for the SMM test (SMM needs q35). */
  readonly machine: 'pc' | 'q35';
  readonly smm: boolean;
  readonly cpuModel: string;
  /** Raw disk image holding the probe boot sector. */
  readonly imagePath: string;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/**
 * - `ok`: the guest ran the x87 code and got 2.
 * - `fpu-bad`: it ran, but the sum was wrong.
 * - `died`: it started (marker seen) and then stopped: an internal error, a crash, a hang.
 * - `refused`: QEMU quit before the guest started (bad CPU model, no SMM, accelerator missing).
 * - `timeout`: nothing from the guest within the limit.
 * - `spawn-failed`: QEMU could not be started at all.
 */
export type TestBootOutcome = 'ok' | 'fpu-bad' | 'died' | 'refused' | 'timeout' | 'spawn-failed';

export interface TestBootResult {
  readonly outcome: TestBootOutcome;
  /** The start marker reached COM1: the accelerator ran the BIOS and our first instructions. */
  readonly started: boolean;
  /** The first meaningful stderr line (or a description of what went wrong), null when all went well. */
  readonly detail: string | null;
  readonly exitCode: number | null;
  readonly ms: number;
}

/** How long to let QEMU finish printing an internal-error dump before killing it. */
const INTERNAL_ERROR_GRACE_MS = 300;
/** How long QEMU gets to exit by itself after the guest reported (isa-debug-exit should be instant). */
const EXIT_GRACE_MS = 2000;
const OUTPUT_LIMIT = 64 * 1024;

/** The QEMU command line of a test boot (without the program). */
export function testBootArgs(opts: Omit<TestBootOptions, 'qemuPath' | 'timeoutMs' | 'signal'>): string[] {
  const machine = opts.machine === 'q35' ? `q35,smm=${opts.smm ? 'on' : 'off'}` : 'pc';
  // prettier-ignore
  return [
    '-name', 'maru-host-probe',
    '-nodefaults',
    '-machine', `${machine},accel=${opts.accel}`,
    '-cpu', opts.cpuModel,
    '-m', '16',
    '-display', 'none',
    '-serial', 'stdio',
    '-no-reboot',
    '-device', `isa-debug-exit,iobase=0x${PROBE_EXIT_PORT.toString(16)},iosize=0x04`,
    // IDE on pc (PIIX), AHCI on q35: SeaBIOS boots the first sector of either.
    '-drive', `if=ide,format=raw,file=${opts.imagePath.replace(/,/g, ',,')}`,
  ];
}

/** Boots the probe guest once; resolves with what happened, rejects only with CancelledError. */
export function runTestBoot(opts: TestBootOptions): Promise<TestBootResult> {
  if (opts.signal?.aborted) return Promise.reject(new CancelledError('Host probe cancelled.'));
  const startedAt = performance.now();
  return new Promise((resolve, reject) => {
    let serial = '';
    let stderr = '';
    let timedOut = false;
    let cancelled = false;
    let spawnError: string | null = null;
    const timers: NodeJS.Timeout[] = [];
    const child = spawn(opts.qemuPath, testBootArgs(opts), { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    const kill = (): void => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    // If our own process goes away mid-probe, take QEMU with it.
    process.once('exit', kill);
    const onAbort = (): void => {
      cancelled = true;
      kill();
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    child.stdout.setEncoding('latin1');
    child.stderr.setEncoding('utf8');
    let reported = false;
    child.stdout.on('data', (chunk: string) => {
      if (serial.length < OUTPUT_LIMIT) serial += chunk;
      if (!reported && (serial.includes(PROBE_MARKER_OK) || serial.includes(PROBE_MARKER_FPU_BAD))) {
        reported = true;
        timers.push(setTimeout(kill, EXIT_GRACE_MS));
      }
    });
    child.stderr.on('data', (chunk: string) => {
      const first = !/KVM internal error/i.test(stderr);
      if (stderr.length < OUTPUT_LIMIT) stderr += chunk;
      // KVM pauses the VM and keeps QEMU alive after an internal error: no point waiting.
      if (first && /KVM internal error/i.test(stderr)) timers.push(setTimeout(kill, INTERNAL_ERROR_GRACE_MS));
    });
    timers.push(
      setTimeout(() => {
        timedOut = true;
        kill();
      }, opts.timeoutMs),
    );
    child.on('error', (err) => {
      spawnError = err.message;
    });
    child.on('close', (code) => {
      for (const t of timers) clearTimeout(t);
      process.removeListener('exit', kill);
      opts.signal?.removeEventListener('abort', onAbort);
      if (cancelled) {
        reject(new CancelledError('Host probe cancelled.'));
        return;
      }
      const ms = Math.round(performance.now() - startedAt);
      resolve(
        classifyTestBoot({ serial, stderr, exitCode: code, timedOut, spawnError, timeoutMs: opts.timeoutMs, ms }),
      );
    });
  });
}

/** Turns what a test boot printed into a verdict (pure, for tests). */
export function classifyTestBoot(run: {
  serial: string;
  stderr: string;
  exitCode: number | null;
  timedOut: boolean;
  spawnError: string | null;
  timeoutMs: number;
  ms: number;
}): TestBootResult {
  const started = run.serial.includes(PROBE_MARKER_START);
  const base = { started, exitCode: run.exitCode, ms: run.ms };
  if (run.spawnError) return { ...base, outcome: 'spawn-failed', detail: run.spawnError };
  if (run.serial.includes(PROBE_MARKER_OK)) return { ...base, outcome: 'ok', detail: null };
  if (run.serial.includes(PROBE_MARKER_FPU_BAD)) {
    return { ...base, outcome: 'fpu-bad', detail: 'the x87 sum 1 + 1 came out wrong' };
  }
  const stderrLine = meaningfulStderr(run.stderr);
  const seconds = (run.timeoutMs / 1000).toFixed(run.timeoutMs % 1000 === 0 ? 0 : 1);
  if (started) {
    const why = stderrLine ?? (run.timedOut ? `no x87 result within ${seconds} s` : exitDescription(run.exitCode));
    return { ...base, outcome: 'died', detail: why };
  }
  if (run.timedOut && !stderrLine) {
    return { ...base, outcome: 'timeout', detail: `the guest printed nothing within ${seconds} s` };
  }
  return { ...base, outcome: 'refused', detail: stderrLine ?? exitDescription(run.exitCode) };
}

function exitDescription(code: number | null): string {
  return code === null ? 'QEMU was killed' : `QEMU exited with status ${code}`;
}

/**
 * The line of QEMU's stderr that says what went wrong, without the program prefix: skips
 * warnings (e.g. "host doesn't support requested feature") and our own kill notice. A KVM
 * internal-error dump is summarized as its first line plus the failure kind.
 */
export function meaningfulStderr(stderr: string): string | null {
  const lines = stderr
    .split(/\r?\n/)
    .map((l) => l.trim().replace(/^(?:[\w./\\:-]*qemu[\w.-]*(?:\.exe)?):\s*/i, ''))
    .map((l) => l.replace(/^error:\s*/i, ''))
    .filter((l) => l.length > 0 && !/^warning:/i.test(l) && !/terminating on signal/i.test(l));
  const internal = lines.find((l) => /KVM internal error/i.test(l));
  if (internal) {
    const kind = lines.find((l) => /^(emulation failure|.*failure)$/i.test(l));
    return kind ? `${internal} — ${kind}` : internal;
  }
  return lines[0] ?? null;
}
