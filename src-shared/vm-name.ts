// The rule for VM names, without zod, so the renderer checks names as the library does
// (vm-config.ts builds its schema on it). Problems come as stable codes plus English text.

/** Longest VM name; also keeps run-folder paths short. */
export const MAX_NAME_LENGTH = 64;

export type VmNameProblemCode = 'empty' | 'too-long' | 'separator' | 'control' | 'outer-space' | 'dots' | 'reserved';

/** Why a name is not usable, as a code, or undefined when it is. */
export function vmNameProblemCode(name: string): VmNameProblemCode | undefined {
  if (name.length === 0) return 'empty';
  if (name.length > MAX_NAME_LENGTH) return 'too-long';
  if (/[/\\]/.test(name)) return 'separator';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'control';
  if (name.trim() !== name) return 'outer-space';
  if (/^\.+$/.test(name)) return 'dots';
  if (/[<>:"|?*]/.test(name)) return 'reserved';
  return undefined;
}

const MESSAGES: Record<VmNameProblemCode, string> = {
  empty: 'The name is empty.',
  'too-long': `The name is longer than ${MAX_NAME_LENGTH} characters.`,
  separator: 'The name contains a path separator ("/" or "\\").',
  control: 'The name contains a control character.',
  'outer-space': 'The name starts or ends with a space.',
  dots: 'The name cannot be only dots.',
  reserved: 'The name contains one of < > : " | ? * (not allowed in file names on Windows).',
};

/**
 * Why a name is not usable, or undefined when it is. Names become folder labels and CLI
 * arguments: no path separators, no control characters, no `.`/`..`, no outer spaces.
 */
export function vmNameProblem(name: string): string | undefined {
  const code = vmNameProblemCode(name);
  return code ? MESSAGES[code] : undefined;
}

/** Two names clash when they are equal ignoring case (and Unicode normalization). */
export function sameVmName(a: string, b: string): boolean {
  return a.normalize('NFC').toLowerCase() === b.normalize('NFC').toLowerCase();
}
