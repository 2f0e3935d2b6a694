// VGA text mode drawn into RGBA: a grid of cells (character, attribute colours, flags) as
// v86's VGA reports them, painted with the guest's own font from VGA plane 2, with cursor and
// blinking; only changed cells are repainted and reported.
import type { Rect } from '../../rfb/framebuffer';

/** Cell flags as v86's VGA passes them (our screen adapter defines the bit values). */
export const TEXT_FLAG_BLINKING = 1;
export const TEXT_FLAG_FONT_PAGE_B = 2;

/** The guest's font as the VGA device describes it (sequencer/CRTC state + plane 2). */
export interface VgaFont {
  /** Glyph height in scan lines, 1–32. */
  readonly height: number;
  /** 9-pixel-wide cells (the 9th column blank, or a copy of the 8th for line-drawing characters). */
  readonly width9: boolean;
  /** Double-width cells (16 pixels). */
  readonly widthDouble: boolean;
  /** Copy the 8th column into the 9th for characters 0xC0–0xDF. */
  readonly copy8thColumn: boolean;
  /** VGA plane 2: 8 font pages of 8 KiB, 32 bytes a glyph, bit 7 the leftmost pixel. */
  readonly plane2: Uint8Array;
}

const FONT_PAGE_BYTES = 8192;
const GLYPH_BYTES = 32;

/** Text screen state and its RGBA rendering. */
export class VgaTextScreen {
  cols = 80;
  rows = 25;
  private chars = new Uint8Array(80 * 25);
  private flags = new Uint8Array(80 * 25);
  private bg = new Int32Array(80 * 25);
  private fg = new Int32Array(80 * 25);
  private dirty = new Uint8Array(80 * 25);
  private anyDirty = true;
  private font: VgaFont | undefined;
  private pageA = 0;
  private pageB = 0;
  private cursorRow = -1;
  private cursorCol = -1;
  private cursorStart = 14;
  private cursorEnd = 15;
  private cursorVisible = true;
  private blinkOn = true;

  /** Cell size in pixels. */
  get cellWidth(): number {
    if (this.font?.widthDouble) return 16;
    return this.font && !this.font.width9 ? 8 : 9;
  }

  get cellHeight(): number {
    return this.font?.height ?? 16;
  }

  get pixelWidth(): number {
    return this.cols * this.cellWidth;
  }

  get pixelHeight(): number {
    return this.rows * this.cellHeight;
  }

  /** Sets the grid size; all cells become blank. Returns true when it changed. */
  setSize(cols: number, rows: number): boolean {
    if (cols === this.cols && rows === this.rows) return false;
    this.cols = cols;
    this.rows = rows;
    const n = cols * rows;
    this.chars = new Uint8Array(n);
    this.flags = new Uint8Array(n);
    this.bg = new Int32Array(n);
    this.fg = new Int32Array(n);
    this.dirty = new Uint8Array(n);
    this.markAllDirty();
    return true;
  }

  putChar(row: number, col: number, chr: number, flags: number, bg: number, fg: number): void {
    if (row < 0 || col < 0 || row >= this.rows || col >= this.cols) return;
    const i = row * this.cols + col;
    if (this.chars[i] === chr && this.flags[i] === flags && this.bg[i] === bg && this.fg[i] === fg) return;
    this.chars[i] = chr;
    this.flags[i] = flags;
    this.bg[i] = bg;
    this.fg[i] = fg;
    this.markDirty(i);
  }

  /** New font geometry or glyphs. Returns true when the cell size changed (the screen resizes). */
  setFont(font: VgaFont, glyphsChanged: boolean): boolean {
    const before = [this.cellWidth, this.cellHeight];
    const geometryChanged =
      !this.font ||
      this.font.height !== font.height ||
      this.font.width9 !== font.width9 ||
      this.font.widthDouble !== font.widthDouble ||
      this.font.copy8thColumn !== font.copy8thColumn ||
      this.font.plane2 !== font.plane2;
    this.font = font;
    if (geometryChanged || glyphsChanged) this.markAllDirty();
    return before[0] !== this.cellWidth || before[1] !== this.cellHeight;
  }

  setFontPages(a: number, b: number): void {
    if (a === this.pageA && b === this.pageB) return;
    this.pageA = a;
    this.pageB = b;
    this.markAllDirty();
  }

  setCursor(row: number, col: number): void {
    if (row === this.cursorRow && col === this.cursorCol) return;
    this.markCell(this.cursorRow, this.cursorCol);
    this.cursorRow = row;
    this.cursorCol = col;
    this.markCell(row, col);
  }

  setCursorShape(start: number, end: number, visible: boolean): void {
    this.cursorStart = start;
    this.cursorEnd = end;
    this.cursorVisible = visible;
    this.markCell(this.cursorRow, this.cursorCol);
  }

  /** Toggles the blink phase: the cursor and blinking characters are repainted. */
  blink(): void {
    this.blinkOn = !this.blinkOn;
    this.markCell(this.cursorRow, this.cursorCol);
    for (let i = 0; i < this.flags.length; i++) if (this.flags[i]! & TEXT_FLAG_BLINKING) this.markDirty(i);
  }

  clear(): void {
    this.chars.fill(0);
    this.flags.fill(0);
    this.bg.fill(0);
    this.fg.fill(0);
    this.markAllDirty();
  }

  markAllDirty(): void {
    this.dirty.fill(1);
    this.anyDirty = true;
  }

  get hasDirty(): boolean {
    return this.anyDirty;
  }

  /** The text of one row (ASCII; other code points shown as '.'), for logs and tests. */
  rowText(row: number): string {
    let s = '';
    for (let c = 0; c < this.cols; c++) {
      const ch = this.chars[row * this.cols + c]!;
      s += ch === 0 || ch === 0xff ? ' ' : ch >= 0x20 && ch < 0x7f ? String.fromCharCode(ch) : '.';
    }
    return s;
  }

  /**
   * Paints the changed cells into `pixels` (RGBA, `this.pixelWidth` wide) and returns the
   * changed areas, one rectangle per row span.
   */
  render(pixels: Uint8Array): Rect[] {
    if (!this.anyDirty) return [];
    this.anyDirty = false;
    const rects: Rect[] = [];
    const cw = this.cellWidth;
    const ch = this.cellHeight;
    for (let row = 0; row < this.rows; row++) {
      let first = -1;
      let last = -1;
      for (let col = 0; col < this.cols; col++) {
        const i = row * this.cols + col;
        if (!this.dirty[i]) continue;
        this.dirty[i] = 0;
        this.paintCell(pixels, row, col, cw, ch);
        if (first < 0) first = col;
        last = col;
      }
      if (first >= 0) rects.push({ x: first * cw, y: row * ch, width: (last - first + 1) * cw, height: ch });
    }
    return rects;
  }

  private markDirty(i: number): void {
    this.dirty[i] = 1;
    this.anyDirty = true;
  }

  private markCell(row: number, col: number): void {
    if (row >= 0 && col >= 0 && row < this.rows && col < this.cols) this.markDirty(row * this.cols + col);
  }

  private paintCell(pixels: Uint8Array, row: number, col: number, cw: number, ch: number): void {
    const i = row * this.cols + col;
    const chr = this.chars[i]!;
    const flags = this.flags[i]!;
    const hidden = (flags & TEXT_FLAG_BLINKING) !== 0 && !this.blinkOn;
    const fg = this.fg[i]!;
    const bg = this.bg[i]!;
    const font = this.font;
    const page = flags & TEXT_FLAG_FONT_PAGE_B ? this.pageB : this.pageA;
    const glyph = page * FONT_PAGE_BYTES + chr * GLYPH_BYTES;
    const lineChar = chr >= 0xc0 && chr <= 0xdf;
    const cursorHere = row === this.cursorRow && col === this.cursorCol && this.cursorVisible && this.blinkOn;
    const stride = this.cols * cw * 4;
    const fr = (fg >> 16) & 0xff;
    const fgG = (fg >> 8) & 0xff;
    const fb = fg & 0xff;
    const br = (bg >> 16) & 0xff;
    const bgG = (bg >> 8) & 0xff;
    const bb = bg & 0xff;
    for (let y = 0; y < ch; y++) {
      let bits = font && !hidden ? font.plane2[glyph + y]! : 0;
      if (cursorHere && y >= this.cursorStart && y <= this.cursorEnd) bits = 0x1ff;
      else if (cw === 9) bits = (bits << 1) | (font?.copy8thColumn && lineChar ? bits & 1 : 0);
      let o = (row * ch + y) * stride + col * cw * 4;
      for (let x = 0; x < cw; x++, o += 4) {
        // 8 glyph bits across the cell: double width repeats each, 9 wide adds the 9th column.
        const bit = cw === 16 ? (bits >> (7 - (x >> 1))) & 1 : cw === 9 ? (bits >> (8 - x)) & 1 : (bits >> (7 - x)) & 1;
        pixels[o] = bit ? fr : br;
        pixels[o + 1] = bit ? fgG : bgG;
        pixels[o + 2] = bit ? fb : bb;
        pixels[o + 3] = 255;
      }
    }
  }
}
