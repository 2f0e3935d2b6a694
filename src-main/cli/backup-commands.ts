// `maru export VM FILE` and `maru import FILE [--name N] [--replace VM]`: one VM as one
// archive file and back, VBoxManage-style verbs; FILE.ova (import: or FILE.ovf) is an appliance instead. Each is one
// call of the `backup` (or `appliances`) control service; progress on stderr, Ctrl+C cancels (the partial archive or VM is removed).
import path from 'node:path';
import type { BackupExportResult, BackupImportResult } from '../../src-shared/contracts/backup';
import { AppError } from '../../src-shared/errors';
import { formatBytes } from '../../src-shared/format-bytes';
import { type CliCommand, type CliContext, UsageError, writeJson } from './cli-context';
import { parseCommandArgs, requirePositionals, type OptionValues } from './cli-options';
import { progressReporter } from './progress-reporter';
import type { ServicesFactory } from './service-command';

/** Appliance files (VirtualBox's OVA): the `appliances` service, not a Maru archive. */
const APPLIANCE = /\.ova$/i;
/** What imports as an appliance: an OVA, or a loose OVF descriptor with its files beside it. */
const APPLIANCE_IN = /\.(ova|ovf)$/i;

function jobOptions(ctx: CliContext, values: OptionValues) {
  return { ...(values.json ? {} : { onProgress: progressReporter(ctx.stderr) }), signal: ctx.signal };
}

function rate(bytes: number, seconds: number): string {
  return seconds > 0 ? `, ${formatBytes(bytes / seconds)}/s` : '';
}

function warn(ctx: CliContext, name: string, warnings: readonly string[]): void {
  for (const w of warnings) ctx.stderr.write(`maru ${name}: note: ${w}\n`);
}

export function formatExport(r: BackupExportResult): string {
  return (
    `Exported VM ${JSON.stringify(r.vmName)} to ${r.path}\n` +
    `${r.files} files, ${formatBytes(r.bytes)} in ${r.seconds.toFixed(1)} s${rate(r.bytes, r.seconds)}.\n` +
    (r.liveSnapshot ? `It holds live snapshot ${JSON.stringify(r.liveSnapshot.name)} of the running VM.\n` : '')
  );
}

export function formatImport(r: BackupImportResult): string {
  return (
    (r.replaced
      ? `Restored VM ${JSON.stringify(r.name)} (${r.vmId}) from the archive; its previous files are gone.\n`
      : `Imported VM ${JSON.stringify(r.name)} (${r.vmId}).\n`) +
    `${r.files} files, ${formatBytes(r.bytes)} checked (SHA-256) in ${r.seconds.toFixed(1)} s${rate(r.bytes, r.seconds)}; ` +
    `made by Maru ${r.madeBy}.\n`
  );
}

export function backupCommands(services: ServicesFactory): CliCommand[] {
  return [
    {
      name: 'export',
      usage: 'maru export VM FILE [--json]',
      summary: 'Write a VM (disks, snapshots, NVRAM, TPM state) to one archive file (.maru), or an appliance (.ova)',
      details:
        'FILE must not exist; name it NAME.maru. A running VM gets a live snapshot first and is paused while\n' +
        'its files are read. The archive is a plain tar (tar -tf lists it) with SHA-256 checksums.\n' +
        'FILE.ova writes an appliance VirtualBox imports (OVF 1.0, streamOptimized VMDK disks, SHA-256\n' +
        'manifest): settings and disks only, no snapshots; the VM must be powered off.',
      async run(ctx, argv) {
        const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' } });
        const [vm, file] = requirePositionals(positionals, ['VM', 'FILE']);
        if (APPLIANCE.test(file!)) {
          const { appliances } = await services(ctx);
          const r = await appliances.export(vm!, path.resolve(file!), jobOptions(ctx, values));
          if (values.json) writeJson(ctx, r);
          else
            ctx.stdout.write(
              `Exported VM ${JSON.stringify(vm)} as an appliance: ${r.path} (${formatBytes(r.bytes)}: ${r.files.join(', ')}).\n`,
            );
          return;
        }
        if (/\.ovf$/i.test(file!)) throw new UsageError('Maru writes appliances as one .ova file; name it FILE.ova.');
        const { backup } = await services(ctx);
        const r = await backup.export(vm!, path.resolve(file!), jobOptions(ctx, values));
        if (values.json) writeJson(ctx, r);
        else {
          warn(ctx, 'export', r.warnings);
          ctx.stdout.write(formatExport(r));
        }
      },
    },
    {
      name: 'import',
      usage: 'maru import FILE [--name NAME] [--replace VM] [--dry-run] [--json]',
      summary:
        'Bring a VM back from an archive (.maru) or an appliance (.ova, .ovf), checked before anything is registered',
      details:
        "Every file is checked against the archive's SHA-256 list before the VM appears. A VM whose uuid is\n" +
        'taken here gets a new one; a taken name gets a number unless --name is given.\n' +
        '--replace VM restores the archive over an existing VM (not running; it may be inaccessible): the\n' +
        "archive is checked first, then the VM's folder is swapped for it.\n" +
        "FILE.ova imports an appliance (VirtualBox's or Maru's): its descriptor, manifest digests and disks are\n" +
        'checked as VirtualBox checks them, then its disks become qcow2. --dry-run only checks and shows it.\n' +
        'FILE.ovf does the same for a descriptor with its disk files (and NAME.mf) beside it, as VMware and\n' +
        'VirtualBox export a folder; they are only read. OVF 1.x and 2.0 descriptors are read.',
      async run(ctx, argv) {
        const { values, positionals } = parseCommandArgs(argv, {
          json: { type: 'boolean' },
          name: { type: 'string' },
          replace: { type: 'string' },
          'dry-run': { type: 'boolean' },
        });
        const [file] = requirePositionals(positionals, ['FILE']);
        if (APPLIANCE_IN.test(file!)) {
          if (typeof values.replace === 'string')
            throw new UsageError('--replace restores a Maru archive (.maru), not an appliance.');
          const { appliances } = await services(ctx);
          if (values['dry-run'] === true) {
            const c = await appliances.check(path.resolve(file!));
            if (values.json) writeJson(ctx, c);
            else {
              ctx.stdout.write(
                `Appliance ${JSON.stringify(c.name)}: ${c.os}, ${c.cpus} CPU, ${c.memoryMiB} MiB, ${c.firmware.toUpperCase()}, ` +
                  `${c.disks.length} disk(s): ${c.disks.map((d) => `${d.file} (${formatBytes(d.capacityBytes)}, ${d.controller})`).join(', ')}\n` +
                  (c.notCarried.length ? `Not carried over:\n${c.notCarried.map((n) => `- ${n}`).join('\n')}\n` : '') +
                  (c.problems.length
                    ? `Problems:\n${c.problems.map((p) => `- ${p}`).join('\n')}\n`
                    : 'No problems found.\n'),
              );
            }
            if (c.problems.length)
              throw new AppError('INVALID_ARGUMENT', `${c.problems.length} problem(s) in ${c.path}.`);
            return;
          }
          const r = await appliances.import(
            path.resolve(file!),
            typeof values.name === 'string' ? { name: values.name } : {},
            jobOptions(ctx, values),
          );
          if (values.json) writeJson(ctx, r);
          else {
            warn(ctx, 'import', r.warnings);
            ctx.stdout.write(`Imported appliance as VM ${JSON.stringify(r.name)} (${r.vmId}).\n`);
          }
          return;
        }
        if (values['dry-run'] === true) throw new UsageError('--dry-run checks an appliance (FILE.ova or FILE.ovf).');
        const { backup } = await services(ctx);
        const r = await backup.import(
          path.resolve(file!),
          {
            ...(typeof values.name === 'string' ? { name: values.name } : {}),
            ...(typeof values.replace === 'string' ? { replace: values.replace } : {}),
          },
          jobOptions(ctx, values),
        );
        if (values.json) writeJson(ctx, r);
        else {
          warn(ctx, 'import', r.warnings);
          ctx.stdout.write(formatImport(r));
        }
      },
    },
  ];
}
