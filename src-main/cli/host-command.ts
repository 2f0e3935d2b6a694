// `maru host [--refresh] [--json]`: what this host can do — QEMU, firmware, swtpm, storage,
// and each accelerator's verdict from a real test boot.
import { type CliCommand, writeJson } from './cli-context';
import { parseCommandArgs, requirePositionals } from './cli-options';
import type { ServicesFactory } from './vm-commands';

export function hostCommand(services: ServicesFactory): CliCommand {
  return {
    name: 'host',
    usage: 'maru host [--refresh] [--json]',
    summary: 'Show what this host can do (re-probe with --refresh)',
    async run(ctx, argv) {
      const { values, positionals } = parseCommandArgs(argv, {
        refresh: { type: 'boolean' },
        json: { type: 'boolean' },
      });
      requirePositionals(positionals, []);
      const info = await (await services(ctx)).host.info({ refresh: values.refresh === true });
      const { formatHostReport } = await import('../services/host-probe/format-host-report');
      if (values.json) writeJson(ctx, info);
      else ctx.stdout.write(formatHostReport(info));
    },
  };
}
