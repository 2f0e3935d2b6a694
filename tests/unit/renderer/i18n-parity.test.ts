// The Korean UI is complete: same keys as English, and no English string left untranslated
// (except names that are the same in both languages).
import { describe, expect, it } from 'vitest';
import { en } from '../../../src-renderer/i18n/en';
import { ko } from '../../../src-renderer/i18n/ko';

function flatten(o: object, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o)) {
    if (typeof v === 'string') out[prefix + k] = v;
    else Object.assign(out, flatten(v as object, `${prefix}${k}.`));
  }
  return out;
}

const SAME_IN_BOTH = new Set([
  'library.uuid',
  'os.windows11',
  'os.windows10',
  'os.windows7',
  'os.windowsxp',
  'os.windows98',
  'os.dos',
]);

describe('i18n', () => {
  const e = flatten(en);
  const k = flatten(ko);
  it('Korean has exactly the English keys', () => {
    expect(Object.keys(k).sort()).toEqual(Object.keys(e).sort());
  });
  it('no English leaks into Korean', () => {
    const leaks = Object.keys(e).filter((key) => !SAME_IN_BOTH.has(key) && k[key] === e[key]);
    expect(leaks).toEqual([]);
  });
  it('interpolations match', () => {
    for (const key of Object.keys(e)) {
      const vars = (s: string) => [...s.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]).sort();
      expect(vars(k[key]!), key).toEqual(vars(e[key]!));
    }
  });
});
