// When a library row reads its VM's screen again: a live screen (running or paused) every few
// seconds while the row is rendered and the page is visible, one read at a time; a kept screen
// (off, saved, aborted) once per state. Pure: timers and page visibility come from the caller.
import type { VmPowerState } from '../../src-shared/contracts/library';

/** How often a rendered row of a running or paused VM reads its live screen (ms). */
export const THUMBNAIL_REFRESH_MS = 5000;

/** `live`: read again and again; `kept`: read once; null: nothing to read (an inaccessible VM). */
export type ThumbnailMode = 'live' | 'kept';

export function thumbnailModeOf(state: VmPowerState | 'inaccessible'): ThumbnailMode | null {
  if (state === 'running' || state === 'paused') return 'live';
  return state === 'inaccessible' ? null : 'kept';
}

/** What the last read of this VM's screen knows, if anything (store/thumbnail-slice.ts). */
export interface LastRead {
  readonly forState: VmPowerState;
  readonly at: number;
}

/**
 * When a row just rendered reads first, in ms from now; null: not at all. A kept screen read in
 * the VM's present state is still right; a live one read less than an interval ago (the row
 * scrolled out and back) waits out the rest of the interval.
 */
export function firstReadDelay(
  state: VmPowerState,
  last: LastRead | undefined,
  now: number,
  intervalMs = THUMBNAIL_REFRESH_MS,
): number | null {
  if (!last || last.forState !== state) return 0;
  if (thumbnailModeOf(state) === 'kept') return null;
  return Math.min(intervalMs, Math.max(0, last.at + intervalMs - now));
}

/** Timers and page visibility, as the browser has them (or as a test drives them). */
export interface RefreshHost {
  /** Calls `fn` after `ms`; returns the cancel. */
  setTimer(fn: () => void, ms: number): () => void;
  /** The page is visible (document.visibilityState === 'visible'). */
  visible(): boolean;
  /** Calls `fn` each time the page becomes visible; returns the unsubscribe. */
  onVisible(fn: () => void): () => void;
}

export interface RefreshPlan {
  readonly mode: ThumbnailMode;
  /** Reads the screen; its promise settles when the answer is in (never two at once from here). */
  readonly read: () => Promise<unknown>;
  /** The first read is due after this long (0: at once). */
  readonly firstDelayMs: number;
  readonly intervalMs?: number;
}

/**
 * Runs a row's reads: the first after `firstDelayMs`, and for a live screen the next one an
 * interval after the previous answered (so a slow answer never overlaps the next request). A
 * read due while the page is hidden waits until it shows. Returns the stop (the row unmounts or
 * its VM's state changes): no read starts after it.
 */
export function scheduleThumbnailReads(plan: RefreshPlan, host: RefreshHost): () => void {
  const intervalMs = plan.intervalMs ?? THUMBNAIL_REFRESH_MS;
  let stopped = false;
  let cancelTimer: (() => void) | null = null;
  let stopWaiting: (() => void) | null = null;

  const answered = () => {
    if (!stopped && plan.mode === 'live') cancelTimer = host.setTimer(due, intervalMs);
  };
  function due(): void {
    cancelTimer = null;
    if (stopped) return;
    if (!host.visible()) {
      stopWaiting = host.onVisible(() => {
        stopWaiting?.();
        stopWaiting = null;
        due();
      });
      return;
    }
    plan.read().then(answered, answered);
  }

  if (plan.firstDelayMs > 0) cancelTimer = host.setTimer(due, plan.firstDelayMs);
  else due();
  return () => {
    stopped = true;
    cancelTimer?.();
    stopWaiting?.();
    cancelTimer = null;
    stopWaiting = null;
  };
}
