// Option parsing for `maru` commands on top of node:util parseArgs, with the number and
// size conversions the commands share. Every bad value is a UsageError naming the option.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './cli-context';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;
/** Parsed option values by option name (without the dashes). */
export type OptionValues = Record<string, string | boolean | string[] | undefined>;

export function parseCommandArgs<O extends OptionSpec>(
  argv: string[],
  options: O,
): { values: OptionValues; positionals: string[] } {
  try {
    const r = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values: r.values as OptionValues, positionals: r.positionals };
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message.replace(/^TypeError \[[A-Z_]+\]: /, '') : String(err));
  }
}

export function intOption(values: Record<string, unknown>, name: string): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^\d+$/.test(v.trim())) {
    throw new UsageError(`--${name} must be a whole number, got "${String(v)}".`);
  }
  return Number.parseInt(v, 10);
}

/** Memory in MiB: "4096", "4096M", "4G", "4GiB", "512MiB". */
export function memoryOption(values: Record<string, unknown>, name: string): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const m = typeof v === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*(m|mb|mib|g|gb|gib)?\s*$/i.exec(v) : null;
  if (!m || m[1] === undefined)
    throw new UsageError(`--${name} must be a size in MiB (e.g. 4096 or 4G), got "${String(v)}".`);
  const n = Number.parseFloat(m[1]);
  const unit = (m[2] ?? 'm').toLowerCase();
  const mib = unit.startsWith('g') ? n * 1024 : n;
  if (!Number.isInteger(mib)) throw new UsageError(`--${name} must be a whole number of MiB, got "${v}".`);
  return mib;
}

/** Disk size in GiB: "64", "64G", "0.5" (= 512 MiB). */
export function diskOption(values: Record<string, unknown>, name: string): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const m = typeof v === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*(g|gb|gib)?\s*$/i.exec(v) : null;
  if (!m || m[1] === undefined) throw new UsageError(`--${name} must be a size in GiB (e.g. 64), got "${String(v)}".`);
  return Number.parseFloat(m[1]);
}

export function oneOf<T extends string>(
  values: Record<string, unknown>,
  name: string,
  allowed: readonly T[],
): T | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got "${String(v)}".`);
  }
  return v as T;
}

/** `--secure-boot` / `--no-secure-boot` style pairs; undefined when neither is given. */
export function flagPair(values: Record<string, unknown>, name: string): boolean | undefined {
  const on = values[name] === true;
  const off = values[`no-${name}`] === true;
  if (on && off) throw new UsageError(`--${name} and --no-${name} contradict each other.`);
  return on ? true : off ? false : undefined;
}

export function requirePositionals(positionals: string[], names: string[]): string[] {
  if (positionals.length < names.length) {
    throw new UsageError(`missing ${names.slice(positionals.length).join(' and ')}.`);
  }
  if (positionals.length > names.length) {
    throw new UsageError(`unexpected argument "${positionals[names.length]}".`);
  }
  return positionals;
}
