// The `maru` dispatcher: finds the command, runs it, and turns failures into a message on
// stderr and an exit status (1 = the operation failed, 2 = usage, 130 = cancelled).
import { AppError } from '../../src-shared/errors';
import { type CliCommand, type CliContext, UsageError } from './cli-context';
import { libraryCommands } from './library-commands';
import { hostCommand } from './host-command';
import { resolveMaruHome } from '../services/maru-home';
import { serveCommand } from './serve-command';
import { snapshotCommands } from './snapshot-commands';
import { diskCommands } from './disk-commands';
import { storageCommands } from './storage-commands';
import { mediaCommands } from './media-commands';
import { backupCommands } from './backup-commands';
import { vmCommands } from './vm-commands';
import { networkCommands } from './network-commands';
import {
  createControlClient,
  inProcessTransport,
  type ControlEventSource,
  type ControlServices,
} from '../../src-shared/contracts/control';
import { LOCAL_USER_POLICY } from '../../src-shared/contracts/access';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { existsSync } from 'node:fs';
import os from 'node:os';
import type { CliContext as Ctx } from './cli-context';

/** The data folder for this invocation ($MARU_HOME or the OS default). */
export function maruHomeOf(ctx: Ctx): string {
  return resolveMaruHome({ env: ctx.env, platform: process.platform, homedir: os.homedir() });
}

const clients = new WeakMap<Ctx, Promise<ControlServices>>();

/**
 * The control services as the CLI calls them: the typed client over the in-process
 * transport (validation and jobs as for every front end; the local user's full access).
 * `maru start` hands its pre-warmed engine host to the detached spawner.
 */
function cliServices(ctx: Ctx): Promise<ControlServices> {
  let client = clients.get(ctx);
  if (!client) {
    client = (async () => {
      const { createControlServices } = await import('../services/control-services');
      const { detachedNodeSpawner } = await import('../services/vm-runtime/vm-runtime');
      const host = createControlServices({
        maruHome: maruHomeOf(ctx),
        env: ctx.env,
        spawner: detachedNodeSpawner({ prewarmed: ctx.engineHost ?? null }),
      });
      return createControlClient(inProcessTransport(host.services, host, LOCAL_USER_POLICY));
    })();
    clients.set(ctx, client);
  }
  return client;
}

/** The services `maru serve` runs (ISO detection confined to the allowed folders) and their events. */
async function serverControl(ctx: Ctx): Promise<{ services: ControlServices; events: ControlEventSource }> {
  const { createControlServices } = await import('../services/control-services');
  const host = createControlServices({ maruHome: maruHomeOf(ctx), confineMedia: true, env: ctx.env });
  return { services: host.services, events: host };
}

/**
 * The built renderer sits next to the CLI bundle's folder: dist/cli/maru.js → dist/renderer
 * (this module may be a chunk one folder deeper, dist/cli/chunks/).
 */
function findRendererDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, '..', 'renderer'), path.resolve(here, '..', '..', 'renderer')];
  return candidates.find((d) => existsSync(path.join(d, 'index.html'))) ?? candidates[0]!;
}
const rendererDir = findRendererDir();

export function allCommands(): CliCommand[] {
  return [
    hostCommand(cliServices),
    ...libraryCommands(cliServices),
    ...vmCommands(cliServices),
    ...snapshotCommands(cliServices),
    ...diskCommands(cliServices),
    ...storageCommands(cliServices),
    ...networkCommands(cliServices),
    ...mediaCommands(cliServices),
    ...backupCommands(cliServices),
    serveCommand({ maruHome: (ctx) => maruHomeOf(ctx), control: serverControl, rendererDir }),
  ];
}

function helpText(commands: readonly CliCommand[]): string {
  const w = Math.max(...commands.map((c) => c.name.length));
  return (
    'Maru — virtual machines from the command line.\n\nUsage: maru <command> [options]\n\nCommands:\n' +
    commands.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`).join('\n') +
    "\n\nRun `maru <command> --help` for a command's options. Data folder: $MARU_HOME (default ~/.local/share/maru).\n"
  );
}

export async function runCli(argv: string[], ctx: CliContext): Promise<number> {
  const commands = allCommands();
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    ctx.stdout.write(helpText(commands));
    return name ? 0 : 2;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    ctx.stderr.write(`maru: unknown command "${name}".\n\n${helpText(commands)}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    ctx.stdout.write(`${cmd.summary}\n\nUsage: ${cmd.usage}\n${cmd.details ? `\n${cmd.details}\n` : ''}`);
    return 0;
  }
  try {
    await cmd.run(ctx, rest);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      ctx.stderr.write(`maru ${cmd.name}: ${err.message}\nUsage: ${cmd.usage}\n`);
      return 2;
    }
    if (err instanceof AppError) {
      ctx.stderr.write(`maru ${cmd.name}: ${err.message}\n`);
      return err.code === 'CANCELLED' ? 130 : 1;
    }
    ctx.stderr.write(
      `maru ${cmd.name}: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    return 1;
  }
}
