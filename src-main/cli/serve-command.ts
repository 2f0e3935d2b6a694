// `maru serve`: runs the web console (the same UI in a browser) until Ctrl+C, and
// `maru serve --set-password` to set its login password.
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { AppError } from '../../src-shared/errors';
import type { ControlEventSource, ControlServices } from '../../src-shared/contracts/control';
import { type CliCommand, type CliContext, UsageError } from './cli-context';
import { intOption, parseCommandArgs, requirePositionals } from './cli-options';

/**
 * The lines of a non-interactive stdin, one per call: a pipe carries the password once per
 * prompt (`printf '%s\n%s\n' "$pw" "$pw" | maru serve --set-password`), and the line break is
 * never part of it. Null at the end of the input.
 */
function lineReader(input: NodeJS.ReadableStream): { next(): Promise<string | null>; close(): void } {
  const rl = createInterface({ input, terminal: false, crlfDelay: Infinity });
  const lines = rl[Symbol.asyncIterator]();
  return {
    next: async () => {
      const r = await lines.next();
      return r.done ? null : r.value;
    },
    close: () => rl.close(),
  };
}

async function readPassword(ctx: CliContext, fromStdin: boolean): Promise<string> {
  const stdin = process.stdin;
  if (fromStdin || !stdin.isTTY) {
    const lines = lineReader(stdin);
    try {
      const first = await lines.next();
      if (first === null) {
        throw new AppError('INVALID_ARGUMENT', 'No password on standard input; nothing was changed.');
      }
      // --password-stdin: one line. A plain pipe answers both prompts: the password, then again.
      if (fromStdin) return first;
      const again = await lines.next();
      if (again === null) {
        throw new AppError(
          'INVALID_ARGUMENT',
          'Standard input held the password once, but it is asked twice (two lines); nothing was changed. ' +
            'Pipe it twice, or pass --password-stdin to read one line.',
        );
      }
      if (first !== again) throw new AppError('INVALID_ARGUMENT', 'The two passwords differ; nothing was changed.');
      return first;
    } finally {
      lines.close();
    }
  }
  // Interactive: prompt twice without echo.
  const ask = (q: string) =>
    new Promise<string>((resolve) => {
      const rl = createInterface({ input: stdin, output: ctx.stderr, terminal: true });
      const out = rl as unknown as { _writeToOutput: (s: string) => void };
      ctx.stderr.write(q);
      out._writeToOutput = () => undefined;
      rl.question('', (a) => {
        rl.close();
        ctx.stderr.write('\n');
        resolve(a);
      });
    });
  const a = await ask('New web console password: ');
  const b = await ask('Again: ');
  if (a !== b) throw new AppError('INVALID_ARGUMENT', 'The two passwords differ; nothing was changed.');
  return a;
}

export function serveCommand(deps: {
  maruHome: (ctx: CliContext) => string;
  /** The services the server runs, with their change events (createControlServices). */
  control: (ctx: CliContext) => Promise<{ services: ControlServices; events: ControlEventSource }>;
  rendererDir: string;
}): CliCommand {
  return {
    name: 'serve',
    usage:
      'maru serve [--host 127.0.0.1] [--port 7780] [--tls-cert FILE --tls-key FILE] [--allow-origin URL]... ' +
      '[--allow-remote-forwards] ' +
      '| maru serve --set-password [--password-stdin]',
    summary: 'Run the web console (browser UI for NAS / remote use)',
    async run(ctx, argv) {
      const { values, positionals } = parseCommandArgs(argv, {
        host: { type: 'string' },
        port: { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'allow-origin': { type: 'string', multiple: true },
        // The owner's choice: port forwards set from the web may listen beyond loopback.
        'allow-remote-forwards': { type: 'boolean' },
        'set-password': { type: 'boolean' },
        'password-stdin': { type: 'boolean' },
      });
      requirePositionals(positionals, []);
      const maruHome = deps.maruHome(ctx);
      // Loaded on demand: the server's code is not parsed for other commands.
      const { WebServer } = await import('../server/web-server');
      const { setPassword } = await import('../server/password-store');
      if (values['set-password']) {
        await setPassword(maruHome, await readPassword(ctx, values['password-stdin'] === true));
        ctx.stdout.write('Web console password set. Start it with: maru serve\n');
        return;
      }
      const port = intOption(values, 'port') ?? 7780;
      if (port > 65535) throw new UsageError('--port must be 0–65535.');
      const certFile = values['tls-cert'];
      const keyFile = values['tls-key'];
      if ((certFile === undefined) !== (keyFile === undefined))
        throw new UsageError('--tls-cert and --tls-key go together.');
      const tls =
        typeof certFile === 'string' && typeof keyFile === 'string'
          ? { cert: await readFile(certFile), key: await readFile(keyFile) }
          : undefined;
      const log = (l: string) => ctx.stderr.write(l + '\n');
      const { loadPageRenderer } = await import('../server/page-renderer');
      const { isoFoldersFromEnv } = await import('../services/iso-detect/media-service');
      const server = new WebServer({
        host: typeof values.host === 'string' ? values.host : '127.0.0.1',
        port,
        ...(tls ? { tls } : {}),
        maruHome,
        rendererDir: deps.rendererDir,
        ...(await deps.control(ctx)),
        allowedOrigins: (values['allow-origin'] as string[] | undefined) ?? [],
        allowRemoteForwards: values['allow-remote-forwards'] === true,
        isoFolders: isoFoldersFromEnv(ctx.env),
        pageRenderer: await loadPageRenderer(deps.rendererDir, log),
        log,
      });
      const { url, oneTimeToken } = await server.start();
      ctx.stdout.write(`Maru web console: ${url}\n`);
      if (oneTimeToken) {
        ctx.stdout.write(
          `No password is set. One-time login token: ${oneTimeToken}\n` +
            `Set a password with: maru serve --set-password\n`,
        );
      }
      await new Promise<void>((resolve) => {
        if (ctx.signal.aborted) resolve();
        ctx.signal.addEventListener('abort', () => resolve(), { once: true });
        process.once('SIGTERM', () => resolve());
      });
      await server.close();
      ctx.stdout.write('Maru web console stopped.\n');
    },
  };
}
