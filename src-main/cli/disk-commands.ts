// `maru disk info | create | import | resize | compact | convert`: disk images from the command line,
// VBoxManage-style. Each verb is one call of the `disks` control service (the one every front
// end calls); long ones show progress on stderr, and Ctrl+C cancels them.
import path from 'node:path';
import { DISK_FORMAT_LABEL, DISK_FORMATS, type DiskImageInfo } from '../../src-shared/contracts/disks';
import { formatBytes } from '../../src-shared/format-bytes';
import { type CliCommand, type CliContext, UsageError, writeJson } from './cli-context';
import { intOption, oneOf, parseCommandArgs, type OptionValues } from './cli-options';
import { progressReporter } from './progress-reporter';
import type { ServicesFactory } from './service-command';

const VERBS = ['info', 'create', 'import', 'resize', 'compact', 'convert'] as const;
type Verb = (typeof VERBS)[number];

/** Per verb: its positional, the options it takes besides --json, and those it needs. */
const VERB_SHAPES: Record<Verb, { positional: string; options: readonly string[]; required: readonly string[] }> = {
  info: { positional: 'PATH', options: [], required: [] },
  create: { positional: 'FILE', options: ['size'], required: ['size'] },
  import: { positional: 'PATH', options: ['name', 'source-format'], required: [] },
  resize: { positional: 'VM', options: ['disk', 'size'], required: ['size'] },
  compact: { positional: 'VM', options: ['disk'], required: [] },
  convert: { positional: 'PATH', options: ['format', 'output'], required: ['format', 'output'] },
};

const FORMATS = DISK_FORMATS.join(', ');

const USAGE = [
  'maru disk info PATH [--json]',
  'maru disk create FILE --size SIZE [--json]',
  'maru disk import PATH [--name NAME] [--source-format FORMAT] [--json]',
  'maru disk resize VM --size SIZE [--disk N] [--json]',
  'maru disk compact VM [--disk N] [--json]',
  'maru disk convert PATH --format FORMAT --output FILE [--json]',
].join('\n       ');

const DETAILS =
  `FORMAT is one of ${FORMATS} (vhd: Virtual PC / Hyper-V VHD).\n` +
  'create writes a new, empty qcow2 disk of SIZE (it grows as the guest writes); attach it with\n' +
  '  "maru storage VM attach --type hdd --medium FILE".\n' +
  'import copies a VDI, VMDK (monolithic, split or streamOptimized), VHD, VHDX, raw or qcow2 disk into\n' +
  '  $MARU_HOME/disks/NAME.qcow2; the source is only read. A raw image must be named .img, .raw or .bin,\n' +
  '  or be given --source-format raw.\n' +
  'resize grows disk N (default 0) of a VM that is off: SIZE like 20G, 512M, 1.5T, or +10G to add.\n' +
  '  Shrinking is refused. The guest must then extend its partition to use the new space.\n' +
  'compact gives back to the host the space of data the guest zeroed (VM off; not with internal snapshots).\n' +
  'convert writes a copy of a disk image in another format (to take a disk to VirtualBox, VMware, Hyper-V).';

const OPTIONS = {
  json: { type: 'boolean' },
  name: { type: 'string' },
  'source-format': { type: 'string' },
  disk: { type: 'string' },
  size: { type: 'string' },
  format: { type: 'string' },
  output: { type: 'string' },
} as const;

const UNITS: Record<string, number> = { b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 };

/** "20G", "20GiB", "512M", "1.5T", "+10G" (relative), "20" (GiB, as `maru create --disk`). */
export function parseSize(text: string): { bytes: number; relative: boolean } {
  const m = /^\s*(\+)?\s*(\d+(?:\.\d+)?)\s*([bkmgtp])?(?:i?b)?\s*$/i.exec(text);
  if (!m) {
    throw new UsageError(`--size must be a size like 20G, 512M, 1.5T or +10G (to add), got "${text}".`);
  }
  const bytes = Math.round(Number(m[2]) * UNITS[(m[3] ?? 'g').toLowerCase()]!);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new UsageError(`--size must be more than 0, got "${text}".`);
  return { bytes, relative: m[1] === '+' };
}

function parseDiskArgs(argv: string[]): { verb: Verb; target: string; values: OptionValues } {
  const { values, positionals } = parseCommandArgs(argv, OPTIONS);
  const [verb, target, ...extra] = positionals;
  if (verb === undefined) throw new UsageError(`missing the verb: ${VERBS.join(', ')}.`);
  if (!(VERBS as readonly string[]).includes(verb)) {
    throw new UsageError(`"${verb}" is not a disk verb; use ${VERBS.join(', ')}.`);
  }
  const shape = VERB_SHAPES[verb as Verb];
  if (target === undefined) throw new UsageError(`${verb}: missing ${shape.positional}.`);
  if (extra.length > 0) throw new UsageError(`${verb}: unexpected argument "${extra[0]}".`);
  for (const option of Object.keys(OPTIONS)) {
    if (option === 'json' || values[option] === undefined) continue;
    if (!shape.options.includes(option)) throw new UsageError(`${verb} takes no --${option}.`);
  }
  for (const option of shape.required) {
    if (values[option] === undefined) throw new UsageError(`${verb}: missing --${option}.`);
  }
  return { verb: verb as Verb, target, values };
}

function formatName(info: DiskImageInfo): string {
  return `${DISK_FORMAT_LABEL[info.format]}${info.subformat ? ` ${info.subformat}` : ''}`;
}

/** A disk image as text: one "Key: value" line each. */
export function formatDiskInfo(info: DiskImageInfo): string {
  const rows: [string, string][] = [
    ['File', info.path],
    ['Format', formatName(info)],
    ['Virtual size', `${formatBytes(info.virtualSizeBytes)} (${info.virtualSizeBytes} bytes)`],
    ['Actual size', formatBytes(info.actualSizeBytes)],
    ['Backing file', info.backingFile ?? 'none'],
    ['Snapshots', info.snapshots.length ? `${info.snapshots.length} (${info.snapshots.join(', ')})` : 'none'],
  ];
  if (info.files.length > 1) rows.push(['Parts', info.files.map((f) => path.basename(f)).join(', ')]);
  rows.push(['Import', info.importProblem ? `refused: ${info.importProblem}` : 'possible']);
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${(k + ':').padEnd(w + 2)}${v}`).join('\n') + '\n';
}

function diskIndex(values: OptionValues): number {
  return intOption(values, 'disk') ?? 0;
}

function warn(ctx: CliContext, warnings: readonly string[]): void {
  for (const w of warnings) ctx.stderr.write(`maru disk: warning: ${w}\n`);
}

function seconds(s: number): string {
  return s < 10 ? `${s.toFixed(1)} s` : `${Math.round(s)} s`;
}

export function diskCommands(services: ServicesFactory): CliCommand[] {
  return [
    {
      name: 'disk',
      usage: USAGE,
      details: DETAILS,
      summary: 'Show, import, grow, compact or convert disk images (VDI, VMDK, VHD, VHDX, raw, qcow2)',
      async run(ctx, argv) {
        const { verb, target, values } = parseDiskArgs(argv);
        const { disks, library } = await services(ctx);
        const job = { ...(values.json ? {} : { onProgress: progressReporter(ctx.stderr) }), signal: ctx.signal };
        const out = (json: unknown, text: string) => {
          if (values.json) writeJson(ctx, json);
          else ctx.stdout.write(text);
        };
        switch (verb) {
          case 'info': {
            const info = await disks.inspect(path.resolve(target));
            out(info, formatDiskInfo(info));
            return;
          }
          case 'create': {
            const size = parseSize(String(values.size));
            if (size.relative) throw new UsageError('create: --size takes a size like 20G, not a "+" size.');
            const r = await disks.create(path.resolve(target), size.bytes);
            warn(ctx, r.warnings);
            out(
              r,
              `Created ${r.path} (qcow2, ${formatBytes(r.virtualSizeBytes)}). Attach it: ` +
                `maru storage VM attach --type hdd --medium ${JSON.stringify(r.path)}\n`,
            );
            return;
          }
          case 'import': {
            const sourceFormat = oneOf(values, 'source-format', DISK_FORMATS);
            const r = await disks.import(
              path.resolve(target),
              {
                ...(typeof values.name === 'string' ? { name: values.name } : {}),
                ...(sourceFormat ? { sourceFormat } : {}),
              },
              job,
            );
            warn(ctx, r.warnings);
            out(
              r,
              `Imported ${r.source.path} (${formatName(r.source)}, ${formatBytes(r.source.virtualSizeBytes)}) ` +
                `in ${seconds(r.seconds)}.\nNew disk: ${r.path} (qcow2, ${formatBytes(r.image.actualSizeBytes)} on the host).\n`,
            );
            return;
          }
          case 'resize': {
            const index = diskIndex(values);
            const size = parseSize(String(values.size));
            let bytes = size.bytes;
            if (size.relative) {
              const vm = await library.show(target);
              const disk = vm.disks[index];
              if (!disk) throw new UsageError(`VM ${JSON.stringify(target)} has no disk ${index}.`);
              bytes += disk.virtualSizeBytes;
            }
            const r = await disks.resize(target, index, bytes, job);
            warn(ctx, r.warnings);
            out(
              r,
              r.newSizeBytes === r.oldSizeBytes
                ? `Disk ${r.diskId} of VM ${JSON.stringify(target)} stays ${formatBytes(r.newSizeBytes)}.\n`
                : `Disk ${r.diskId} of VM ${JSON.stringify(target)} grew from ${formatBytes(r.oldSizeBytes)} to ` +
                    `${formatBytes(r.newSizeBytes)}.\nThe guest sees the new space as unused: extend its partition ` +
                    'and file system from inside the guest.\n',
            );
            return;
          }
          case 'compact': {
            const r = await disks.compact(target, diskIndex(values), job);
            out(
              r,
              r.replaced
                ? `Compacted disk ${r.diskId} of VM ${JSON.stringify(target)}: ${formatBytes(r.bytesBefore)} → ` +
                    `${formatBytes(r.bytesAfter)} on the host (${formatBytes(r.bytesBefore - r.bytesAfter)} given back).\n`
                : `Disk ${r.diskId} of VM ${JSON.stringify(target)} is already compact ` +
                    `(${formatBytes(r.bytesBefore)} on the host); it was left as it was.\n`,
            );
            return;
          }
          case 'convert': {
            const format = oneOf(values, 'format', DISK_FORMATS)!;
            const r = await disks.convert(path.resolve(target), format, path.resolve(String(values.output)), job);
            warn(ctx, r.warnings);
            out(
              r,
              `Wrote ${r.path} (${formatName(r.image)}, ${formatBytes(r.image.virtualSizeBytes)}, ` +
                `${formatBytes(r.image.actualSizeBytes)} on the host) from ${r.source.path} in ${seconds(r.seconds)}.\n`,
            );
            return;
          }
        }
      },
    },
  ];
}
