// The Korean UI is complete: same keys as English, no English string left untranslated
// (except names that are the same in both languages), and every key the code uses — literal
// t('…') calls and the code tables (rules, detector reasons, states) — exists.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { en } from '../../../src-renderer/i18n/en';
import { ko } from '../../../src-renderer/i18n/ko';
import { PRESET_IDS } from '../../../src-shared/os-presets';

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
  // Product and technical names.
  'details.cd',
  'settings.boot.cdrom',
  'wizard.tpm',
  'readiness.req.tpm',
  'perf.cpu',
  'host.smm',
  'host.storage.ssd',
  // Only placeholders.
  'drop.failed',
  'media.useState',
]);

/** Korean uses the technical term as it is ("CPU"). */
const TERM_IN_KOREAN = new Set(['library.cpus', 'wizard.cpus']);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    if (statSync(p).isDirectory()) return n === 'display' ? [] : sources(p);
    return /\.tsx?$/.test(n) ? [p] : [];
  });
}

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
  it('Korean strings are Korean (Hangul in every string with words)', () => {
    const noHangul = Object.keys(k).filter(
      (key) =>
        !SAME_IN_BOTH.has(key) &&
        !TERM_IN_KOREAN.has(key) &&
        /[a-z]{3,}/i.test(e[key]!) &&
        !/[\uac00-\ud7a3]/.test(k[key]!),
    );
    expect(noHangul).toEqual([]);
  });
  it('interpolations match', () => {
    for (const key of Object.keys(e)) {
      const vars = (s: string) => [...s.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]).sort();
      expect(vars(k[key]!), key).toEqual(vars(e[key]!));
    }
  });
  it('every literal key the renderer uses exists', () => {
    const used = new Set<string>();
    for (const file of sources(path.resolve('src-renderer'))) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/\bt\(\s*'([a-zA-Z0-9_.-]+)'/g)) used.add(m[1]!);
      for (const m of text.matchAll(/\bkey: '([a-zA-Z0-9_.-]+)'/g)) used.add(m[1]!);
    }
    expect(used.size).toBeGreaterThan(150);
    expect([...used].filter((key) => !(key in e))).toEqual([]);
  });
  it('every code the rules, detector and states produce has text', () => {
    const need = [
      ...PRESET_IDS.map((id) => `os.${id}`),
      ...['off', 'running', 'paused', 'saved', 'aborted', 'inaccessible'].map((s) => `state.${s}`),
      ...['empty', 'too-long', 'separator', 'control', 'outer-space', 'dots', 'reserved', 'duplicate'].map(
        (c) => `wizard.errors.name.${c}`,
      ),
      ...['whole', 'v86', 'host'].map((c) => `wizard.errors.cpus.${c}`),
      ...['min', 'host', 'v86'].map((c) => `wizard.errors.memoryMiB.${c}`),
      ...[
        'host-unknown',
        'auto-v86-preferred',
        'auto-qemu',
        'auto-no-qemu',
        'auto-none',
        'qemu-chosen',
        'qemu-missing',
        'v86-chosen',
        'v86-cannot',
      ].map((r) => `wizard.engineWhy.${r}`),
      ...['uefi', 'secure-boot', 'tpm', 'memory', 'disk', 'cpus', 'engine', 'smm', 'swtpm'].flatMap((id) => [
        `readiness.req.${id}`,
        `readiness.fix.${id}`,
      ]),
      ...['memoryHost', 'cpusHost', 'engineHost', 'smmHost', 'swtpmHost'].map((id) => `readiness.fix.${id}`),
      ...[
        'windows-image-info',
        'windows-build-branch',
        'windows-label',
        'windows-installer',
        'windows-xp',
        'windows-9x',
        'dos',
        'linux-disk-info',
        'linux-layout',
        'arch',
        'boot-bios',
        'boot-uefi',
        'no-boot',
        'unknown',
      ].map((c) => `detect.reason.${c}`),
      ...['empty', 'too-small', 'no-signature'].map((r) => `drop.notIso.${r}`),
      ...['start', 'stop', 'forceStop', 'pause', 'resume', 'reset', 'saveState', 'discardState'].map(
        (a) => `actions.busy.${a}`,
      ),
      // The Disks list and its dialogs (keys built from the operation, the rule's code, the job's phase).
      ...['grow', 'compact'].flatMap((op) => [`disks.busy.${op}`, `disks.cancelled.${op}`]),
      ...['number', 'same', 'shrink', 'max'].map((c) => `disks.growDialog.errors.${c}`),
      ...['check', 'import'].map((p) => `disks.importDialog.phase.${p}`),
      // The new-VM wizard's disk choice and job phases (keys built from the choice, the problem's code, the phase).
      ...['new', 'existing'].map((c) => `wizard.existingDisk.${c}`),
      ...['path', 'inspect', 'refused'].map((c) => `wizard.existingDisk.problem.${c}`),
      ...['disk', 'config', 'check', 'import'].map((p) => `wizard.phase.${p}`),
      // Export… and Import… (keys built from the job's phase).
      ...['snapshot', 'export', 'check', 'import', 'register'].map((p) => `backup.phase.${p}`),
      // The media manager (keys built from the medium's type, status, location, use and why it cannot be removed).
      ...['hdd', 'dvd', 'fdd'].flatMap((type) => [`media.tab.${type}`, `media.none.${type}`]),
      ...['missing', 'unreadable', 'inUse', 'orphan', 'unused'].map((s) => `media.status.${s}`),
      ...['vm', 'imported', 'orphaned', 'isos', 'outside'].map((l) => `media.where.${l}`),
      ...['now', 'snapshot', 'via', 'snapshotVia'].map((u) => `media.use.${u}`),
      ...['missing', 'inUse', 'outside'].map((r) => `media.removeHint.${r}`),
    ];
    expect(need.filter((key) => !(key in e))).toEqual([]);
  });
});
