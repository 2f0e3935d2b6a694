// `maru media list|release|remove`: the media manager from the command line (VBoxManage's
// `list hdds|dvds|floppies`, `closemedium --delete`). Each verb is one call of the `media` service.
import path from 'node:path';
import type { MediaInventory, MediumEntry, MediumType, MediumUse } from '../../src-shared/contracts/media';
import { formatBytes } from '../../src-shared/format-bytes';
import { type CliCommand, UsageError, writeJson } from './cli-context';
import { oneOf, parseCommandArgs } from './cli-options';
import { textTable } from './text-table';
import type { ServicesFactory } from './service-command';

const USAGE = [
  'maru media list [--type hdd|dvd|fdd] [--orphans] [--missing] [--json]',
  'maru media release PATH [--json]',
  'maru media remove PATH [--json]',
].join('\n       ');

const DETAILS =
  "list: every disk, ISO and floppy image in a VM's settings, in its snapshots, behind a linked clone's overlay, or in\n" +
  "  Maru's folders (imported disks, disks kept from deleted VMs, uploaded ISOs), with who uses it; missing files\n" +
  "  and orphans (in Maru's folders, used by nothing) are marked.\n" +
  'release: takes the medium out of every VM that uses it now (a disk only from VMs that are off; an ISO or\n' +
  '  floppy is ejected, from a running VM at once). Snapshots keep what they hold. The file is not touched.\n' +
  "remove: deletes the file of a medium in Maru's folders that nothing uses (release it first).";

const OPTIONS = {
  json: { type: 'boolean' },
  type: { type: 'string' },
  orphans: { type: 'boolean' },
  missing: { type: 'boolean' },
} as const;

const TYPE_TITLE: Record<MediumType, string> = { hdd: 'Hard disks', dvd: 'Optical discs', fdd: 'Floppy images' };

/** "VM "x" (disk0)", "VM "x" snapshot "s"", "VM "x" (through overlay …)". */
export function useText(u: MediumUse): string {
  const where = u.snapshot ? `snapshot "${u.snapshot.name}"` : u.driveId;
  return `"${u.vmName}" ${where}${u.via ? ` via ${path.basename(u.via)}` : ''}`;
}

function statusText(m: MediumEntry): string {
  if (!m.exists) return 'MISSING';
  if (m.problem) return 'UNREADABLE';
  if (m.orphan) return 'orphan';
  return m.usedBy.length ? 'in use' : 'unused';
}

export function formatMedia(inv: MediaInventory): string {
  let text = '';
  for (const type of ['hdd', 'dvd', 'fdd'] as const) {
    const rows = inv.media
      .filter((m) => m.type === type)
      .map((m) => [
        m.path,
        m.format ?? '',
        m.virtualSizeBytes === null ? '' : formatBytes(m.virtualSizeBytes),
        m.actualSizeBytes === null ? '' : formatBytes(m.actualSizeBytes),
        statusText(m),
        m.usedBy.map(useText).join('; '),
      ]);
    if (!rows.length) continue;
    text += `${TYPE_TITLE[type]}:\n${textTable(['PATH', 'FORMAT', 'SIZE', 'ON DISK', 'STATUS', 'USED BY'], rows)}\n`;
  }
  if (!text) text = 'Maru knows no disk, ISO or floppy image yet.\n';
  for (const m of inv.media) if (m.problem) text += `${m.path}: ${m.problem}\n`;
  for (const p of inv.problems) text += `Note: ${p}\n`;
  return text;
}

export function mediaCommands(services: ServicesFactory): CliCommand[] {
  return [
    {
      name: 'media',
      usage: USAGE,
      details: DETAILS,
      summary: 'The media manager: list every disk, ISO and floppy image and who uses it; release or remove one',
      async run(ctx, argv) {
        const { values, positionals } = parseCommandArgs(argv, OPTIONS);
        const [verb, target, ...extra] = positionals;
        if (verb === undefined) throw new UsageError('missing the verb: list, release or remove.');
        if (extra.length) throw new UsageError(`${verb}: unexpected argument "${extra[0]}".`);
        const { media } = await services(ctx);
        const out = (json: unknown, text: string): void => {
          if (values.json) writeJson(ctx, json);
          else ctx.stdout.write(text);
        };
        if (verb === 'list') {
          if (target !== undefined) throw new UsageError(`list: unexpected argument "${target}".`);
          const type = oneOf(values, 'type', ['hdd', 'dvd', 'fdd'] as const);
          const inv = await media.list();
          const shown = {
            ...inv,
            media: inv.media.filter(
              (m) => (!type || m.type === type) && (!values.orphans || m.orphan) && (!values.missing || !m.exists),
            ),
          };
          out(shown, formatMedia(shown));
          return;
        }
        if (verb !== 'release' && verb !== 'remove') {
          throw new UsageError(`"${verb}" is not a media verb; use list, release or remove.`);
        }
        for (const k of ['type', 'orphans', 'missing'] as const) {
          if (values[k] !== undefined) throw new UsageError(`${verb} takes no --${k}.`);
        }
        if (target === undefined) throw new UsageError(`${verb}: missing PATH (see "maru media list").`);
        const file = path.resolve(target);
        if (verb === 'release') {
          const r = await media.release(file);
          const lines = r.released.map((d) => `Released ${file} from "${d.vmName}" (${d.driveId}).`);
          out(r, [...lines, ...r.notes].join('\n') + '\n');
          return;
        }
        const r = await media.remove(file);
        out(r, `Deleted ${r.removed}.\n`);
      },
    },
  ];
}
