// Keyboard input in one engine-neutral vocabulary: QEMU's QKeyCode names. Text is mapped
// to key strokes on a US layout (shift where needed); combos like "ctrl+alt+del" are parsed
// with friendly aliases. Engines translate key names to their own codes (qcodes, scancodes).
import { AppError } from '../../src-shared/errors';

/** A key name in QEMU's QKeyCode vocabulary (e.g. 'a', 'shift', 'ret', 'delete'). */
export type KeyName = string;

/** Keys pressed together in order, then released in reverse order. */
export type KeyStroke = readonly KeyName[];

/** Unshifted characters on a US keyboard and their keys. */
const PLAIN: Readonly<Record<string, KeyName>> = {
  ' ': 'spc',
  '\n': 'ret',
  '\r': 'ret',
  '\t': 'tab',
  '\b': 'backspace',
  '\u001b': 'esc',
  '-': 'minus',
  '=': 'equal',
  '[': 'bracket_left',
  ']': 'bracket_right',
  '\\': 'backslash',
  ';': 'semicolon',
  "'": 'apostrophe',
  '`': 'grave_accent',
  ',': 'comma',
  '.': 'dot',
  '/': 'slash',
};

/** Characters typed with shift on a US keyboard, by the key they share. */
const SHIFTED: Readonly<Record<string, KeyName>> = {
  '!': '1',
  '@': '2',
  '#': '3',
  $: '4',
  '%': '5',
  '^': '6',
  '&': '7',
  '*': '8',
  '(': '9',
  ')': '0',
  _: 'minus',
  '+': 'equal',
  '{': 'bracket_left',
  '}': 'bracket_right',
  '|': 'backslash',
  ':': 'semicolon',
  '"': 'apostrophe',
  '~': 'grave_accent',
  '<': 'comma',
  '>': 'dot',
  '?': 'slash',
};

/** The strokes that type one character, or undefined when a US keyboard has no key for it. */
export function strokeForChar(ch: string): KeyStroke | undefined {
  if (/^[a-z0-9]$/.test(ch)) return [ch];
  if (/^[A-Z]$/.test(ch)) return ['shift', ch.toLowerCase()];
  const plain = PLAIN[ch];
  if (plain) return [plain];
  const shifted = SHIFTED[ch];
  if (shifted) return ['shift', shifted];
  return undefined;
}

/**
 * The strokes that type `text` on a US layout. `\n` and `\r` are Enter (a `\r\n` pair is
 * one Enter). Throws INVALID_ARGUMENT naming the first character a US keyboard cannot type.
 */
export function textToKeyStrokes(text: string): KeyStroke[] {
  const out: KeyStroke[] = [];
  const chars = [...text];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === '\r' && chars[i + 1] === '\n') continue;
    const stroke = strokeForChar(ch);
    if (!stroke) {
      const code = ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
      throw new AppError(
        'INVALID_ARGUMENT',
        `Cannot type ${JSON.stringify(ch)} (U+${code}, character ${i + 1}): send-keys types on a US keyboard ` +
          'layout, which has no key for it. Use ASCII text, or --combo for special keys.',
      );
    }
    out.push(stroke);
  }
  return out;
}

/** Friendly names accepted in combos, mapped to QKeyCode names. */
const ALIASES: Readonly<Record<string, KeyName>> = {
  control: 'ctrl',
  lctrl: 'ctrl',
  rctrl: 'ctrl_r',
  ctrl_l: 'ctrl',
  lalt: 'alt',
  ralt: 'alt_r',
  altgr: 'alt_r',
  alt_l: 'alt',
  lshift: 'shift',
  rshift: 'shift_r',
  shift_l: 'shift',
  win: 'meta_l',
  windows: 'meta_l',
  super: 'meta_l',
  meta: 'meta_l',
  cmd: 'meta_l',
  command: 'meta_l',
  del: 'delete',
  ins: 'insert',
  enter: 'ret',
  return: 'ret',
  escape: 'esc',
  space: 'spc',
  bksp: 'backspace',
  pgup: 'pgup',
  pageup: 'pgup',
  pgdn: 'pgdn',
  pagedown: 'pgdn',
  printscreen: 'print',
  prtsc: 'print',
  sysrq: 'sysrq',
};

/** QKeyCode names accepted as they are. */
const QCODES = new Set<string>([
  ...'abcdefghijklmnopqrstuvwxyz0123456789'.split(''),
  ...Array.from({ length: 12 }, (_, i) => `f${i + 1}`),
  ...Object.values(PLAIN),
  'shift',
  'shift_r',
  'alt',
  'alt_r',
  'ctrl',
  'ctrl_r',
  'meta_l',
  'meta_r',
  'menu',
  'caps_lock',
  'num_lock',
  'scroll_lock',
  'print',
  'sysrq',
  'pause',
  'insert',
  'delete',
  'home',
  'end',
  'pgup',
  'pgdn',
  'up',
  'down',
  'left',
  'right',
  'kp_0',
  'kp_1',
  'kp_2',
  'kp_3',
  'kp_4',
  'kp_5',
  'kp_6',
  'kp_7',
  'kp_8',
  'kp_9',
  'kp_add',
  'kp_subtract',
  'kp_multiply',
  'kp_divide',
  'kp_enter',
  'kp_decimal',
]);

/** Maps one key name or alias (case-insensitive) to a QKeyCode name; throws INVALID_ARGUMENT when unknown. */
export function keyNameOf(name: string): KeyName {
  const n = name.trim().toLowerCase();
  const key = ALIASES[n] ?? (QCODES.has(n) ? n : undefined);
  if (key) return key;
  const single = n.length === 1 ? PLAIN[n] : undefined;
  if (single) return single;
  throw new AppError(
    'INVALID_ARGUMENT',
    `Unknown key ${JSON.stringify(name)}. Use names like ctrl, alt, shift, win, del, esc, enter, tab, f1–f12, ` +
      'up/down/left/right, home, end, pgup, pgdn, or a letter or digit.',
  );
}

/** Parses "ctrl+alt+del" (keys joined by "+") into one stroke. */
export function parseCombo(combo: string): KeyStroke {
  const parts = combo.split('+');
  if (parts.some((p) => p.trim() === '')) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `${JSON.stringify(combo)} is not a key combo: write keys joined by "+", e.g. ctrl+alt+del.`,
    );
  }
  return comboKeys(parts);
}

/** Maps a list of key names to one stroke, refusing duplicates and more than 8 keys. */
export function comboKeys(names: readonly string[]): KeyStroke {
  const keys = names.map(keyNameOf);
  if (keys.length === 0 || keys.length > 8) {
    throw new AppError('INVALID_ARGUMENT', `A key combo has 1 to 8 keys, got ${keys.length}.`);
  }
  if (new Set(keys).size !== keys.length) {
    throw new AppError('INVALID_ARGUMENT', `The combo ${names.join('+')} names a key twice.`);
  }
  return keys;
}
