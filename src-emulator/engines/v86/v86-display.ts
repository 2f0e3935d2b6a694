// The v86 guest's screen as an RGBA framebuffer: our implementation of v86's screen-adapter
// contract (text cells, font, cursor, graphics layers), a steady refresh timer that drives the
// VGA device's screen_fill_buffer() (its vertical retrace kept at 60 Hz for guests that poll it), and
// dirty-region tracking. Pixels are copied only while someone watches, or on refresh().
import { Emitter, type Event } from '../../base/event';
import type { Disposable } from '../../base/lifecycle';
import type { FramebufferSize, FramebufferSource, Rect } from '../../rfb/framebuffer';
import { TEXT_FLAG_BLINKING, TEXT_FLAG_FONT_PAGE_B, VgaTextScreen } from './vga-text-screen';

/** An RGBA picture v86 renders into (our global ImageData stand-in, or the browser's). */
interface V86ImageData {
  readonly data: Uint8ClampedArray;
  readonly width: number;
  readonly height: number;
}

/** One region of v86's graphics output: buffer area → screen position. */
interface V86Layer {
  readonly image_data: V86ImageData;
  readonly screen_x: number;
  readonly screen_y: number;
  readonly buffer_x: number;
  readonly buffer_y: number;
  readonly buffer_width: number;
  readonly buffer_height: number;
}

/**
 * The screen-adapter contract v86 0.5.x's VGA device and V86 class call (our pinned version;
 * names are v86's). Implemented by `V86Display.adapter`.
 */
export interface V86ScreenAdapter {
  FLAG_BLINKING: number;
  FLAG_FONT_PAGE_B: number;
  put_char(row: number, col: number, chr: number, flags: number, bg: number, fg: number): void;
  set_mode(graphical: boolean): void;
  set_font_bitmap(
    height: number,
    width9: boolean,
    widthDouble: boolean,
    copy8th: boolean,
    bitmap: Uint8Array,
    changed: boolean,
  ): void;
  set_font_page(a: number, b: number): void;
  clear_screen(): void;
  clear_text_state(): void;
  set_size_text(cols: number, rows: number): void;
  set_size_graphical(width: number, height: number, virtualWidth: number, virtualHeight: number): void;
  set_scale(sx: number, sy: number): void;
  update_cursor_scanline(start: number, end: number, visible: boolean): void;
  update_cursor(row: number, col: number): void;
  update_buffer(layers: readonly V86Layer[]): void;
  get_text_screen(): string[];
  get_text_row(row: number): string;
  pause(): void;
  continue(): void;
  destroy(): void;
}

/** The VGA device's entry point that renders graphics modes and pulses vertical retrace. */
export interface V86VgaDevice {
  screen_fill_buffer(): void;
  /** Called by screen_fill_buffer: sets the retrace bit guests poll on port 3DA (and latches the start address). */
  update_vertical_retrace(): void;
}

/**
 * v86's VGA device renders graphics into `ImageData` only when that global exists; Node has
 * none. This minimal stand-in (data, width, height) is enough for it. Installed once, before
 * the first V86 is constructed; a real ImageData (a browser, Electron) is left alone.
 */
export function installImageDataShim(): void {
  if (typeof (globalThis as { ImageData?: unknown }).ImageData !== 'undefined') return;
  class ImageDataShim implements V86ImageData {
    readonly data: Uint8ClampedArray;
    readonly width: number;
    readonly height: number;
    constructor(a: Uint8ClampedArray | number, b: number, c?: number) {
      if (typeof a === 'number') {
        this.width = a;
        this.height = b;
        this.data = new Uint8ClampedArray(a * b * 4);
      } else {
        this.data = a;
        this.width = b;
        this.height = c ?? a.length / 4 / b;
      }
    }
  }
  Object.defineProperty(globalThis, 'ImageData', { value: ImageDataShim, configurable: true, writable: true });
}

export interface V86DisplayOptions {
  /** How often the VGA device is asked to render (ms). Default 8: a changed frame waits 4 ms on average. */
  readonly refreshMs?: number;
  /** Vertical retrace period the guest sees (ms), whatever the render rate. Default 16 (about 60 Hz, like a monitor). */
  readonly retraceMs?: number;
  /** Text cursor blink half-period (ms). Default 266 (VGA's 16 frames at 60 Hz). */
  readonly blinkMs?: number;
}

/** The guest screen: v86 writes through `adapter`; viewers read it as a FramebufferSource. */
export class V86Display implements FramebufferSource, Disposable {
  width = 720;
  height = 400;
  pixels = new Uint8Array(720 * 400 * 4);
  /** The v86 screen adapter to hand to the V86 instance. */
  readonly adapter: V86ScreenAdapter;

  private readonly damage = new Emitter<readonly Rect[]>();
  private readonly resized = new Emitter<FramebufferSize>();
  readonly onDidDamage: Event<readonly Rect[]> = this.damage.event;
  readonly onDidResize: Event<FramebufferSize> = this.resized.event;

  private graphical = false;
  private readonly text = new VgaTextScreen();
  private layers: readonly V86Layer[] = [];
  private dirtyRows = new Uint8Array(400);
  private anyDirtyRows = false;
  private vga: V86VgaDevice | undefined;
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private blinkTimer: NodeJS.Timeout | undefined;
  private frames = 0;

  constructor(private readonly opts: V86DisplayOptions = {}) {
    this.adapter = this.createAdapter();
  }

  /** "text" or "graphics". */
  get mode(): 'text' | 'graphics' {
    return this.graphical ? 'graphics' : 'text';
  }

  /** How many times the VGA device was asked to render (for tests and benchmarks). */
  get frameCount(): number {
    return this.frames;
  }

  /** The text screen's rows (text mode), for logs and tests. */
  textRows(): string[] {
    return Array.from({ length: this.text.rows }, (_, r) => this.text.rowText(r));
  }

  /** Starts the steady refresh once the VGA device exists. */
  attach(vga: V86VgaDevice): void {
    this.vga = vga;
    this.running = true;
    // Rendering more often than a monitor refreshes shortens the wait for a changed frame, but
    // guests pace themselves by vertical retrace (DOS games, VGA drivers): keep that at 60 Hz.
    const retrace = vga.update_vertical_retrace.bind(vga);
    const retraceMs = this.opts.retraceMs ?? 16;
    let lastRetrace = -Infinity;
    vga.update_vertical_retrace = () => {
      const now = performance.now();
      if (now - lastRetrace < retraceMs - 1) return;
      lastRetrace = now;
      retrace();
    };
    this.timer ??= setInterval(() => this.tick(), this.opts.refreshMs ?? 8);
    this.blinkTimer ??= setInterval(() => {
      if (!this.graphical && this.running) this.text.blink();
    }, this.opts.blinkMs ?? 266);
  }

  /** Renders pending text cells or copies changed graphics rows into `pixels`, firing damage. */
  refresh(): void {
    const rects = this.graphical ? this.syncGraphics() : this.text.render(this.pixels);
    if (rects.length > 0) this.damage.fire(rects);
  }

  dispose(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.blinkTimer) clearInterval(this.blinkTimer);
    this.timer = undefined;
    this.blinkTimer = undefined;
    this.vga = undefined;
    this.damage.dispose();
    this.resized.dispose();
  }

  private tick(): void {
    if (!this.vga || !this.running) return;
    this.frames++;
    // Graphics modes render into v86's buffer and call update_buffer; text mode only pulses
    // vertical retrace (guests that poll port 3DA wait for it).
    this.vga.screen_fill_buffer();
    // Pixels are copied only while a viewer listens; otherwise on refresh() (screenshots).
    if (this.damage.hasListeners) this.refresh();
  }

  private resize(width: number, height: number): void {
    if (width === this.width && height === this.height) return;
    this.width = width;
    this.height = height;
    this.pixels = new Uint8Array(width * height * 4);
    this.dirtyRows = new Uint8Array(height);
    this.resized.fire({ width, height });
  }

  private textResize(): void {
    this.resize(this.text.pixelWidth, this.text.pixelHeight);
    this.text.markAllDirty();
  }

  private markRows(y0: number, count: number): void {
    const end = Math.min(this.height, y0 + count);
    for (let y = Math.max(0, y0); y < end; y++) this.dirtyRows[y] = 1;
    if (end > y0) this.anyDirtyRows = true;
  }

  /**
   * Copies changed rows out of v86's graphics buffer. For each dirty row the source row is
   * compared with ours; only the span between the first and last differing pixel is copied,
   * and consecutive changed rows become one rectangle.
   */
  private syncGraphics(): Rect[] {
    if (!this.anyDirtyRows) return [];
    this.anyDirtyRows = false;
    const rects: Rect[] = [];
    let band: { y: number; x0: number; x1: number; h: number } | undefined;
    const flush = (): void => {
      if (band) rects.push({ x: band.x0, y: band.y, width: band.x1 - band.x0, height: band.h });
      band = undefined;
    };
    for (let y = 0; y < this.height; y++) {
      if (!this.dirtyRows[y]) {
        flush();
        continue;
      }
      const layer = this.layers.find((l) => y >= l.screen_y && y < l.screen_y + l.buffer_height);
      const data = layer?.image_data.data;
      if (!layer || !data || data.byteLength === 0) {
        // v86 replaces a detached buffer (wasm memory grew) on its next fill: retry then.
        this.anyDirtyRows = true;
        flush();
        continue;
      }
      this.dirtyRows[y] = 0;
      const width = Math.min(layer.buffer_width, this.width - layer.screen_x);
      if (width <= 0) continue;
      const srcPixel = (layer.buffer_y + (y - layer.screen_y)) * layer.image_data.width + layer.buffer_x;
      const dstPixel = y * this.width + layer.screen_x;
      const span = diffSpan(data, srcPixel, this.pixels, dstPixel, width);
      if (!span) {
        flush();
        continue;
      }
      const [a, b] = span;
      this.pixels.set(
        new Uint8Array(data.buffer, data.byteOffset + (srcPixel + a) * 4, (b - a) * 4),
        (dstPixel + a) * 4,
      );
      const x0 = layer.screen_x + a;
      const x1 = layer.screen_x + b;
      if (band && band.y + band.h === y) {
        band.x0 = Math.min(band.x0, x0);
        band.x1 = Math.max(band.x1, x1);
        band.h++;
      } else {
        flush();
        band = { y, x0, x1, h: 1 };
      }
    }
    flush();
    return rects;
  }

  private createAdapter(): V86ScreenAdapter {
    // Arrow functions: v86 calls these as methods of the adapter object.
    return {
      FLAG_BLINKING: TEXT_FLAG_BLINKING,
      FLAG_FONT_PAGE_B: TEXT_FLAG_FONT_PAGE_B,
      put_char: (row, col, chr, flags, bg, fg) => this.text.putChar(row, col, chr, flags, bg, fg),
      set_mode: (graphical) => {
        if (graphical === this.graphical) return;
        this.graphical = graphical;
        if (graphical) {
          this.layers = [];
        } else {
          this.textResize();
        }
      },
      set_font_bitmap: (height, width9, widthDouble, copy8th, bitmap, changed) => {
        const resized = this.text.setFont(
          { height, width9, widthDouble, copy8thColumn: copy8th, plane2: bitmap },
          changed,
        );
        if (resized && !this.graphical) this.textResize();
      },
      set_font_page: (a, b) => this.text.setFontPages(a, b),
      clear_screen: () => {
        if (this.graphical) this.pixels.fill(0);
        else this.text.clear();
        this.markRows(0, this.height);
      },
      clear_text_state: () => this.text.clear(),
      set_size_text: (cols, rows) => {
        this.text.setSize(cols, rows);
        if (!this.graphical) this.textResize();
      },
      set_size_graphical: (width, height) => {
        this.resize(width, height);
        this.markRows(0, height);
      },
      set_scale: () => undefined,
      update_cursor_scanline: (start, end, visible) => this.text.setCursorShape(start, end, visible),
      update_cursor: (row, col) => this.text.setCursor(row, col),
      update_buffer: (layers) => {
        // A single layer mapped at the same place is the whole buffer (SVGA passes only the
        // changed rows of it): remember it as covering the whole screen.
        const only = layers.length === 1 ? layers[0] : undefined;
        if (only && only.screen_x === only.buffer_x && only.screen_y === only.buffer_y) {
          this.layers = [{ ...only, screen_y: 0, buffer_y: 0, buffer_height: this.height }];
        } else {
          this.layers = layers.map((l) => ({ ...l }));
        }
        for (const l of layers) this.markRows(l.screen_y, l.buffer_height);
      },
      get_text_screen: () => this.textRows(),
      get_text_row: (row) => this.text.rowText(row),
      pause: () => {
        this.running = false;
      },
      continue: () => {
        this.running = true;
      },
      destroy: () => undefined,
    };
  }
}

/**
 * The first and last+1 differing pixel between a source row and our row (both RGBA bytes),
 * or undefined when they are equal. Equal rows, the common case, cost one memcmp.
 */
function diffSpan(
  src: Uint8ClampedArray,
  srcPixel: number,
  dst: Uint8Array,
  dstPixel: number,
  width: number,
): [number, number] | undefined {
  const s = Buffer.from(src.buffer, src.byteOffset + srcPixel * 4, width * 4);
  const d = Buffer.from(dst.buffer, dst.byteOffset + dstPixel * 4, width * 4);
  if (s.equals(d)) return undefined;
  const aligned = ((src.byteOffset + srcPixel * 4) & 3) === 0 && ((dst.byteOffset + dstPixel * 4) & 3) === 0;
  const s32 = aligned ? new Uint32Array(s.buffer, s.byteOffset, width) : undefined;
  const d32 = aligned ? new Uint32Array(d.buffer, d.byteOffset, width) : undefined;
  const same = (i: number): boolean =>
    s32 && d32
      ? s32[i] === d32[i]
      : s[i * 4] === d[i * 4] &&
        s[i * 4 + 1] === d[i * 4 + 1] &&
        s[i * 4 + 2] === d[i * 4 + 2] &&
        s[i * 4 + 3] === d[i * 4 + 3];
  let a = 0;
  while (a < width && same(a)) a++;
  let b = width;
  while (b > a && same(b - 1)) b--;
  return [a, b];
}
