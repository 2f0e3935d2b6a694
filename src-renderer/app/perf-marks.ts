// What the first-paint benchmark reads: the Element Timing of the library rows' names (when
// the browser painted them: from the server-rendered HTML in the web console), and marks for
// when the app's own render of the list committed and (after the next frame) painted: from
// then on the list answers input.

/** The `elementtiming` identifier on each library row's name. */
export const ROW_PAINT_TIMING = 'vm-row';

declare module 'react' {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- the augmented interface's own parameter
  interface HTMLAttributes<T> {
    /** Element Timing API: report this element's paint under this identifier. */
    elementtiming?: string;
  }
}

let marked = false;

/** Marks `maru:list-rendered` now and `maru:list-painted` after the frame that shows it (once). */
export function markListPainted(rows: number): void {
  if (marked) return;
  marked = true;
  performance.mark('maru:list-rendered', { detail: { rows } });
  // rAF runs before the frame's paint; a task queued from it runs after that paint.
  requestAnimationFrame(() => setTimeout(() => performance.mark('maru:list-painted', { detail: { rows } }), 0));
}
