// The Disks list's rules (pure), as the Grow dialog applies them before anything is sent: a
// smaller size is refused with its reason, the prefilled size is "unchanged", a larger one is
// asked for in whole sectors; and the buttons only work while the VM is off.
import { describe, expect, it } from 'vitest';
import { DISK_MAX_BYTES } from '../../../src-shared/contracts/disks';
import { diskLock, freedBytes, GIB, gibText, parseGrowSize } from '../../../src-renderer/library/disk-rules';

describe('the Grow dialog', () => {
  const disk = 64 * GIB;

  it('refuses a smaller size (Maru never shrinks a disk)', () => {
    expect(parseGrowSize('32', disk)).toEqual({ bytes: null, problem: 'shrink' });
    expect(parseGrowSize('63.99', disk)).toEqual({ bytes: null, problem: 'shrink' });
  });

  it('treats the prefilled size as unchanged, even when it was rounded for display', () => {
    expect(parseGrowSize(gibText(disk), disk)).toEqual({ bytes: null, problem: 'same' });
    const odd = 10 * GIB + 5 * 1024 * 1024; // 10.0049 GiB, shown as 10.01
    expect(gibText(odd)).toBe('10.01');
    expect(parseGrowSize('10.01', odd)).toEqual({ bytes: null, problem: 'same' });
    expect(parseGrowSize('10', odd)).toEqual({ bytes: null, problem: 'shrink' });
    expect(parseGrowSize('10.02', odd).bytes).toBeGreaterThan(odd);
  });

  it('asks for a larger size in whole 512-byte sectors', () => {
    expect(parseGrowSize('80', disk)).toEqual({ bytes: 80 * GIB, problem: null });
    const { bytes } = parseGrowSize(' 64.3 ', disk);
    expect(bytes).not.toBeNull();
    expect(bytes! % 512).toBe(0);
    expect(bytes!).toBeGreaterThanOrEqual(64.3 * GIB);
  });

  it('refuses what is not a positive number of GiB, and more than a disk may be', () => {
    for (const text of ['', 'abc', '0', '-5', '1e3', '12,5', '5 GiB']) {
      expect(parseGrowSize(text, disk).problem, text).toBe('number');
    }
    expect(parseGrowSize(String(DISK_MAX_BYTES / GIB + 1), disk).problem).toBe('max');
  });
});

describe('the disk buttons', () => {
  it('work while the VM is off (or after its engine host died), not while it runs or holds a saved state', () => {
    expect(diskLock('off')).toBeNull();
    expect(diskLock('aborted')).toBeNull();
    expect(diskLock('running')).toBe('running');
    expect(diskLock('paused')).toBe('running');
    expect(diskLock('saved')).toBe('saved');
  });

  it('a compaction that kept the original freed nothing', () => {
    expect(freedBytes({ bytesBefore: 5 * GIB, bytesAfter: 2 * GIB })).toBe(3 * GIB);
    expect(freedBytes({ bytesBefore: 2 * GIB, bytesAfter: 2 * GIB })).toBe(0);
  });
});
