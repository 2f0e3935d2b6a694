// `maru start | stop | pause | resume | reset | save-state | discard-state | attach-iso |
// eject | screenshot | send-keys | serial | status`: running VMs from the command line. Every
// verb is one call of the `vm` control service — the same methods the desktop and the web
// console call — through the CLI's in-process transport.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { EngineStatus } from '../../src-shared/contracts/engine';
import { type CliCommand, UsageError } from './cli-context';
import { intOption, parseCommandArgs, requirePositionals } from './cli-options';
import { progressReporter } from './progress-reporter';
import { serviceCommand, type ServicesFactory } from './service-command';

function describeStatus(s: EngineStatus): string {
  const lines = [
    `State:       ${s.state}`,
    `Engine:      ${s.engine} (engine host pid ${s.pid}, started ${s.startedAt})`,
    `Accelerator: ${s.accelerator ?? 'none'}${s.acceleratorReason ? ` — ${s.acceleratorReason}` : ''}`,
    `Screen:      ${s.display ? `VNC (RFB) on unix socket ${s.display}` : 'none'}`,
  ];
  const media = s.media ?? [{ id: 'cd0', kind: 'cdrom' as const, medium: s.cdrom }];
  for (const m of media) {
    const what = m.kind === 'cdrom' ? 'CD/DVD' : 'Floppy';
    lines.push(`${`${what} ${m.id}:`.padEnd(13)}${m.medium ?? '(empty)'}`);
  }
  if (s.serialLog) lines.push(`Serial log:  ${s.serialLog}`);
  if (s.resumedFromSavedState) lines.push('Resumed from a saved state.');
  for (const n of s.notes ?? []) lines.push(`Note: ${n}`);
  return lines.join('\n') + '\n';
}

function powerVerb(services: ServicesFactory, name: 'pause' | 'resume' | 'reset', summary: string, done: string) {
  return serviceCommand(services, {
    usage: `maru ${name} VM [--json]`,
    summary,
    async run({ vm }, _ctx, { args: [ref] }) {
      const status = await vm[name](ref!);
      return { json: status, text: `${done} ${JSON.stringify(ref)} (${status.state}).\n` };
    },
  });
}

export function vmCommands(services: ServicesFactory): CliCommand[] {
  return [
    serviceCommand(services, {
      usage: 'maru start VM [--headless] [--json]',
      summary: 'Start a virtual machine (in a background engine host)',
      options: { headless: { type: 'boolean' } },
      async run({ vm }, ctx, { args: [ref], values }) {
        const r = await vm.start(ref!, {
          ...(values.json ? {} : { onProgress: progressReporter(ctx.stderr) }),
          signal: ctx.signal,
        });
        const s = r.status;
        const lines = [
          `${s.resumedFromSavedState ? 'Resumed' : 'Started'} "${r.name}" (${r.vmId}) with ${s.engine}, ` +
            `accelerator ${s.accelerator ?? 'none'}.`,
          ...(s.notes ?? []).map((n) => `Note: ${n}`),
          ...(s.display ? [`Screen: VNC (RFB) on unix socket ${s.display}`] : []),
          ...(s.serialLog ? [`Serial log: ${s.serialLog} (follow it: maru serial "${r.name}" --follow)`] : []),
          ...(values.headless
            ? []
            : [
                'The command line always runs VMs headless, in a background engine host that outlives this command.',
                'To see the screen: run "maru serve" and open the VM in the web console, or point a VNC viewer that ' +
                  `takes unix sockets at it (e.g. remote-viewer vnc+unix://${s.display ?? 'SOCKET'}).`,
              ]),
          `Stop it with: maru stop "${r.name}" [--force]`,
        ];
        return { json: r, text: lines.join('\n') + '\n' };
      },
    }),
    serviceCommand(services, {
      usage: 'maru stop VM [--force] [--timeout SECONDS] [--json]',
      summary: 'Power a virtual machine off (ACPI power button; --force pulls the plug)',
      options: { force: { type: 'boolean' }, timeout: { type: 'string' } },
      async run({ vm }, ctx, { args: [ref], values }) {
        const timeout = intOption(values, 'timeout');
        if (timeout !== undefined && values.force)
          throw new UsageError('--timeout applies to an ACPI stop, not --force.');
        if (!values.force && !values.json) {
          ctx.stderr.write(
            `Pressing the power button of ${JSON.stringify(ref)}; waiting up to ${timeout ?? 60} s for the guest to power off…\n`,
          );
        }
        const r = await vm.stop(ref!, {
          force: values.force === true,
          ...(timeout !== undefined ? { timeoutSeconds: timeout } : {}),
        });
        return {
          json: r,
          text: r.state === 'aborted' ? `${r.message}\n` : `Stopped ${JSON.stringify(ref)}: ${r.message}\n`,
        };
      },
    }),
    powerVerb(services, 'pause', 'Pause a running virtual machine', 'Paused'),
    powerVerb(services, 'resume', 'Resume a paused virtual machine', 'Resumed'),
    powerVerb(services, 'reset', 'Reset a virtual machine (like the reset button)', 'Reset'),
    serviceCommand(services, {
      usage: 'maru save-state VM [--json]',
      summary: 'Save a running VM (memory and devices) and power it off; start resumes it',
      async run({ vm }, _ctx, { args: [ref] }) {
        const r = await vm.saveState(ref!);
        return { json: r, text: `Saved the state of ${JSON.stringify(ref)}; "maru start ${ref}" resumes it.\n` };
      },
    }),
    serviceCommand(services, {
      usage: 'maru discard-state VM',
      summary: "Drop a VM's saved state, so it boots afresh",
      async run({ vm }, _ctx, { args: [ref] }) {
        await vm.discardState(ref!);
        return { json: { discarded: ref }, text: `Discarded the saved state of ${JSON.stringify(ref)}.\n` };
      },
    }),
    serviceCommand(services, {
      usage: 'maru attach-iso VM PATH [--drive ID]',
      summary: 'Put an ISO image into the CD/DVD drive (--drive: another CD/DVD drive; a running VM gets it at once)',
      options: { drive: { type: 'string' } },
      async run({ vm }, _ctx, { args: [ref, iso], values }) {
        const drive = typeof values.drive === 'string' ? values.drive : undefined;
        const r = drive
          ? await vm.changeMedium(ref!, drive, path.resolve(iso!))
          : await vm.attachIso(ref!, path.resolve(iso!));
        const which = drive ? `CD/DVD drive ${drive}` : 'CD/DVD drive';
        const text = r.live
          ? `Inserted ${r.iso} into the ${which} of "${r.name}" (for this run).\n`
          : `"${r.name}" will start with ${r.iso} in its ${which}.\n`;
        return { json: r, text };
      },
    }),
    serviceCommand(services, {
      usage: 'maru eject VM [--drive ID]',
      summary: 'Empty the CD/DVD drive (--drive: another CD/DVD or a floppy drive)',
      options: { drive: { type: 'string' } },
      async run({ vm }, _ctx, { args: [ref], values }) {
        const drive = typeof values.drive === 'string' ? values.drive : undefined;
        const r = drive ? await vm.changeMedium(ref!, drive, null) : await vm.eject(ref!);
        const which = `${r.kind === 'floppy' ? 'floppy' : 'CD/DVD'} drive${drive ? ` ${r.drive ?? drive}` : ''}`;
        const text = r.live
          ? `Ejected the ${which} of "${r.name}" (for this run).\n`
          : `The ${which} of "${r.name}" is empty.\n`;
        return { json: r, text };
      },
    }),
    serviceCommand(services, {
      usage: 'maru screenshot VM FILE.png [--json]',
      summary: "Save a running VM's screen as a PNG image",
      async run({ vm }, _ctx, { args: [ref, fileArg] }) {
        const file = path.resolve(fileArg!);
        const shot = await vm.screenshot(ref!);
        await writeFile(file, Buffer.from(shot.pngBase64, 'base64'));
        return {
          json: { file, width: shot.width, height: shot.height },
          text: `Wrote ${file} (${shot.width}×${shot.height}) from ${JSON.stringify(ref)}.\n`,
        };
      },
    }),
    {
      name: 'send-keys',
      usage: 'maru send-keys VM TEXT | maru send-keys VM --combo ctrl+alt+del [--combo …]',
      summary: 'Type text (US layout) or press key combos in a running VM',
      async run(ctx, argv) {
        const { values, positionals } = parseCommandArgs(argv, { combo: { type: 'string', multiple: true } });
        const combos = (values.combo as string[] | undefined) ?? [];
        const { vm } = await services(ctx);
        if (combos.length > 0) {
          const [ref] = requirePositionals(positionals, ['VM']);
          for (const c of combos) {
            if (c.split('+').some((k) => k.trim() === '')) {
              throw new UsageError(
                `${JSON.stringify(c)} is not a key combo: write keys joined by "+", e.g. ctrl+alt+del.`,
              );
            }
          }
          await vm.sendKeys(ref!, { combos: combos.map((c) => c.split('+').map((k) => k.trim())) });
          return;
        }
        const [ref, text] = requirePositionals(positionals, ['VM', 'TEXT']);
        await vm.sendKeys(ref!, { text: text! });
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
        const { vm } = await services(ctx);
        if (typeof values.send === 'string') {
          await vm.sendSerial(ref!, values.send);
          if (!values.follow) return;
        }
        if (!values.follow) {
          ctx.stdout.write(await vm.readSerial(ref!));
          return;
        }
        const r = await vm.followSerial(
          ref!,
          { history: true },
          {
            signal: ctx.signal,
            onProgress: (p) => {
              if (p.data) ctx.stdout.write(Buffer.from(p.data, 'base64'));
            },
          },
        );
        if (!ctx.signal.aborted)
          ctx.stderr.write(`\nmaru serial: ${JSON.stringify(ref)} is ${r.endedState ?? 'gone'}.\n`);
      },
    },
    serviceCommand(services, {
      usage: 'maru status VM [--json]',
      summary: 'How a VM runs: state, accelerator, screen socket, CD/DVD',
      async run({ vm, library }, _ctx, { args: [ref] }) {
        const status = await vm.status(ref!);
        if (status) return { json: status, text: describeStatus(status) };
        const aborted = await vm.abortInfo(ref!);
        const details = await library.show(ref!);
        return {
          json: { vmId: details.config.id, state: details.state, aborted },
          text: `State:       ${details.state}\n${aborted ? `Why:         ${aborted.reason}\n` : ''}`,
        };
      },
    }),
  ];
}
