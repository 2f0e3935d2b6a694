// `maru snapshot VM take | list | restore | delete | edit | repair`: a VM's snapshot tree from the command
// line, VBoxManage-style. Each verb is one call of the `snapshots` control service (the one every
// front end calls); the service decides live vs disk-only and resolves SNAPSHOT (id or name).
import {
  SNAPSHOT_DESCRIPTION_MAX,
  SNAPSHOT_NAME_MAX,
  type SnapshotInfo,
  type SnapshotTree,
} from '../../src-shared/contracts/snapshots';
import { AppError } from '../../src-shared/errors';
import { type CliCommand, type CliContext, UsageError, writeJson } from './cli-context';
import { parseCommandArgs, type OptionValues } from './cli-options';
import { progressReporter } from './progress-reporter';
import { textTable } from './text-table';
import type { ServicesFactory } from './service-command';

const VERBS = ['take', 'list', 'restore', 'delete', 'edit', 'repair'] as const;
type Verb = (typeof VERBS)[number];

/** Per verb: its positionals after VM and VERB, and the options it takes besides --json. */
const VERB_SHAPES: Record<Verb, { positionals: readonly string[]; optional?: string; options: readonly string[] }> = {
  take: { positionals: [], optional: 'NAME', options: ['description'] },
  list: { positionals: [], options: [] },
  restore: { positionals: ['SNAPSHOT'], options: [] },
  delete: { positionals: ['SNAPSHOT'], options: [] },
  edit: { positionals: ['SNAPSHOT'], options: ['name', 'description'] },
  repair: { positionals: [], options: [] },
};

const USAGE = [
  'maru snapshot VM take [NAME] [--description TEXT] [--json]',
  'maru snapshot VM list [--json]',
  'maru snapshot VM restore SNAPSHOT [--json]',
  'maru snapshot VM delete SNAPSHOT [--json]',
  'maru snapshot VM edit SNAPSHOT [--name NEW] [--description TEXT] [--json]',
  'maru snapshot VM repair [--json]   (make the images and the list agree; VM off)',
].join('\n       ');

const OPTIONS = {
  json: { type: 'boolean' },
  name: { type: 'string' },
  description: { type: 'string' },
} as const;

function kindLabel(s: SnapshotInfo): string {
  return s.kind === 'live' ? 'live' : 'disk-only';
}

/** Local time to the second, "2024-05-01 12:00:03" (the ISO form is in --json). */
function localTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number) => String(n).padStart(2, '0');
  return (
    `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
  );
}

/** The shortest prefix length (at least 8) that tells every id of the tree apart. */
function shortIdLength(ids: readonly string[]): number {
  for (let n = 8; n < 36; n++) {
    if (new Set(ids.map((id) => id.slice(0, n))).size === ids.length) return n;
  }
  return 36;
}

function firstLine(text: string, max = 60): string {
  const line = text.split('\n', 1)[0]!.trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/**
 * The tree as text: one row per snapshot, children under their parent (indented, in the order
 * they were taken), the current state marked after the snapshot it sits under.
 */
export function formatSnapshotTree(vmLabel: string, tree: SnapshotTree): string {
  const { snapshots } = tree;
  if (snapshots.length === 0) {
    return `VM ${vmLabel} has no snapshots. Take one with: maru snapshot ${vmLabel} take [NAME]\n`;
  }
  const ids = new Set(snapshots.map((s) => s.id));
  const children = new Map<string | null, SnapshotInfo[]>();
  for (const s of snapshots) {
    // A parent that is not in the list (it should not happen) shows the snapshot as a root.
    const parent = s.parentId !== null && ids.has(s.parentId) ? s.parentId : null;
    children.set(parent, [...(children.get(parent) ?? []), s]);
  }
  const idLength = shortIdLength([...ids]);
  const rows: string[][] = [];
  const seen = new Set<string>();
  const visit = (s: SnapshotInfo, depth: number): void => {
    if (seen.has(s.id)) return; // a parent loop in a hand-edited file: each snapshot once
    seen.add(s.id);
    const description = s.description.trim() ? `  — ${firstLine(s.description)}` : '';
    const current = s.id === tree.currentId ? '  * (current state)' : '';
    rows.push([
      s.id.slice(0, idLength),
      s.kind,
      localTime(s.createdAt),
      `${'  '.repeat(depth)}${s.name}${description}${current}`,
    ]);
    for (const c of children.get(s.id) ?? []) visit(c, depth + 1);
  };
  for (const root of children.get(null) ?? []) visit(root, 0);
  for (const s of snapshots) visit(s, 0);
  const footer = tree.currentId === null ? 'The current state sits under no snapshot.\n' : '';
  return textTable(['ID', 'KIND', 'CREATED', 'NAME'], rows) + footer;
}

/** `maru snapshot VM VERB …` — positionals and options checked against the verb. */
function parseSnapshotArgs(argv: string[]): { vm: string; verb: Verb; rest: string[]; values: OptionValues } {
  const { values, positionals } = parseCommandArgs(argv, OPTIONS);
  const [vm, verb, ...rest] = positionals;
  if (vm === undefined) throw new UsageError('missing VM and the verb (take, list, restore, delete, edit or repair).');
  if (verb === undefined) {
    throw new UsageError(
      (VERBS as readonly string[]).includes(vm)
        ? `missing VM: the VM comes first, as in "maru snapshot VM ${vm}".`
        : 'missing the verb: take, list, restore, delete, edit or repair.',
    );
  }
  if (!(VERBS as readonly string[]).includes(verb)) {
    const hint = (VERBS as readonly string[]).includes(vm) ? ` The VM comes first: "maru snapshot VM ${vm} …".` : '';
    throw new UsageError(`"${verb}" is not a snapshot verb; use take, list, restore, delete, edit or repair.${hint}`);
  }
  const shape = VERB_SHAPES[verb as Verb];
  if (rest.length < shape.positionals.length) {
    throw new UsageError(`${verb}: missing ${shape.positionals.slice(rest.length).join(' and ')}.`);
  }
  const most = shape.positionals.length + (shape.optional ? 1 : 0);
  if (rest.length > most) {
    const extra = rest[most]!;
    throw new UsageError(
      verb === 'take'
        ? `take: unexpected argument "${extra}" (a name with spaces needs quotes: maru snapshot VM take "My name").`
        : `${verb}: unexpected argument "${extra}".`,
    );
  }
  for (const option of ['name', 'description'] as const) {
    if (values[option] !== undefined && !shape.options.includes(option)) {
      throw new UsageError(
        verb === 'take' && option === 'name'
          ? 'take: give the name as NAME, not --name (maru snapshot VM take NAME).'
          : `${verb} takes no --${option}.`,
      );
    }
  }
  // The contract's limits, said here as usage mistakes rather than as a schema path.
  const name = verb === 'take' ? rest[0] : values.name;
  if (typeof name === 'string') {
    const trimmed = name.trim();
    if (trimmed === '') throw new UsageError('a snapshot name cannot be empty or only spaces.');
    if (trimmed.length > SNAPSHOT_NAME_MAX) {
      throw new UsageError(
        `a snapshot name has at most ${SNAPSHOT_NAME_MAX} characters; this one has ${trimmed.length}.`,
      );
    }
  }
  if (typeof values.description === 'string' && values.description.length > SNAPSHOT_DESCRIPTION_MAX) {
    throw new UsageError(
      `a snapshot description has at most ${SNAPSHOT_DESCRIPTION_MAX} characters; this one has ${values.description.length}.`,
    );
  }
  return { vm, verb: verb as Verb, rest, values };
}

function noteRecovered(ctx: CliContext, tree: SnapshotTree): void {
  if (tree.recovered) ctx.stderr.write(`maru snapshot: note: ${tree.recovered}\n`);
  for (const problem of tree.problems) ctx.stderr.write(`maru snapshot: warning: ${problem}\n`);
}

function jobOptions(ctx: CliContext, values: OptionValues) {
  return { ...(values.json ? {} : { onProgress: progressReporter(ctx.stderr) }), signal: ctx.signal };
}

export function snapshotCommands(services: ServicesFactory): CliCommand[] {
  return [
    {
      name: 'snapshot',
      usage: USAGE,
      summary: 'Take, list, restore, delete, edit or repair the snapshots of a virtual machine',
      async run(ctx, argv) {
        const { vm, verb, rest, values } = parseSnapshotArgs(argv);
        const { snapshots } = await services(ctx);
        const vmLabel = JSON.stringify(vm);
        const out = (json: unknown, text: string) => {
          if (values.json) writeJson(ctx, json);
          else ctx.stdout.write(text);
        };
        switch (verb) {
          case 'take': {
            const description = typeof values.description === 'string' ? values.description : undefined;
            const info = await snapshots.take(
              vm,
              {
                ...(rest[0] !== undefined ? { name: rest[0] } : {}),
                ...(description !== undefined ? { description } : {}),
              },
              jobOptions(ctx, values),
            );
            out(
              info,
              `Took ${kindLabel(info)} snapshot ${JSON.stringify(info.name)} (${info.id}) of VM ${vmLabel}.\n` +
                (info.kind === 'live'
                  ? 'It holds the memory, devices and disks: restoring it resumes the VM where it was.\n'
                  : 'It holds the disks and settings: restoring it brings them back with the VM off.\n'),
            );
            return;
          }
          case 'list': {
            const tree = await snapshots.list(vm);
            noteRecovered(ctx, tree);
            out(tree, tree.damaged ? '' : formatSnapshotTree(vmLabel, tree));
            // The service reports a damaged list instead of throwing (the file is left as it is).
            if (tree.damaged) throw new AppError('IO', tree.damaged);
            return;
          }
          case 'restore': {
            const r = await snapshots.restore(vm, rest[0]!, jobOptions(ctx, values));
            noteRecovered(ctx, r.tree);
            out(r, `${r.message}\nState: ${r.state}\n`);
            return;
          }
          case 'delete': {
            // The tree before names what went (the service resolves SNAPSHOT; this only reports it).
            const before = await snapshots.list(vm);
            noteRecovered(ctx, before);
            const tree = await snapshots.delete(vm, rest[0]!, jobOptions(ctx, values));
            noteRecovered(ctx, tree);
            const left = new Set(tree.snapshots.map((s) => s.id));
            const gone = before.snapshots.filter((s) => !left.has(s.id));
            const deleted = gone.length === 1 ? gone[0]! : undefined;
            const what = deleted
              ? `snapshot ${JSON.stringify(deleted.name)} (${deleted.id})`
              : `snapshot ${JSON.stringify(rest[0])}`;
            const moved = deleted ? before.snapshots.filter((s) => s.parentId === deleted.id).length : 0;
            const parent = before.snapshots.find((s) => s.id === deleted?.parentId);
            const current = tree.snapshots.find((s) => s.id === tree.currentId);
            out(
              tree,
              `Deleted ${what} of VM ${vmLabel}.\n` +
                (moved > 0
                  ? `Its ${moved === 1 ? 'child' : `${moved} children`} moved ` +
                    (parent ? `under ${JSON.stringify(parent.name)}.\n` : 'to the top of the tree.\n')
                  : '') +
                `${tree.snapshots.length} snapshot${tree.snapshots.length === 1 ? '' : 's'} left; the current state ` +
                (current
                  ? `sits under ${JSON.stringify(current.name)} (${current.id}).\n`
                  : 'sits under no snapshot.\n'),
            );
            return;
          }
          case 'edit': {
            const changes = {
              ...(typeof values.name === 'string' ? { name: values.name } : {}),
              ...(typeof values.description === 'string' ? { description: values.description } : {}),
            };
            if (Object.keys(changes).length === 0) {
              throw new UsageError('edit: nothing to change; give --name NEW and/or --description TEXT.');
            }
            const info = await snapshots.edit(vm, rest[0]!, changes);
            out(
              info,
              `Snapshot ${info.id} of VM ${vmLabel}: name ${JSON.stringify(info.name)}` +
                (info.description ? `, description ${JSON.stringify(info.description)}` : ', no description') +
                '.\n',
            );
            return;
          }
          case 'repair': {
            const r = await snapshots.repair(vm);
            out(
              r,
              r.repaired.length === 0
                ? `The snapshots of VM ${vmLabel} and its images agree: nothing to repair.\n`
                : `${r.repaired.join('\n')}\n` + formatSnapshotTree(vmLabel, r.tree),
            );
            return;
          }
        }
      },
    },
  ];
}
