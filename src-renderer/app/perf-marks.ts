// Performance marks the first-paint benchmark reads: when the library list was first
// committed with its rows, and (after the next frame) painted.

let marked = false;

/** Marks `maru:list-rendered` now and `maru:list-painted` after the frame that shows it (once). */
export function markListPainted(rows: number): void {
  if (marked) return;
  marked = true;
  performance.mark('maru:list-rendered', { detail: { rows } });
  // rAF runs before the frame's paint; a task queued from it runs after that paint.
  requestAnimationFrame(() => setTimeout(() => performance.mark('maru:list-painted', { detail: { rows } }), 0));
}
