// `maru list | show | create | modify | rename | delete | clone`: the VM library from the
// command line, VBoxManage-style, each read with --json.
import path from 'node:path';
import { importDiskForVm } from '../../src-shared/disk-for-new-vm';
import { formatBytes, formatMiB } from '../../src-shared/format-bytes';
import { PRESET_IDS, OS_PRESETS } from '../../src-shared/os-presets';
import { diskBusLabel, planQemuStorage, v86StorageProblems } from '../../src-shared/storage-layout';
import { DISK_BUSES, type DiskConfig } from '../../src-shared/vm-config';
import type { VmDetails, VmListEntry } from '../../src-shared/contracts/library';
import { type CliCommand, type CliContext, UsageError } from './cli-context';
import { diskOption, flagPair, intOption, memoryOption, oneOf } from './cli-options';
import { textTable } from './text-table';
import { progressReporter } from './progress-reporter';
import { AppError } from '../../src-shared/errors';
import { serviceCommand, shown, type ServicesFactory } from './service-command';
import {
  hasNicOptions,
  NIC_MODIFY_DETAILS,
  NIC_MODIFY_OPTIONS,
  NIC_MODIFY_USAGE,
  nicRows,
  nicsFromOptions,
} from './network-commands';

function printWarnings(ctx: CliContext, warnings: readonly string[]): void {
  for (const w of warnings) ctx.stderr.write(`maru: warning: ${w}\n`);
}

export function formatVmDetails(vm: VmDetails): string {
  const c = vm.config;
  const preset = OS_PRESETS[c.os];
  const rows: [string, string][] = [
    ['Name', c.name],
    ['UUID', c.id],
    ['State', vm.state],
    ['OS', preset.label],
    ['Engine', c.engine],
    ['CPUs', String(c.cpus)],
    ['Memory', formatMiB(c.memoryMiB)],
    ['Chipset', c.chipset],
    ['Firmware', c.firmware === 'uefi' ? 'UEFI' : 'BIOS'],
    ['Secure Boot', c.secureBoot ? 'on' : 'off'],
    ['TPM 2.0', c.tpm ? 'on' : 'off'],
    ['Boot order', c.bootOrder.join(', ')],
    ...nicRows(vm),
    ['Display', c.display.vga],
    ['Folder', vm.folder],
  ];
  for (const d of vm.disks) {
    rows.push([
      `Disk ${d.id}`,
      `${d.path} (${diskBusLabel(d.bus as DiskConfig['bus'])}, ${formatBytes(d.virtualSizeBytes)} virtual, ` +
        `${d.exists ? formatBytes(d.allocatedBytes ?? 0) + ' used' : 'MISSING'})`,
    ]);
  }
  for (const cd of c.cdroms)
    rows.push([`CD/DVD ${cd.id}`, `${cd.iso ?? '(empty)'} (${cd.bus === 'ahci' ? 'SATA' : 'IDE'})`]);
  c.floppies.forEach((f, unit) =>
    rows.push([`Floppy ${f.id}`, `${f.image ?? '(empty)'} (${unit === 0 ? 'A:' : 'B:'})`]),
  );
  // What an engine cannot attach: v86 (set, or the one `auto` prefers for this preset) and QEMU's slots.
  const v86 = v86StorageProblems(c);
  if (v86.length > 0 && (c.engine === 'v86' || (c.engine === 'auto' && preset.engine === 'v86'))) {
    rows.push(['v86 engine', `cannot run these drives: ${v86.join('; ')}`]);
  }
  const qemu = planQemuStorage(c).problems;
  if (qemu.length > 0 && c.engine !== 'v86') rows.push(['QEMU', `cannot attach these drives: ${qemu.join('; ')}`]);
  if (c.description) rows.push(['Description', c.description]);
  if (vm.migratedFrom !== undefined)
    rows.push(['Config', `schema v${vm.migratedFrom} (read as current; saved on next change)`]);
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${(k + ':').padEnd(w + 2)}${v}`).join('\n') + '\n';
}

export function formatVmList(entries: readonly VmListEntry[]): string {
  if (entries.length === 0) return 'No virtual machines. Create one with: maru create --name NAME --os PRESET\n';
  return textTable(
    ['NAME', 'STATE', 'OS', 'CPUS', 'MEMORY', 'UUID'],
    entries.map((e) =>
      e.kind === 'ok'
        ? [e.name, e.state, OS_PRESETS[e.os].label, String(e.cpus), formatMiB(e.memoryMiB), e.id]
        : [`<inaccessible>`, 'inaccessible', '-', '-', '-', `${e.id}: ${e.error}`],
    ),
  );
}

const createOptions = {
  name: { type: 'string' },
  os: { type: 'string' },
  engine: { type: 'string' },
  cpus: { type: 'string' },
  memory: { type: 'string' },
  disk: { type: 'string' },
  firmware: { type: 'string' },
  'secure-boot': { type: 'boolean' },
  'no-secure-boot': { type: 'boolean' },
  tpm: { type: 'boolean' },
  'no-tpm': { type: 'boolean' },
  iso: { type: 'string' },
  description: { type: 'string' },
  'disk-bus': { type: 'string' },
  json: { type: 'boolean' },
} as const;

const CREATE_DETAILS =
  '--disk takes a size in GiB for a new, empty disk (0: none), or an existing qcow2 image (FILE) the VM\n' +
  '  is made around and boots from: one in $MARU_HOME/disks (where "maru disk import" writes) moves into\n' +
  "  the VM's folder, one elsewhere is used where it is. A name that reads as a number is a size: write\n" +
  '  ./20 for a file named 20.\n' +
  '--import-disk FILE copies a VDI, VMDK, VHD, VHDX, raw or qcow2 image into $MARU_HOME/disks as qcow2\n' +
  '  (progress on stderr, Ctrl+C cancels; the source is only read), then makes the VM around the copy.';

/** `--disk`: a size in GiB (a number, "64G") for a new disk, else the path of an existing image. */
function diskArgs(values: Record<string, unknown>): { diskGiB?: number; existingDisk?: string } {
  const v = values.disk;
  if (v === undefined) return {};
  try {
    return { diskGiB: diskOption(values, 'disk') };
  } catch (err) {
    if (!(err instanceof UsageError) || typeof v !== 'string' || v.trim() === '') throw err;
  }
  return { existingDisk: path.resolve(v) };
}

/** CLI bus names (VBoxManage's "sata") → config bus names. */
export const CLI_DISK_BUSES = ['ide', 'sata', 'virtio', 'virtio-scsi', 'nvme'] as const;
export function diskBusFromCli(
  bus: (typeof CLI_DISK_BUSES)[number] | undefined,
): (typeof DISK_BUSES)[number] | undefined {
  return bus === 'sata' ? 'ahci' : bus;
}

export function libraryCommands(services: ServicesFactory): CliCommand[] {
  return [
    serviceCommand(services, {
      usage: 'maru list [--json]',
      summary: 'List virtual machines',
      run: async ({ library }) => shown(await library.list(), formatVmList),
    }),
    serviceCommand(services, {
      usage: 'maru show VM [--json]',
      summary: 'Show one virtual machine (by name or uuid)',
      run: async ({ library }, _ctx, { args: [ref] }) => shown(await library.show(ref!), formatVmDetails),
    }),
    serviceCommand(services, {
      usage:
        'maru create --name NAME [--os ' +
        PRESET_IDS.join('|') +
        '] [--engine auto|qemu|v86] [--cpus N] [--memory MiB] [--disk GiB|FILE] [--import-disk FILE] ' +
        '[--firmware bios|uefi] [--secure-boot|--no-secure-boot] [--tpm|--no-tpm] [--iso PATH] ' +
        '[--disk-bus ide|sata|virtio|virtio-scsi|nvme] [--description TEXT] [--json]',
      summary: 'Create a virtual machine from an OS preset (with a new disk, or around an existing one)',
      details: CREATE_DETAILS,
      options: { ...createOptions, 'import-disk': { type: 'string' } },
      async run({ library, disks }, ctx, { values }) {
        if (typeof values.name !== 'string') throw new UsageError('--name is required.');
        const disk = diskArgs(values);
        const importDisk = values['import-disk'];
        if (typeof importDisk === 'string' && values.disk !== undefined) {
          throw new UsageError('Choose one: --disk (a new disk, or an existing qcow2 image) or --import-disk FILE.');
        }
        const job = { onProgress: values.json ? undefined : progressReporter(ctx.stderr), signal: ctx.signal };
        const settings = {
          name: values.name,
          os: oneOf(values, 'os', PRESET_IDS) ?? 'other',
          engine: oneOf(values, 'engine', ['auto', 'qemu', 'v86'] as const),
          cpus: intOption(values, 'cpus'),
          memoryMiB: memoryOption(values, 'memory'),
          diskBus: diskBusFromCli(oneOf(values, 'disk-bus', CLI_DISK_BUSES)),
          firmware: oneOf(values, 'firmware', ['bios', 'uefi'] as const),
          secureBoot: flagPair(values, 'secure-boot'),
          tpm: flagPair(values, 'tpm'),
          iso: typeof values.iso === 'string' ? values.iso : undefined,
          description: typeof values.description === 'string' ? values.description : undefined,
        };
        let result;
        if (typeof importDisk === 'string') {
          // Two steps: the copy, then the VM around it. A failed second step keeps the copy and says where.
          const copy = await importDiskForVm(disks, path.resolve(importDisk), values.name, job);
          printWarnings(ctx, copy.warnings);
          if (!values.json) ctx.stderr.write(`Imported ${copy.source.path} as ${copy.path}.\n`);
          try {
            result = await library.create({ ...settings, existingDisk: copy.path }, job);
          } catch (err) {
            const kept =
              ` The imported copy is kept: ${copy.path}. Make the VM around it with ` +
              `"maru create --name NAME --disk ${copy.path}", or delete it.`;
            if (err instanceof AppError) throw new AppError(err.code, err.message + kept, err.details);
            throw err;
          }
        } else {
          result = await library.create({ ...settings, ...disk }, job);
        }
        printWarnings(ctx, result.warnings);
        return shown(result, (r) => `Created "${r.vm.config.name}" (${r.vm.config.id}).\n` + formatVmDetails(r.vm));
      },
    }),
    serviceCommand(services, {
      usage:
        'maru modify VM [--name NEW] [--engine auto|qemu|v86] [--cpus N] [--memory MiB] [--firmware bios|uefi] ' +
        '[--secure-boot|--no-secure-boot] [--tpm|--no-tpm] [--iso PATH|--no-iso] [--boot-order cdrom,disk] ' +
        `[--description TEXT] ${NIC_MODIFY_USAGE} [--json]`,
      summary: 'Change a powered-off virtual machine',
      details: NIC_MODIFY_DETAILS,
      options: {
        ...createOptions,
        'no-iso': { type: 'boolean' },
        'boot-order': { type: 'string' },
        ...NIC_MODIFY_OPTIONS,
      },
      async run({ library }, ctx, { args: [ref], values }) {
        if (values.os !== undefined) throw new UsageError('--os cannot be changed after creation; create a new VM.');
        if (values.disk !== undefined || values['disk-bus'] !== undefined) {
          throw new UsageError(
            '--disk and --disk-bus are not for modify: use "maru storage VM attach|detach" and "maru disk resize".',
          );
        }
        if (values.iso !== undefined && values['no-iso'])
          throw new UsageError('--iso and --no-iso contradict each other.');
        const nicOptions = hasNicOptions(values);
        let bootOrder: ('cdrom' | 'disk' | 'floppy' | 'network')[] | undefined;
        if (typeof values['boot-order'] === 'string') {
          const parts = values['boot-order'].split(',').map((s) => s.trim());
          for (const p of parts) {
            if (!['cdrom', 'disk', 'floppy', 'network'].includes(p)) {
              throw new UsageError(`--boot-order entries are cdrom, disk, floppy, network; got "${p}".`);
            }
          }
          bootOrder = parts as typeof bootOrder;
        }
        const patch = {
          name: typeof values.name === 'string' ? values.name : undefined,
          engine: oneOf(values, 'engine', ['auto', 'qemu', 'v86'] as const),
          cpus: intOption(values, 'cpus'),
          memoryMiB: memoryOption(values, 'memory'),
          firmware: oneOf(values, 'firmware', ['bios', 'uefi'] as const),
          secureBoot: flagPair(values, 'secure-boot'),
          tpm: flagPair(values, 'tpm'),
          iso: values['no-iso'] ? null : typeof values.iso === 'string' ? values.iso : undefined,
          description: typeof values.description === 'string' ? values.description : undefined,
          bootOrder,
          // The whole list of adapters, the options applied to the VM's current ones.
          nics: nicOptions ? nicsFromOptions((await library.show(ref!)).config, values) : undefined,
        };
        if (Object.values(patch).every((v) => v === undefined)) throw new UsageError('nothing to change.');
        const result = await library.modify(ref!, patch);
        printWarnings(ctx, result.warnings);
        return shown(result, (r) => formatVmDetails(r.vm));
      },
    }),
    serviceCommand(services, {
      usage: 'maru rename VM NEW-NAME [--json]',
      summary: 'Rename a virtual machine',
      run: async ({ library }, _ctx, { args: [ref, name] }) =>
        shown(await library.rename(ref!, name!), (vm) => `Renamed to "${vm.config.name}".\n`),
    }),
    serviceCommand(services, {
      usage: 'maru delete VM [--delete-disks] [--json]',
      summary: 'Delete a virtual machine (its disks are kept unless --delete-disks)',
      options: { 'delete-disks': { type: 'boolean' } },
      async run({ library }, _ctx, { args: [ref], values }) {
        const vm = await library.show(ref!);
        const deleteDisks = values['delete-disks'] === true;
        await library.delete(vm.config.id, { deleteDisks });
        return {
          json: { deleted: vm.config.id, name: vm.config.name, disksDeleted: deleteDisks },
          text: `Deleted "${vm.config.name}"${deleteDisks ? ' and its disks' : ''}.\n`,
        };
      },
    }),
    serviceCommand(services, {
      usage: 'maru clone VM NEW-NAME [--linked] [--snapshot S] [--json]',
      summary:
        'Clone a powered-off virtual machine: disks copied, or --linked (overlays on shared frozen disks, instant); ' +
        '--snapshot S: a full clone at that snapshot (disks, settings, saved RAM of a live one)',
      options: { linked: { type: 'boolean' }, snapshot: { type: 'string' } },
      async run({ library, snapshots }, ctx, { args: [ref, name], values }) {
        const job = { onProgress: values.json ? undefined : progressReporter(ctx.stderr), signal: ctx.signal };
        const linked = values['linked'] === true;
        const at = values['snapshot'];
        if (typeof at === 'string') {
          if (linked) {
            throw new AppError(
              'UNSUPPORTED',
              "A linked clone is made of the VM's current state. Restore that snapshot first, or leave out --linked " +
                'for a full clone at it.',
            );
          }
          const made = await snapshots.clone(ref!, at, { name: name! }, job);
          return shown(
            await library.show(made.vmId),
            (v) => `Cloned to "${v.config.name}" (${v.config.id}) at snapshot ${made.snapshotId}.\n`,
          );
        }
        const vm = linked ? await library.linkedClone(ref!, name!, job) : await library.clone(ref!, name!, job);
        return shown(vm, (v) => `Cloned to "${v.config.name}" (${v.config.id})${linked ? ', linked' : ''}.\n`);
      },
    }),
    serviceCommand(services, {
      usage: 'maru try VM [--keep | --discard] [--json]',
      summary:
        'Try it on a copy: a linked clone of a powered-off VM, started, marked as its trial; ' +
        'then --keep (an independent VM) or --discard (deleted with its disks), naming the trial or its source',
      options: { keep: { type: 'boolean' }, discard: { type: 'boolean' } },
      async run({ snapshots }, ctx, { args: [ref], values }) {
        const job = { onProgress: values.json ? undefined : progressReporter(ctx.stderr), signal: ctx.signal };
        if (values['keep'] === true && values['discard'] === true) {
          throw new AppError('INVALID_ARGUMENT', 'Choose one: --keep or --discard.');
        }
        if (values['keep'] === true || values['discard'] === true) {
          const end = await snapshots.endTrial(ref!, { keep: values['keep'] === true }, job);
          return {
            json: end,
            text:
              end.outcome === 'kept'
                ? `Kept "${end.trialName}": it is an ordinary, independent VM now.\n`
                : `Discarded "${end.trialName}" and its disks.\n`,
          };
        }
        const trial = await snapshots.tryCopy(ref!, job);
        return {
          json: trial,
          text: `Trial "${trial.trialName}" (${trial.trialId}) is running. End it with "maru try ${JSON.stringify(trial.trialName)} --keep" or "--discard".\n`,
        };
      },
    }),
  ];
}
