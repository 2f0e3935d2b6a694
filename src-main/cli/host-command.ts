// `maru host [--refresh] [--json]`: what this host can do — QEMU, firmware, swtpm, storage,
// and each accelerator's verdict from a real test boot.
import type { CliCommand } from './cli-context';
import { serviceCommand, shown, type ServicesFactory } from './service-command';

export function hostCommand(services: ServicesFactory): CliCommand {
  return serviceCommand(services, {
    usage: 'maru host [--refresh] [--json]',
    summary: 'Show what this host can do (re-probe with --refresh)',
    options: { refresh: { type: 'boolean' } },
    async run({ host }, _ctx, { values }) {
      const info = await host.info({ refresh: values.refresh === true });
      const { formatHostReport } = await import('../services/host-probe/format-host-report');
      return shown(info, formatHostReport);
    },
  });
}
