// The one byte formatter (src-shared/format-bytes.ts) the CLI, the host report, ISO messages
// and the renderer share.
import { describe, expect, it } from 'vitest';
import { formatBytes, formatMiB } from '../../../src-shared/format-bytes';

describe('formatBytes', () => {
  it('uses binary units with a decimal only where it says something', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(120 * 1024 ** 2 + 1)).toBe('120 MiB');
    expect(formatBytes(25_276_510_208)).toBe('23.5 GiB');
    expect(formatBytes(64 * 1024 ** 3)).toBe('64 GiB');
    expect(formatBytes(3 * 1024 ** 5)).toBe('3 PiB');
  });

  it('always shows one decimal when asked (sizes set side by side)', () => {
    expect(formatBytes(40 * 1024, { oneDecimal: true })).toBe('40.0 KiB');
    expect(formatBytes(300, { oneDecimal: true })).toBe('300 B');
  });

  it('shows a dash for what is not a size', () => {
    expect(formatBytes(-1)).toBe('—');
    expect(formatBytes(Number.NaN)).toBe('—');
    expect(formatBytes(Number.POSITIVE_INFINITY)).toBe('—');
  });

  it('writes memory sizes given in MiB as it writes bytes', () => {
    expect(formatMiB(512)).toBe('512 MiB');
    expect(formatMiB(1536)).toBe('1.5 GiB');
    expect(formatMiB(4096)).toBe('4 GiB');
    expect(formatMiB(12052)).toBe('11.8 GiB');
    expect(formatMiB(Number.NaN)).toBe('—');
  });
});
