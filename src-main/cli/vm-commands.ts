// `maru start | stop | pause | resume | reset | save-state | discard-state | attach-iso |
// eject | screenshot | send-keys | serial | status`: running VMs from the command line. Each
// command loads the launcher on demand, so `maru list` stays fast.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { EngineStatus } from '../../src-shared/contracts/engine';
import { AppError } from '../../src-shared/errors';
import { type CliCommand, type CliContext, UsageError, writeJson } from './cli-context';
import { intOption, parseCommandArgs, requirePositionals } from './cli-options';

type Launcher = typeof import('../services/engine-launcher');

function launcher(): Promise<Launcher> {
  return import('../services/engine-launcher');
}

function describeStatus(s: EngineStatus): string {
  const lines = [
    `State:       ${s.state}`,
    `Engine:      ${s.engine} (engine host pid ${s.pid}, started ${s.startedAt})`,
    `Accelerator: ${s.accelerator ?? 'none'}${s.acceleratorReason ? ` — ${s.acceleratorReason}` : ''}`,
    `Screen:      ${s.display ? `VNC (RFB) on unix socket ${s.display}` : 'none'}`,
    `CD/DVD:      ${s.cdrom ?? '(empty)'}`,
  ];
  if (s.serialLog) lines.push(`Serial log:  ${s.serialLog}`);
  if (s.resumedFromSavedState) lines.push('Resumed from a saved state.');
  for (const n of s.notes ?? []) lines.push(`Note: ${n}`);
  return lines.join('\n') + '\n';
}

/** Runs `fn` with a control client of the running VM, disposing it after. */
async function withEngine<T>(
  ctx: CliContext,
  maruHome: string,
  ref: string,
  fn: (c: Awaited<ReturnType<Launcher['connectEngineHost']>>) => Promise<T>,
): Promise<T> {
  const { connectEngineHost } = await launcher();
  const conn = await connectEngineHost(maruHome, ref);
  try {
    return await fn(conn);
  } finally {
    conn.client.dispose();
  }
}

function simpleCommand(
  maruHome: (ctx: CliContext) => string,
  name: 'pause' | 'resume' | 'reset',
  summary: string,
  done: string,
): CliCommand {
  return {
    name,
    usage: `maru ${name} VM [--json]`,
    summary,
    async run(ctx, argv) {
      const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' } });
      const [ref] = requirePositionals(positionals, ['VM']);
      await withEngine(ctx, maruHome(ctx), ref!, async ({ vm, client }) => {
        const status = await client[name]();
        if (values.json) writeJson(ctx, status);
        else ctx.stdout.write(`${done} "${vm.config.name}".\n`);
      });
    },
  };
}

export function vmCommands(maruHome: (ctx: CliContext) => string): CliCommand[] {
  return [
    {
      name: 'start',
      usage: 'maru start VM [--headless] [--json]',
      summary: 'Start a virtual machine (in a background engine host)',
      async run(ctx, argv) {
        const { values, positionals } = parseCommandArgs(argv, {
          headless: { type: 'boolean' },
          json: { type: 'boolean' },
        });
        const [ref] = requirePositionals(positionals, ['VM']);
        const { startVm } = await launcher();
        const r = await startVm(maruHome(ctx), ref!, { env: ctx.env, signal: ctx.signal, prewarmed: ctx.engineHost });
        if (values.json) {
          writeJson(ctx, r);
          return;
        }
        const s = r.status;
        ctx.stdout.write(
          `${s.resumedFromSavedState ? 'Resumed' : 'Started'} "${r.vm.name}" (${r.vm.id}) with ${s.engine}, ` +
            `accelerator ${s.accelerator ?? 'none'}.\n`,
        );
        for (const n of s.notes ?? []) ctx.stdout.write(`Note: ${n}\n`);
        if (s.display) ctx.stdout.write(`Screen: VNC (RFB) on unix socket ${s.display}\n`);
        if (s.serialLog)
          ctx.stdout.write(`Serial log: ${s.serialLog} (follow it: maru serial "${r.vm.name}" --follow)\n`);
        if (!values.headless) {
          ctx.stdout.write(
            'The command line always runs VMs headless, in a background engine host that outlives this command.\n' +
              'To see the screen: run "maru serve" and open the VM in the web console, or point a VNC viewer that ' +
              `takes unix sockets at it (e.g. remote-viewer vnc+unix://${s.display ?? 'SOCKET'}).\n`,
          );
        }
        ctx.stdout.write(`Stop it with: maru stop "${r.vm.name}" [--force]\n`);
      },
    },
    {
      name: 'stop',
      usage: 'maru stop VM [--force] [--timeout SECONDS] [--json]',
      summary: 'Power a virtual machine off (ACPI power button; --force pulls the plug)',
      async run(ctx, argv) {
        const { values, positionals } = parseCommandArgs(argv, {
          force: { type: 'boolean' },
          timeout: { type: 'string' },
          json: { type: 'boolean' },
        });
        const [ref] = requirePositionals(positionals, ['VM']);
        const timeout = intOption(values, 'timeout');
        if (timeout !== undefined && values.force)
          throw new UsageError('--timeout applies to an ACPI stop, not --force.');
        const home = maruHome(ctx);
        const { recoverAbandonedRun, connectEngineHost, waitForEngineHostExit } = await launcher();
        // An engine host that died leaves its run folder (and maybe its qemu): clean that up.
        const recovered = await recoverAbandonedRun(home, ref!);
        if (recovered) {
          const msg =
            `VM ${JSON.stringify(ref)} was not running: its engine host had ended abnormally. Cleaned up` +
            (recovered.length ? ` (${recovered.join(', ')}).` : '.');
          if (values.json) writeJson(ctx, { state: 'aborted', forced: true, message: msg });
          else ctx.stdout.write(msg + '\n');
          return;
        }
        const { vm, client, hostPid } = await connectEngineHost(home, ref!);
        try {
          if (!values.force && !values.json) {
            ctx.stderr.write(
              `Pressing the power button of "${vm.config.name}"; waiting up to ${timeout ?? 60} s for the guest to power off…\n`,
            );
          }
          const r = await client.stop({
            mode: values.force ? 'force' : 'acpi',
            ...(timeout !== undefined ? { timeoutMs: timeout * 1000 } : {}),
          });
          // Return once the engine host has cleaned up, so a start right after finds the VM free.
          await waitForEngineHostExit(hostPid);
          if (values.json) writeJson(ctx, r);
          else ctx.stdout.write(`Stopped "${vm.config.name}": ${r.message}\n`);
        } finally {
          client.dispose();
        }
      },
    },
    simpleCommand(maruHome, 'pause', 'Pause a running virtual machine', 'Paused'),
    simpleCommand(maruHome, 'resume', 'Resume a paused virtual machine', 'Resumed'),
    simpleCommand(maruHome, 'reset', 'Reset a virtual machine (like the reset button)', 'Reset'),
    {
      name: 'save-state',
      usage: 'maru save-state VM [--json]',
      summary: 'Save a running VM (memory and devices) and power it off; start resumes it',
      async run(ctx, argv) {
        const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' } });
        const [ref] = requirePositionals(positionals, ['VM']);
        const { waitForEngineHostExit } = await launcher();
        await withEngine(ctx, maruHome(ctx), ref!, async ({ vm, client, hostPid }) => {
          const r = await client.saveState();
          await waitForEngineHostExit(hostPid);
          if (values.json) writeJson(ctx, r);
          else ctx.stdout.write(`Saved the state of "${vm.config.name}"; "maru start ${vm.config.name}" resumes it.\n`);
        });
      },
    },
    {
      name: 'discard-state',
      usage: 'maru discard-state VM',
      summary: "Drop a VM's saved state, so it boots afresh",
      async run(ctx, argv) {
        const { positionals } = parseCommandArgs(argv, {});
        const [ref] = requirePositionals(positionals, ['VM']);
        const { discardSavedState } = await launcher();
        await discardSavedState(maruHome(ctx), ref!, ctx.env);
        ctx.stdout.write(`Discarded the saved state of ${JSON.stringify(ref)}.\n`);
      },
    },
    {
      name: 'attach-iso',
      usage: 'maru attach-iso VM PATH',
      summary: 'Put an ISO image into the CD/DVD drive (a running VM gets it at once)',
      async run(ctx, argv) {
        const { positionals } = parseCommandArgs(argv, {});
        const [ref, file] = requirePositionals(positionals, ['VM', 'PATH']);
        const { inspectIso } = await import('../../src-emulator/media/iso-image');
        const iso = await inspectIso(file!);
        await onRunningOrStored(
          ctx,
          maruHome(ctx),
          ref!,
          async (client, name) => {
            await client.attachIso(iso.path);
            ctx.stdout.write(`Inserted ${iso.path} into the CD/DVD drive of "${name}" (for this run).\n`);
          },
          async (library, name) => {
            await library.modify(ref!, { iso: iso.path });
            ctx.stdout.write(`"${name}" will start with ${iso.path} in its CD/DVD drive.\n`);
          },
        );
      },
    },
    {
      name: 'eject',
      usage: 'maru eject VM',
      summary: 'Empty the CD/DVD drive',
      async run(ctx, argv) {
        const { positionals } = parseCommandArgs(argv, {});
        const [ref] = requirePositionals(positionals, ['VM']);
        await onRunningOrStored(
          ctx,
          maruHome(ctx),
          ref!,
          async (client, name) => {
            await client.eject();
            ctx.stdout.write(`Ejected the CD/DVD of "${name}" (for this run).\n`);
          },
          async (library, name) => {
            await library.modify(ref!, { iso: null });
            ctx.stdout.write(`The CD/DVD drive of "${name}" is empty.\n`);
          },
        );
      },
    },
    {
      name: 'screenshot',
      usage: 'maru screenshot VM FILE.png [--json]',
      summary: "Save a running VM's screen as a PNG image",
      async run(ctx, argv) {
        const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' } });
        const [ref, out] = requirePositionals(positionals, ['VM', 'FILE.png']);
        const file = path.resolve(out!);
        await withEngine(ctx, maruHome(ctx), ref!, async ({ vm, client }) => {
          const shot = await client.screenshot();
          await writeFile(file, Buffer.from(shot.pngBase64, 'base64'));
          if (values.json) writeJson(ctx, { file, width: shot.width, height: shot.height });
          else ctx.stdout.write(`Wrote ${file} (${shot.width}×${shot.height}) from "${vm.config.name}".\n`);
        });
      },
    },
    {
      name: 'send-keys',
      usage: 'maru send-keys VM TEXT | maru send-keys VM --combo ctrl+alt+del [--combo …]',
      summary: 'Type text (US layout) or press key combos in a running VM',
      async run(ctx, argv) {
        const { values, positionals } = parseCommandArgs(argv, { combo: { type: 'string', multiple: true } });
        const combos = (values.combo as string[] | undefined) ?? [];
        if (combos.length > 0) {
          const [ref] = requirePositionals(positionals, ['VM']);
          const { parseCombo } = await import('../../src-emulator/input/key-mapping');
          const strokes = combos.map((c) => parseCombo(c));
          await withEngine(ctx, maruHome(ctx), ref!, async ({ client }) => {
            for (const s of strokes) await client.sendCombo(s);
          });
          return;
        }
        const [ref, text] = requirePositionals(positionals, ['VM', 'TEXT']);
        const { textToKeyStrokes } = await import('../../src-emulator/input/key-mapping');
        textToKeyStrokes(text!); // refuses untypable characters before connecting
        await withEngine(ctx, maruHome(ctx), ref!, async ({ client }) => client.sendKeys(text!));
      },
    },
    {
      name: 'serial',
      usage: 'maru serial VM [--follow] [--send TEXT]',
      summary: "Print a VM's serial console (--follow streams it; --send types a line into it)",
      async run(ctx, argv) {
        const { values, positionals } = parseCommandArgs(argv, {
          follow: { type: 'boolean' },
          send: { type: 'string' },
        });
        const [ref] = requirePositionals(positionals, ['VM']);
        const home = maruHome(ctx);
        if (typeof values.send === 'string') {
          await withEngine(ctx, home, ref!, async ({ client }) => client.serialWrite(`${values.send as string}\r`));
          if (!values.follow) return;
        }
        if (!values.follow) {
          const { Library } = await import('../services/library/library-service');
          const vm = await new Library({ maruHome: home }).show(ref!);
          const { readFile } = await import('node:fs/promises');
          const log = path.join(vm.folder, 'logs', 'serial.log');
          const text = await readFile(log).catch((err: NodeJS.ErrnoException) => {
            if (err.code === 'ENOENT') return null;
            throw err;
          });
          if (text === null)
            throw new AppError('NOT_FOUND', `VM "${vm.config.name}" has no serial log yet (it never ran).`);
          ctx.stdout.write(text);
          return;
        }
        await withEngine(ctx, home, ref!, async ({ vm, client }) => {
          const ended = new Promise<string | null>((resolve) => {
            void client
              .followSerial(
                true,
                (data) => ctx.stdout.write(Buffer.from(data)),
                (state) => resolve(state),
              )
              .catch((err: unknown) => resolve(`error: ${err instanceof Error ? err.message : String(err)}`));
            ctx.signal.addEventListener('abort', () => resolve('interrupted'), { once: true });
          });
          const why = await ended;
          if (why !== 'interrupted') ctx.stderr.write(`\nmaru serial: "${vm.config.name}" is ${why ?? 'gone'}.\n`);
        });
      },
    },
    {
      name: 'status',
      usage: 'maru status VM [--json]',
      summary: 'How a VM runs: state, accelerator, screen socket, CD/DVD',
      async run(ctx, argv) {
        const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' } });
        const [ref] = requirePositionals(positionals, ['VM']);
        const home = maruHome(ctx);
        const { Library } = await import('../services/library/library-service');
        const vm = await new Library({ maruHome: home }).show(ref!);
        if (vm.state !== 'running' && vm.state !== 'paused') {
          const { abortedInfo } = await launcher();
          const aborted = vm.state === 'aborted' ? await abortedInfo(home, ref!) : null;
          if (values.json) writeJson(ctx, { vmId: vm.config.id, state: vm.state, aborted });
          else ctx.stdout.write(`State:       ${vm.state}\n${aborted ? `Why:         ${aborted.reason}\n` : ''}`);
          return;
        }
        await withEngine(ctx, home, ref!, async ({ client }) => {
          const s = await client.status();
          if (values.json) writeJson(ctx, s);
          else ctx.stdout.write(describeStatus(s));
        });
      },
    },
  ];
}

/** Runs `running` when the VM runs (a live media change), else `stored` (a config change). */
async function onRunningOrStored(
  ctx: CliContext,
  maruHome: string,
  ref: string,
  running: (client: import('../../src-emulator/host/control-client').EngineHostClient, name: string) => Promise<void>,
  stored: (library: import('../services/library/library-service').Library, name: string) => Promise<void>,
): Promise<void> {
  const { Library } = await import('../services/library/library-service');
  const library = new Library({ maruHome });
  const vm = await library.show(ref);
  if (vm.state === 'running' || vm.state === 'paused') {
    await withEngine(ctx, maruHome, ref, ({ client }) => running(client, vm.config.name));
  } else {
    await stored(library, vm.config.name);
  }
}
