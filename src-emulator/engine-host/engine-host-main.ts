// Engine host process entry (bundled to dist/engine-host/engine-host.js): `--launch FILE`
// names the launch file the launcher wrote; `--await-launch` waits for it on the IPC channel
// (the CLI starts us early so our Node start-up overlaps its checks). Started detached by the
// CLI/server launcher, or as an Electron utility process by the desktop app; it never imports
// main-side code.
import { openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { AppError } from '../../src-shared/errors';
import { engineHostLaunchMessageSchema, type EngineHostLaunchMessage } from '../../src-shared/contracts/engine';
import { EngineHost } from './engine-host';
import { parentChannel } from './parent-channel';
import { listenForConsolePorts } from './console-port-bridge';

function log(line: string): void {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
}

const AWAIT_LAUNCH_TIMEOUT_MS = 60_000;

function launchFileFromArgs(argv: readonly string[]): string {
  const i = argv.indexOf('--launch');
  const file = i >= 0 ? argv[i + 1] : undefined;
  if (!file) throw new AppError('INVALID_ARGUMENT', 'usage: engine-host --launch LAUNCH.json | --await-launch');
  return file;
}

function isLaunchMessage(m: unknown): m is EngineHostLaunchMessage {
  const parsed = engineHostLaunchMessageSchema.safeParse(m);
  return parsed.success && path.isAbsolute(parsed.data.launchFile) && path.isAbsolute(parsed.data.logFile);
}

/** Waits for the launcher's launch message; null when it goes away (or stays silent) first. */
function awaitLaunch(): Promise<EngineHostLaunchMessage | null> {
  return new Promise((resolve) => {
    if (!process.connected) return resolve(null);
    const timer = setTimeout(() => finish(null), AWAIT_LAUNCH_TIMEOUT_MS);
    const onMessage = (m: unknown): void => {
      if (isLaunchMessage(m)) finish(m);
    };
    const onDisconnect = (): void => finish(null);
    function finish(m: EngineHostLaunchMessage | null): void {
      clearTimeout(timer);
      process.off('message', onMessage);
      process.off('disconnect', onDisconnect);
      resolve(m);
    }
    process.on('message', onMessage);
    process.once('disconnect', onDisconnect);
  });
}

/** Sends this process's stdout and stderr to `file` (what the launcher does with fds for `--launch`). */
function redirectOutput(file: string): void {
  const fd = openSync(file, 'a', 0o600);
  const write = (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
    writeSync(fd, typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    const cb = rest.find((r) => typeof r === 'function') as ((err?: Error) => void) | undefined;
    cb?.();
    return true;
  };
  process.stdout.write = write as typeof process.stdout.write;
  process.stderr.write = write as typeof process.stderr.write;
}

async function launchFile(): Promise<string | null> {
  const argv = process.argv.slice(2);
  if (!argv.includes('--await-launch')) return launchFileFromArgs(argv);
  const launch = await awaitLaunch();
  if (!launch) return null;
  redirectOutput(launch.logFile);
  return launch.launchFile;
}

async function main(): Promise<number> {
  const channel = parentChannel();
  let host: EngineHost;
  try {
    const file = await launchFile();
    if (file === null) return 0; // started early, then not needed
    host = new EngineHost(file, channel, log);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log(`cannot start: ${message}`);
    const code = err instanceof AppError ? err.code : 'INTERNAL';
    channel.post({ type: 'maru-engine-host', event: 'failed', error: { code, message } });
    return 1;
  }
  process.on('uncaughtException', (err) => host.emergencyExit(err));
  process.on('unhandledRejection', (reason) => {
    log(`unhandled rejection: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`);
  });
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.on(sig, () => void host.onSignal(sig));
  }
  // The launcher lets go of its IPC end once it has our start result; that is not a stop.
  process.on('disconnect', () => log('launcher detached'));
  // As an Electron utility process: display viewers arrive as MessagePorts from main.
  listenForConsolePorts(() => host.displayPath());
  return host.run();
}

const code = await main();
process.exitCode = code;
// Give the last log lines and the parent message a moment to flush, then end even if a handle lingers.
setTimeout(() => process.exit(code), 200).unref();
