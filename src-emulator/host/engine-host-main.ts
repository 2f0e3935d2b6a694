// Engine host process entry (bundled to dist/engine-host/engine-host.js): `--launch FILE`
// names the launch file the launcher wrote. Started detached by the CLI/server launcher, or
// as an Electron utility process by the desktop app; it never imports main-side code.
import { AppError } from '../../src-shared/errors';
import { EngineHost } from './engine-host';
import { parentChannel } from './parent-channel';
import { listenForConsolePorts } from './console-port-bridge';

function log(line: string): void {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
}

function launchFileFromArgs(argv: readonly string[]): string {
  const i = argv.indexOf('--launch');
  const file = i >= 0 ? argv[i + 1] : undefined;
  if (!file) throw new AppError('INVALID_ARGUMENT', 'usage: engine-host --launch LAUNCH.json');
  return file;
}

async function main(): Promise<number> {
  const channel = parentChannel();
  let host: EngineHost;
  try {
    host = new EngineHost(launchFileFromArgs(process.argv.slice(2)), channel, log);
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
