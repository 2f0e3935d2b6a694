// `maru` process entry: wires stdio, the environment and Ctrl+C (cancels a running job
// instead of killing it mid-write) into runCli. Kept small: for `maru start` it first starts
// an engine host (it loads while we check the VM), then loads the commands.
import { prewarmEngineHost, releasePrewarmed } from '../services/vm-runtime/engine-host-process';

const argv = process.argv.slice(2);
const wantsStart = argv[0] === 'start' && !argv.includes('--help') && !argv.includes('-h');
const engineHost = wantsStart ? prewarmEngineHost(process.env) : null;
const { runCli } = await import('./run-cli');

// `maru list | head`: the reader went away; stop quietly like other command-line tools.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

const controller = new AbortController();
let interrupted = false;
process.on('SIGINT', () => {
  if (interrupted) process.exit(130);
  interrupted = true;
  process.stderr.write('\nmaru: cancelling… (press Ctrl+C again to quit at once)\n');
  controller.abort();
});
process.on('unhandledRejection', (reason) => {
  process.stderr.write(`maru: unhandled rejection: ${reason instanceof Error ? reason.stack : String(reason)}\n`);
  process.exitCode = 1;
});

try {
  process.exitCode = await runCli(argv, {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    signal: controller.signal,
    engineHost,
  });
} finally {
  releasePrewarmed(engineHost); // unused (an error, or --json usage): it exits on its own
}
