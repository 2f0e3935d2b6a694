// `maru` process entry: wires stdio, the environment and Ctrl+C (cancels a running job
// instead of killing it mid-write) into runCli.
import { runCli } from './run-cli';

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

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: controller.signal,
});
