// The screen an RFB server serves, engine-neutral: RGBA pixels, their size, damage and
// resize events; plus the bounded damage region each viewer accumulates between updates.
import type { Event } from '../base/event';

/** An axis-aligned rectangle in framebuffer pixels. */
export interface Rect {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** A framebuffer size. */
export interface FramebufferSize {
  readonly width: number;
  readonly height: number;
}

/**
 * A screen to serve. `pixels` is RGBA (4 bytes a pixel, rows of `width * 4` bytes, top to
 * bottom; the 4th byte is ignored). Sources may render lazily: `refresh()` brings `pixels`
 * up to date now (firing `onDidDamage` for what changed), and a source may skip rendering
 * while nobody listens to `onDidDamage`.
 */
export interface FramebufferSource {
  readonly width: number;
  readonly height: number;
  readonly pixels: Uint8Array;
  /** Areas whose pixels changed (already in `pixels` when this fires). */
  readonly onDidDamage: Event<readonly Rect[]>;
  /** The size changed; the whole new screen counts as damaged. */
  readonly onDidResize: Event<FramebufferSize>;
  /** Renders whatever is pending into `pixels` now. */
  refresh(): void;
}

/** The intersection of two rectangles, or undefined when they do not overlap. */
export function intersectRect(a: Rect, b: Rect): Rect | undefined {
  const x0 = Math.max(a.x, b.x);
  const y0 = Math.max(a.y, b.y);
  const x1 = Math.min(a.x + a.width, b.x + b.width);
  const y1 = Math.min(a.y + a.height, b.y + b.height);
  if (x1 <= x0 || y1 <= y0) return undefined;
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/** The bounding box of two rectangles. */
export function unionRect(a: Rect, b: Rect): Rect {
  const x0 = Math.min(a.x, b.x);
  const y0 = Math.min(a.y, b.y);
  const x1 = Math.max(a.x + a.width, b.x + b.width);
  const y1 = Math.max(a.y + a.height, b.y + b.height);
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

function area(r: Rect): number {
  return r.width * r.height;
}

/** True when `a` and `b` overlap or share an edge (so their union wastes nothing between them). */
function touches(a: Rect, b: Rect): boolean {
  return a.x <= b.x + b.width && b.x <= a.x + a.width && a.y <= b.y + b.height && b.y <= a.y + a.height;
}

function contains(outer: Rect, inner: Rect): boolean {
  return (
    inner.x >= outer.x &&
    inner.y >= outer.y &&
    inner.x + inner.width <= outer.x + outer.width &&
    inner.y + inner.height <= outer.y + outer.height
  );
}

/**
 * Damaged areas awaiting an update, kept to at most `maxRects` rectangles: touching ones are
 * merged, and past the limit the pair whose bounding box adds the least area is merged, so a
 * viewer that stops reading holds a bounded amount of state however long it lags.
 */
export class DamageRegion {
  private rects: Rect[] = [];

  constructor(private readonly maxRects = 32) {
    if (maxRects < 1) throw new RangeError('maxRects must be at least 1');
  }

  get isEmpty(): boolean {
    return this.rects.length === 0;
  }

  get size(): number {
    return this.rects.length;
  }

  /** Adds `r` (empty rectangles are ignored). */
  add(r: Rect): void {
    if (r.width <= 0 || r.height <= 0) return;
    let cur = r;
    for (;;) {
      if (this.rects.some((e) => contains(e, cur))) return;
      const i = this.rects.findIndex((e) => touches(e, cur));
      if (i < 0) break;
      cur = unionRect(this.rects[i]!, cur);
      this.rects.splice(i, 1);
    }
    this.rects.push(cur);
    while (this.rects.length > this.maxRects) this.mergeCheapestPair();
  }

  addAll(rects: readonly Rect[]): void {
    for (const r of rects) this.add(r);
  }

  /** The current rectangles (a copy). */
  peek(): Rect[] {
    return [...this.rects];
  }

  /**
   * Removes and returns what lies in `within` (clipped to it). Rectangles that only partly
   * lie in `within` stay whole for a later update: sending a little twice is harmless.
   */
  take(within: Rect): Rect[] {
    const out: Rect[] = [];
    const keep: Rect[] = [];
    for (const r of this.rects) {
      const part = intersectRect(r, within);
      if (part) out.push(part);
      if (!part || !contains(within, r)) keep.push(r);
    }
    this.rects = keep;
    return out;
  }

  clear(): void {
    this.rects = [];
  }

  private mergeCheapestPair(): void {
    let best = { i: 0, j: 1, cost: Infinity };
    for (let i = 0; i < this.rects.length; i++) {
      for (let j = i + 1; j < this.rects.length; j++) {
        const a = this.rects[i]!;
        const b = this.rects[j]!;
        const cost = area(unionRect(a, b)) - area(a) - area(b);
        if (cost < best.cost) best = { i, j, cost };
      }
    }
    const merged = unionRect(this.rects[best.i]!, this.rects[best.j]!);
    this.rects.splice(best.j, 1);
    this.rects.splice(best.i, 1);
    this.add(merged);
  }
}
