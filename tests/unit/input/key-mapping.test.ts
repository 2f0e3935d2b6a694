// Text and combos to QKeyCode strokes on a US layout: shifted characters, Enter, refusals.
import { describe, expect, it } from 'vitest';
import {
  comboKeys,
  keyNameOf,
  parseCombo,
  strokeForChar,
  textToKeyStrokes,
} from '../../../src-emulator/input/key-mapping';

describe('textToKeyStrokes', () => {
  it('types letters, digits and shifted characters', () => {
    expect(textToKeyStrokes('aZ9')).toEqual([['a'], ['shift', 'z'], ['9']]);
    expect(textToKeyStrokes('Hi!')).toEqual([['shift', 'h'], ['i'], ['shift', '1']]);
  });

  it('maps every printable ASCII character', () => {
    for (let c = 0x20; c < 0x7f; c++) {
      const ch = String.fromCharCode(c);
      expect(strokeForChar(ch), JSON.stringify(ch)).toBeDefined();
    }
    expect(textToKeyStrokes('~_+{}|:"<>?')).toEqual([
      ['shift', 'grave_accent'],
      ['shift', 'minus'],
      ['shift', 'equal'],
      ['shift', 'bracket_left'],
      ['shift', 'bracket_right'],
      ['shift', 'backslash'],
      ['shift', 'semicolon'],
      ['shift', 'apostrophe'],
      ['shift', 'comma'],
      ['shift', 'dot'],
      ['shift', 'slash'],
    ]);
    expect(textToKeyStrokes("-=[]\\;',./` ")).toEqual(
      [
        'minus',
        'equal',
        'bracket_left',
        'bracket_right',
        'backslash',
        'semicolon',
        'apostrophe',
        'comma',
        'dot',
        'slash',
        'grave_accent',
        'spc',
      ].map((k) => [k]),
    );
  });

  it('treats \\n, \\r and \\r\\n as one Enter each, and knows tab and backspace', () => {
    expect(textToKeyStrokes('a\nb\r\nc\rd\t\b')).toEqual([
      ['a'],
      ['ret'],
      ['b'],
      ['ret'],
      ['c'],
      ['ret'],
      ['d'],
      ['tab'],
      ['backspace'],
    ]);
  });

  it('refuses characters a US keyboard cannot type, naming them', () => {
    expect(() => textToKeyStrokes('ok é')).toThrow(/Cannot type "é" \(U\+00E9, character 4\)/);
    expect(() => textToKeyStrokes('😀')).toThrow(/U\+1F600/);
  });
});

describe('combos', () => {
  it('parses ctrl+alt+del with aliases, case-insensitively', () => {
    expect(parseCombo('ctrl+alt+del')).toEqual(['ctrl', 'alt', 'delete']);
    expect(parseCombo('Ctrl+Alt+Delete')).toEqual(['ctrl', 'alt', 'delete']);
    expect(parseCombo('win+r')).toEqual(['meta_l', 'r']);
    expect(parseCombo('alt+f4')).toEqual(['alt', 'f4']);
    expect(parseCombo('ctrl+alt+f2')).toEqual(['ctrl', 'alt', 'f2']);
    expect(parseCombo('shift+tab')).toEqual(['shift', 'tab']);
    expect(parseCombo('enter')).toEqual(['ret']);
  });

  it('refuses unknown keys, empty parts, duplicates and too many keys', () => {
    expect(() => parseCombo('ctrl+alt+dell')).toThrow(/Unknown key "dell"/);
    expect(() => parseCombo('ctrl++a')).toThrow(/not a key combo/);
    expect(() => parseCombo('ctrl+control')).toThrow(/names a key twice/);
    expect(() => comboKeys(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'])).toThrow(/1 to 8 keys/);
    expect(keyNameOf(' ESC ')).toBe('esc');
  });
});
