// The shape of most `maru` commands: options parsed (--json always among them), positionals
// checked against the usage line, the control services called, and the result printed —
// JSON with --json, the text otherwise.
import type { ControlServices } from '../../src-shared/contracts/control';
import { type CliCommand, type CliContext, writeJson } from './cli-context';
import { parseCommandArgs, requirePositionals, type OptionSpec, type OptionValues } from './cli-options';

export type ServicesFactory = (ctx: CliContext) => Promise<ControlServices>;

/** What a command prints: `json` with --json, `text` otherwise (nothing when null). */
export interface CommandOutput {
  readonly json: unknown;
  readonly text: string | null;
}

export interface ServiceCommandSpec {
  /** `maru NAME POSITIONAL… [options]`: the command's name and its positionals are read from it. */
  readonly usage: string;
  readonly summary: string;
  /** More help after the usage (`maru NAME --help`). */
  readonly details?: string;
  /** Options besides --json. */
  readonly options?: OptionSpec;
  /** Does the work; `args` are the positionals, one per name in the usage line. */
  run(
    services: ControlServices,
    ctx: CliContext,
    args: { args: string[]; values: OptionValues },
  ): Promise<CommandOutput>;
}

/**
 * The name and the positional names of a usage line: the words after `maru`, up to the first
 * option or alternative (`maru rename VM NEW-NAME [--json]` → rename, [VM, NEW-NAME]).
 */
export function parseUsage(usage: string): { name: string; positionals: string[] } {
  const [maru, name = '', ...words] = usage.split(' ');
  if (maru !== 'maru' || !/^[a-z][a-z-]*$/.test(name)) {
    throw new Error(`A usage line starts with "maru COMMAND", not ${JSON.stringify(usage)}.`);
  }
  const end = words.findIndex((w) => /^[-[|]/.test(w));
  return { name, positionals: end < 0 ? words : words.slice(0, end) };
}

/** Output whose JSON is `value` and whose text is `toText(value)`. */
export function shown<T>(value: T, toText: (value: T) => string): CommandOutput {
  return { json: value, text: toText(value) };
}

export function serviceCommand(services: ServicesFactory, spec: ServiceCommandSpec): CliCommand {
  const { name, positionals: names } = parseUsage(spec.usage);
  return {
    name,
    usage: spec.usage,
    summary: spec.summary,
    ...(spec.details !== undefined ? { details: spec.details } : {}),
    async run(ctx, argv) {
      const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' }, ...spec.options });
      const args = requirePositionals(positionals, names);
      const out = await spec.run(await services(ctx), ctx, { args, values });
      if (values.json) writeJson(ctx, out.json);
      else if (out.text !== null) ctx.stdout.write(out.text);
    },
  };
}
