// The library list's virtualization window: which rows are in the DOM for a scroll position.
import { describe, expect, it } from 'vitest';
import { FIRST_FRAME_ROWS, listWindow, OVERSCAN, ROW_HEIGHT } from '../../../src-renderer/library/list-window';

describe('list window', () => {
  it('first frame (height unknown): the first rows', () => {
    expect(listWindow(500, 0, 0)).toEqual({ start: 0, end: FIRST_FRAME_ROWS + OVERSCAN });
    expect(listWindow(3, 0, 0)).toEqual({ start: 0, end: 3 });
    expect(listWindow(0, 0, 0)).toEqual({ start: 0, end: 0 });
  });
  it('scrolled: the rows in view plus the overscan on both sides', () => {
    const h = 10 * ROW_HEIGHT;
    expect(listWindow(500, 100 * ROW_HEIGHT, h)).toEqual({ start: 100 - OVERSCAN, end: 100 + 11 + OVERSCAN });
    expect(listWindow(500, 100 * ROW_HEIGHT + 10, h)).toEqual({ start: 100 - OVERSCAN, end: 100 + 11 + OVERSCAN });
  });
  it('clamped at the ends, also when the list shrank under a stale scroll position', () => {
    const h = 10 * ROW_HEIGHT;
    expect(listWindow(500, 495 * ROW_HEIGHT, h)).toEqual({ start: 495 - OVERSCAN, end: 500 });
    expect(listWindow(20, 400 * ROW_HEIGHT, h)).toEqual({ start: 19 - OVERSCAN, end: 20 });
    expect(listWindow(500, -50, h).start).toBe(0);
  });
});
