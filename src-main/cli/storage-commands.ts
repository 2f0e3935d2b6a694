// `maru storage VM attach|detach|list` and `maru floppy create FILE | VM insert FILE | VM eject`:
// a VM's drives and floppies from the command line, in the spirit of VBoxManage storageattach.
// Each verb is one call of the `library`, `vm` or `disks` control service.
import path from 'node:path';
import type { StorageDrive, VmStorage } from '../../src-shared/contracts/library';
import { formatBytes } from '../../src-shared/format-bytes';
import { CREATABLE_FLOPPY_SIZES, diskBusLabel } from '../../src-shared/storage-layout';
import { type CliCommand, type CliContext, UsageError, writeJson } from './cli-context';
import { oneOf, parseCommandArgs, type OptionValues } from './cli-options';
import { parseSize } from './disk-commands';
import { CLI_DISK_BUSES, diskBusFromCli } from './library-commands';
import { textTable } from './text-table';
import type { ServicesFactory } from './service-command';

const STORAGE_USAGE = [
  'maru storage VM list [--json]',
  'maru storage VM attach --type hdd --medium PATH|--create SIZE [--bus ide|sata|virtio|virtio-scsi|nvme] [--json]',
  'maru storage VM attach --type dvd --medium PATH|emptydrive [--bus ide|sata] [--json]',
  'maru storage VM attach --type fdd --medium PATH|emptydrive [--json]',
  'maru storage VM detach ID [--json]',
  '(add and remove are other names for attach and detach)',
].join('\n       ');

const STORAGE_DETAILS =
  'Drives change while the VM is off (and has no saved state); change a CD/DVD or floppy of a running VM with\n' +
  '"maru attach-iso" / "maru floppy VM insert". hdd: an existing qcow2 disk (one imported with "maru disk import"\n' +
  "moves from $MARU_HOME/disks into the VM's folder; one elsewhere is used where it is) or --create SIZE (20G, 512M).\n" +
  'A PC holds 4 IDE drives (disks and CD/DVD drives), a SATA controller 6; virtio-scsi and NVMe take many.\n' +
  'The v86 engine attaches IDE only: 2 disks, 1 CD/DVD drive, floppies A: and B:.\n' +
  'detach keeps a disk\'s image file (it says where); "none" and "emptydrive" both mean an empty drive.';

const FLOPPY_USAGE = [
  `maru floppy create FILE [--size ${CREATABLE_FLOPPY_SIZES.join('|')}] [--json]`,
  'maru floppy VM insert|attach FILE [--drive ID] [--json]',
  'maru floppy VM eject [--drive ID] [--json]',
].join('\n       ');

const FLOPPY_DETAILS =
  'create writes an empty floppy image formatted with FAT12 (default 1.44M). insert and eject work on a running\n' +
  "VM at once (for this run) and on a stored VM's settings; --drive picks drive B: (fd1) or another id, default A:.\n" +
  'Floppy images are 1.44 MB, 720 KB or 2.88 MB (or the older 5¼-inch sizes).';

function out(ctx: CliContext, values: OptionValues, json: unknown, text: string): void {
  if (values.json) writeJson(ctx, json);
  else ctx.stdout.write(text);
}

function busText(d: StorageDrive): string {
  if (d.type === 'fdd') return 'floppy';
  return d.bus === 'fdc' ? 'floppy' : diskBusLabel(d.bus);
}

/** A VM's drives as a table, then what an engine cannot do with them. */
export function formatStorage(s: VmStorage): string {
  const rows = s.drives.map((d) => [
    d.id,
    d.type,
    busText(d),
    d.slot,
    d.medium === null ? '(empty)' : `${d.medium}${d.exists ? '' : ' (MISSING)'}`,
    d.sizeBytes !== undefined ? formatBytes(d.sizeBytes) : '',
  ]);
  let text = rows.length
    ? textTable(['ID', 'TYPE', 'BUS', 'SLOT', 'MEDIUM', 'SIZE'], rows)
    : `"${s.name}" has no drives. Add one: maru storage "${s.name}" attach --type hdd --create 20G\n`;
  for (const n of s.notes) text += `Note: ${n}\n`;
  if (s.qemuProblems.length) text += `QEMU cannot attach these drives: ${s.qemuProblems.join('; ')}.\n`;
  if (s.v86Problems.length) text += `The v86 engine cannot run these drives: ${s.v86Problems.join('; ')}.\n`;
  return text;
}

const STORAGE_OPTIONS = {
  json: { type: 'boolean' },
  type: { type: 'string' },
  bus: { type: 'string' },
  medium: { type: 'string' },
  create: { type: 'string' },
} as const;

const FLOPPY_OPTIONS = { json: { type: 'boolean' }, size: { type: 'string' }, drive: { type: 'string' } } as const;

function onlyOptions(values: OptionValues, verb: string, allowed: readonly string[]): void {
  for (const [k, v] of Object.entries(values)) {
    if (v !== undefined && k !== 'json' && !allowed.includes(k)) throw new UsageError(`${verb} takes no --${k}.`);
  }
}

export function storageCommands(services: ServicesFactory): CliCommand[] {
  return [
    {
      name: 'storage',
      usage: STORAGE_USAGE,
      details: STORAGE_DETAILS,
      summary: "List, attach or detach a VM's disks, CD/DVD and floppy drives",
      async run(ctx, argv) {
        const { values, positionals } = parseCommandArgs(argv, STORAGE_OPTIONS);
        const [ref, verb, ...rest] = positionals;
        if (ref === undefined) throw new UsageError('missing VM.');
        if (verb === undefined) throw new UsageError('missing the verb: list, attach (add) or detach (remove).');
        const { library } = await services(ctx);
        if (verb === 'list') {
          if (rest.length) throw new UsageError(`list: unexpected argument "${rest[0]}".`);
          onlyOptions(values, 'list', []);
          const s = await library.storage(ref);
          out(ctx, values, s, formatStorage(s));
          return;
        }
        if (verb === 'detach' || verb === 'remove') {
          const [id, ...extra] = rest;
          if (id === undefined) throw new UsageError('detach: missing the drive ID (see "maru storage VM list").');
          if (extra.length) throw new UsageError(`detach: unexpected argument "${extra[0]}".`);
          onlyOptions(values, 'detach', []);
          const r = await library.detachStorage(ref, id);
          out(
            ctx,
            values,
            r,
            `Detached ${id} from "${r.vm.config.name}".` +
              (r.keptFile ? ` Its image stays at ${r.keptFile}; delete it yourself if you no longer need it.` : '') +
              '\n',
          );
          return;
        }
        if (verb !== 'attach' && verb !== 'add') {
          throw new UsageError(`"${verb}" is not a storage verb; use list, attach (add) or detach (remove).`);
        }
        if (rest.length) throw new UsageError(`attach: unexpected argument "${rest[0]}".`);
        const type = oneOf(values, 'type', ['hdd', 'dvd', 'fdd'] as const);
        if (!type) throw new UsageError('attach: missing --type hdd|dvd|fdd.');
        const mediumText = typeof values.medium === 'string' ? values.medium : undefined;
        const empty = mediumText === 'none' || mediumText === 'emptydrive';
        const create = typeof values.create === 'string' ? parseSize(values.create) : undefined;
        if (create?.relative) throw new UsageError('--create takes a size like 20G, not a "+" size.');
        if (type !== 'hdd' && create) throw new UsageError('--create makes a hard disk: use it with --type hdd.');
        if (type === 'hdd' && empty) {
          throw new UsageError('a hard disk cannot be an empty drive: give --medium PATH or --create SIZE.');
        }
        if (type === 'hdd' && mediumText === undefined && !create) {
          throw new UsageError('attach --type hdd: give --medium PATH (an existing qcow2 disk) or --create SIZE.');
        }
        if (type !== 'hdd' && mediumText === undefined) {
          throw new UsageError(`attach --type ${type}: give --medium PATH, or --medium emptydrive for an empty drive.`);
        }
        if (type === 'fdd' && values.bus !== undefined) {
          throw new UsageError('a floppy drive sits on the floppy controller: leave out --bus.');
        }
        const bus = diskBusFromCli(
          type === 'dvd'
            ? oneOf(values, 'bus', ['ide', 'sata'] as const)
            : type === 'hdd'
              ? oneOf(values, 'bus', CLI_DISK_BUSES)
              : undefined,
        );
        const r = await library.attachStorage(ref, {
          type,
          ...(bus ? { bus } : {}),
          ...(mediumText !== undefined ? { medium: empty ? null : path.resolve(mediumText) } : {}),
          ...(create ? { createBytes: create.bytes } : {}),
        });
        for (const w of r.warnings) ctx.stderr.write(`maru storage: warning: ${w}\n`);
        const d = r.drive;
        out(
          ctx,
          values,
          r,
          `Attached ${d.id} to "${r.vm.config.name}": ${d.type === 'hdd' ? 'hard disk' : d.type === 'dvd' ? 'CD/DVD drive' : 'floppy drive'} ` +
            `on ${d.slot}, ${d.medium ?? 'empty'}${d.sizeBytes !== undefined ? ` (${formatBytes(d.sizeBytes)})` : ''}.\n`,
        );
      },
    },
    {
      name: 'floppy',
      usage: FLOPPY_USAGE,
      details: FLOPPY_DETAILS,
      summary: 'Create an empty floppy image, or insert/eject a floppy (a running VM gets it at once)',
      async run(ctx, argv) {
        const { values, positionals } = parseCommandArgs(argv, FLOPPY_OPTIONS);
        const [first, second, third, ...extra] = positionals;
        if (first === undefined) throw new UsageError('missing "create FILE" or "VM insert FILE" / "VM eject".');
        // "maru floppy VM insert|eject …" (a VM may even be named "create"), else "maru floppy create FILE".
        if (second === 'insert' || second === 'attach' || second === 'eject') {
          onlyOptions(values, second, ['drive']);
          const drive = typeof values.drive === 'string' ? values.drive : 'floppy';
          const { vm } = await services(ctx);
          if (second !== 'eject') {
            if (third === undefined) throw new UsageError('insert: missing FILE.');
            if (extra.length) throw new UsageError(`insert: unexpected argument "${extra[0]}".`);
            const r = await vm.changeMedium(first, drive, path.resolve(third));
            out(
              ctx,
              values,
              r,
              r.live
                ? `Inserted ${r.iso} into floppy drive ${r.drive} of "${r.name}" (for this run).\n`
                : `"${r.name}" will start with ${r.iso} in floppy drive ${r.drive}.\n`,
            );
            return;
          }
          if (third !== undefined) throw new UsageError(`eject: unexpected argument "${third}".`);
          const r = await vm.changeMedium(first, drive, null);
          out(
            ctx,
            values,
            r,
            r.live
              ? `Ejected the floppy from drive ${r.drive} of "${r.name}" (for this run).\n`
              : `Floppy drive ${r.drive} of "${r.name}" is empty.\n`,
          );
          return;
        }
        if (first !== 'create') {
          throw new UsageError(
            `use "maru floppy create FILE", or "maru floppy VM insert FILE" / "maru floppy VM eject".`,
          );
        }
        if (second === undefined) throw new UsageError('create: missing FILE.');
        if (third !== undefined) throw new UsageError(`create: unexpected argument "${third}".`);
        onlyOptions(values, 'create', ['size']);
        const size = oneOf(values, 'size', CREATABLE_FLOPPY_SIZES) ?? '1.44M';
        const { disks } = await services(ctx);
        const r = await disks.createFloppy(path.resolve(second), size);
        out(ctx, values, r, `Created ${r.path}: an empty ${size} floppy (FAT12, ${r.bytes} bytes).\n`);
      },
    },
  ];
}
