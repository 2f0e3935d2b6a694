// Which rows of a long list are in the DOM: the ones in the scroll viewport plus a margin
// (list virtualization). Pure, so the arithmetic is unit-tested.

/** Every row has this height (px); the stylesheet fixes it (.vm-list li). */
export const ROW_HEIGHT = 52;
/** Rows rendered above and below the visible ones (smooth scrolling, Page Up/Down). */
export const OVERSCAN = 8;
/** Rows rendered before the list's height is known (the first frame). */
export const FIRST_FRAME_ROWS = 24;

/** Half-open range [start, end) of rows to render. */
export function listWindow(count: number, scrollTop: number, viewportHeight: number): { start: number; end: number } {
  if (count <= 0) return { start: 0, end: 0 };
  const visible = viewportHeight > 0 ? Math.ceil(viewportHeight / ROW_HEIGHT) + 1 : FIRST_FRAME_ROWS;
  const first = Math.max(0, Math.floor(Math.max(0, scrollTop) / ROW_HEIGHT));
  const start = Math.max(0, Math.min(first, count - 1) - OVERSCAN);
  const end = Math.min(count, first + visible + OVERSCAN);
  return { start, end: Math.max(end, start) };
}
