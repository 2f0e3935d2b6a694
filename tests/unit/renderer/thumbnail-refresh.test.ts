// When a library row reads its VM's screen: at once or after the rest of an interval, again
// every interval for a running VM (never two requests at once, nothing while the page is
// hidden, nothing after the row goes), once for a stopped one. A hand-driven clock stands in
// for the page's timers and visibility (the real ones run in tests/e2e/snapshots.spec.ts).
import { describe, expect, it } from 'vitest';
import {
  firstReadDelay,
  scheduleThumbnailReads,
  THUMBNAIL_REFRESH_MS,
  thumbnailModeOf,
  type RefreshHost,
} from '../../../src-renderer/library/thumbnail-refresh';

/** A clock moved by hand, a page shown or hidden by hand. */
function manualHost() {
  let now = 0;
  let timers: { at: number; fn: () => void }[] = [];
  let visible = true;
  const onShow = new Set<() => void>();
  const host: RefreshHost = {
    setTimer(fn, ms) {
      const timer = { at: now + ms, fn };
      timers.push(timer);
      return () => {
        timers = timers.filter((t) => t !== timer);
      };
    },
    visible: () => visible,
    onVisible(fn) {
      onShow.add(fn);
      return () => onShow.delete(fn);
    },
  };
  return {
    host,
    pendingTimers: () => timers.length,
    listeners: () => onShow.size,
    advance(ms: number) {
      now += ms;
      for (;;) {
        const due = timers.filter((t) => t.at <= now).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        timers = timers.filter((t) => t !== due);
        due.fn();
      }
    },
    setVisible(v: boolean) {
      visible = v;
      if (v) for (const fn of [...onShow]) fn();
    },
  };
}

/** A read whose answer comes when the test says so. */
function heldReads() {
  let started = 0;
  let answer: (() => void) | null = null;
  return {
    read: () => {
      started++;
      return new Promise<void>((resolve) => (answer = resolve));
    },
    started: () => started,
    inFlight: () => answer !== null,
    async answer() {
      const a = answer;
      answer = null;
      a?.();
      await Promise.resolve();
      await Promise.resolve();
    },
  };
}

describe('thumbnail refresh', () => {
  it('running and paused VMs are read again and again; stopped ones once; an inaccessible one never', () => {
    expect(thumbnailModeOf('running')).toBe('live');
    expect(thumbnailModeOf('paused')).toBe('live');
    expect(thumbnailModeOf('off')).toBe('kept');
    expect(thumbnailModeOf('saved')).toBe('kept');
    expect(thumbnailModeOf('aborted')).toBe('kept');
    expect(thumbnailModeOf('inaccessible')).toBeNull();
  });

  it('a row shown again reads at once unless its last read still holds', () => {
    expect(firstReadDelay('off', undefined, 1000)).toBe(0);
    // A kept screen read in this same state is still right; one read while running is not.
    expect(firstReadDelay('off', { forState: 'off', at: 0 }, 1_000_000)).toBeNull();
    expect(firstReadDelay('off', { forState: 'running', at: 999 }, 1000)).toBe(0);
    // A live screen read 2 s ago waits the remaining 3 s; one read long ago is read at once.
    expect(firstReadDelay('running', { forState: 'running', at: 8000 }, 10_000)).toBe(THUMBNAIL_REFRESH_MS - 2000);
    expect(firstReadDelay('running', { forState: 'running', at: 0 }, 60_000)).toBe(0);
    expect(firstReadDelay('running', { forState: 'paused', at: 9999 }, 10_000)).toBe(0);
    // A clock set back never makes a row wait longer than one interval.
    expect(firstReadDelay('running', { forState: 'running', at: 90_000 }, 10_000)).toBe(THUMBNAIL_REFRESH_MS);
  });

  it('a live screen: one request at a time, the next an interval after the answer', async () => {
    const clock = manualHost();
    const reads = heldReads();
    const stop = scheduleThumbnailReads({ mode: 'live', read: reads.read, firstDelayMs: 0 }, clock.host);
    expect(reads.started()).toBe(1);
    // A slow answer: no second request while the first is out, however long it takes.
    clock.advance(3 * THUMBNAIL_REFRESH_MS);
    expect(reads.started()).toBe(1);
    await reads.answer();
    clock.advance(THUMBNAIL_REFRESH_MS - 1);
    expect(reads.started()).toBe(1);
    clock.advance(1);
    expect(reads.started()).toBe(2);
    await reads.answer();
    clock.advance(THUMBNAIL_REFRESH_MS);
    expect(reads.started()).toBe(3);
    stop();
    await reads.answer();
    clock.advance(10 * THUMBNAIL_REFRESH_MS);
    expect(reads.started()).toBe(3);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('a failed read does not end the refresh', async () => {
    const clock = manualHost();
    let n = 0;
    const stop = scheduleThumbnailReads(
      {
        mode: 'live',
        read: () => (++n === 1 ? Promise.reject(new Error('socket closed')) : Promise.resolve()),
        firstDelayMs: 0,
      },
      clock.host,
    );
    await Promise.resolve();
    await Promise.resolve();
    clock.advance(THUMBNAIL_REFRESH_MS);
    expect(n).toBe(2);
    stop();
  });

  it('nothing is read while the page is hidden; showing it reads at once and resumes', async () => {
    const clock = manualHost();
    const reads = heldReads();
    const stop = scheduleThumbnailReads({ mode: 'live', read: reads.read, firstDelayMs: 0 }, clock.host);
    await reads.answer();
    clock.setVisible(false);
    clock.advance(20 * THUMBNAIL_REFRESH_MS);
    expect(reads.started()).toBe(1);
    clock.setVisible(true);
    expect(reads.started()).toBe(2);
    expect(clock.listeners()).toBe(0);
    await reads.answer();
    clock.advance(THUMBNAIL_REFRESH_MS);
    expect(reads.started()).toBe(3);
    // Stopped while waiting for the page: showing it later reads nothing.
    await reads.answer();
    clock.setVisible(false);
    clock.advance(THUMBNAIL_REFRESH_MS);
    stop();
    expect(clock.listeners()).toBe(0);
    clock.setVisible(true);
    expect(reads.started()).toBe(3);
  });

  it('a kept screen is read once; a first delay is waited out; stop before it reads nothing', async () => {
    const clock = manualHost();
    const reads = heldReads();
    scheduleThumbnailReads({ mode: 'kept', read: reads.read, firstDelayMs: 0 }, clock.host);
    await reads.answer();
    clock.advance(100 * THUMBNAIL_REFRESH_MS);
    expect(reads.started()).toBe(1);
    expect(clock.pendingTimers()).toBe(0);

    const later = heldReads();
    const stop = scheduleThumbnailReads({ mode: 'live', read: later.read, firstDelayMs: 3000 }, clock.host);
    clock.advance(2999);
    expect(later.started()).toBe(0);
    clock.advance(1);
    expect(later.started()).toBe(1);
    stop();

    const never = heldReads();
    scheduleThumbnailReads({ mode: 'live', read: never.read, firstDelayMs: 3000 }, clock.host)();
    clock.advance(10_000);
    expect(never.started()).toBe(0);
  });
});
