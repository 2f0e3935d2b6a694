// US-layout text → X11 keysyms + KeyboardEvent codes (noVNC turns codes into XT scancodes
// for QEMU's extended key events), for "paste as typed keys".

export interface TypedKey {
  readonly keysym: number;
  readonly code: string;
  readonly shift: boolean;
}

export const HOST_KEY_CHOICES = ['ControlRight', 'AltRight', 'MetaRight', 'ScrollLock', 'Pause'] as const;
export type HostKeyCode = (typeof HOST_KEY_CHOICES)[number];

const DIGIT_SHIFTED = ')!@#$%^&*(';
const PUNCT: Record<string, [code: string, shifted: string]> = {
  '-': ['Minus', '_'],
  '=': ['Equal', '+'],
  '[': ['BracketLeft', '{'],
  ']': ['BracketRight', '}'],
  '\\': ['Backslash', '|'],
  ';': ['Semicolon', ':'],
  "'": ['Quote', '"'],
  ',': ['Comma', '<'],
  '.': ['Period', '>'],
  '/': ['Slash', '?'],
  '`': ['Backquote', '~'],
};

function keyFor(ch: string): TypedKey | undefined {
  const c = ch.charCodeAt(0);
  if (ch === '\n' || ch === '\r') return { keysym: 0xff0d, code: 'Enter', shift: false };
  if (ch === '\t') return { keysym: 0xff09, code: 'Tab', shift: false };
  if (ch === ' ') return { keysym: 0x20, code: 'Space', shift: false };
  if (ch >= 'a' && ch <= 'z') return { keysym: c, code: `Key${ch.toUpperCase()}`, shift: false };
  if (ch >= 'A' && ch <= 'Z') return { keysym: c, code: `Key${ch}`, shift: true };
  if (ch >= '0' && ch <= '9') return { keysym: c, code: `Digit${ch}`, shift: false };
  const d = DIGIT_SHIFTED.indexOf(ch);
  if (d >= 0) return { keysym: c, code: `Digit${d}`, shift: true };
  for (const [base, [code, shifted]] of Object.entries(PUNCT)) {
    if (ch === base) return { keysym: c, code, shift: false };
    if (ch === shifted) return { keysym: c, code, shift: true };
  }
  return undefined;
}

/** Keys to type `text` on a US layout; characters with no key there are skipped. */
export function textToKeysyms(text: string): TypedKey[] {
  const out: TypedKey[] = [];
  for (const ch of text.replace(/\r\n/g, '\n')) {
    const k = keyFor(ch);
    if (k) out.push(k);
  }
  return out;
}
