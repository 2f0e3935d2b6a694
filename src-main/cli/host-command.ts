// `maru host [--refresh] [--json]`: what this host can do — QEMU, firmware, swtpm, storage,
// and each accelerator's verdict from a real test boot.
import { type CliCommand, type CliContext, writeJson } from './cli-context';
import { parseCommandArgs, requirePositionals } from './cli-options';

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
      // Loaded on demand: other commands should not pay for the probe's code at start-up.
      const { probeHost } = await import('../services/host-probe/host-probe');
      const { formatHostReport } = await import('../services/host-probe/format-host-report');
      const info = await probeHost({ maruHome: maruHome(ctx), refresh: values.refresh === true });
      if (values.json) writeJson(ctx, info);
      else ctx.stdout.write(formatHostReport(info));
    },
  };
}
