// Paste-as-typing maps US-layout text to the right keys and shift state; the display's
// Korean strings are complete.
import { describe, expect, it } from 'vitest';
import { textToKeysyms } from '../../../src-renderer/display/keysyms';
import { displayEn, displayKo } from '../../../src-renderer/display/display-strings';

describe('textToKeysyms', () => {
  it('types letters, digits, shifted symbols and newlines', () => {
    expect(textToKeysyms('aZ1!\n').map((k) => [k.code, k.shift, k.keysym])).toEqual([
      ['KeyA', false, 0x61],
      ['KeyZ', true, 0x5a],
      ['Digit1', false, 0x31],
      ['Digit1', true, 0x21],
      ['Enter', false, 0xff0d],
    ]);
  });
  it('covers every printable ASCII character', () => {
    const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('');
    expect(textToKeysyms(printable)).toHaveLength(95);
  });
  it('skips characters with no US key (e.g. Hangul) instead of sending garbage', () => {
    expect(textToKeysyms('한a')).toHaveLength(1);
  });
});

describe('display strings', () => {
  const flat = (o: object, p = ''): Record<string, string> =>
    Object.entries(o).reduce<Record<string, string>>(
      (acc, [k, v]) => Object.assign(acc, typeof v === 'string' ? { [p + k]: v } : flat(v as object, `${p}${k}.`)),
      {},
    );
  it('Korean has every English key, translated', () => {
    const e = flat(displayEn);
    const k = flat(displayKo);
    expect(Object.keys(k).sort()).toEqual(Object.keys(e).sort());
    const same = Object.keys(e).filter((key) => e[key] === k[key] && key !== 'actual');
    expect(same).toEqual([]);
  });
});
