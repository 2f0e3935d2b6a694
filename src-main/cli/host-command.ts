// `maru host [--refresh] [--json]`: what this host can do — QEMU, firmware, swtpm, storage,
// and each accelerator's verdict from a real test boot.
import { type CliCommand, type CliContext, writeJson } from './cli-context';
import { parseCommandArgs, requirePositionals } from './cli-options';
import { probeHost } from '../services/host-probe/host-probe';
import { formatHostReport } from '../services/host-probe/format-host-report';

export function hostCommand(maruHome: (ctx: CliContext) => string): CliCommand {
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
      const info = await probeHost({ maruHome: maruHome(ctx), refresh: values.refresh === true });
      if (values.json) writeJson(ctx, info);
      else ctx.stdout.write(formatHostReport(info));
    },
  };
}
