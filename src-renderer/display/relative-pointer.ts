// Pointer lock for guests with a relative mouse (v86: PS/2, or the VMMouse in relative mode):
// while the screen holds the pointer, the browser reports only motion; this keeps a position
// that moves by it and sends standard RFB PointerEvents from it, so the engine's differences
// between positions are exactly the mouse's motion, never clamped at a screen edge. The
// position stays in [16384, 49152) — off any screen, which is how the engine tells a locked
// viewer's position from a pointing one (ps2-input.ts LOCKED_POSITIONS_FROM); leaving that band
// it jumps back to the middle, a jump the engine takes as a new reference (one event's motion,
// once per 16,000 px of travel, is not passed on). While not captured the guest gets no
// pointer input at all (like VirtualBox without mouse integration): a click captures.

/** RFB PointerEvent (client message 5): buttons, x, y. */
export function pointerEventMessage(buttons: number, x: number, y: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array([5, buttons & 0xff, (x >> 8) & 0xff, x & 0xff, (y >> 8) & 0xff, y & 0xff]);
}

/** The RFB button bit of a DOM mouse button (0 left, 1 middle, 2 right), 0 for others. */
export function rfbButtonBit(domButton: number): number {
  return domButton === 0 ? 1 : domButton === 1 ? 2 : domButton === 2 ? 4 : 0;
}

/** RFB wheel "buttons": up 8, down 16, left 32, right 64 (pressed and released per notch). */
export function wheelBits(deltaX: number, deltaY: number): number[] {
  const bits: number[] = [];
  if (deltaY < 0) bits.push(8);
  else if (deltaY > 0) bits.push(16);
  if (deltaX < 0) bits.push(32);
  else if (deltaX > 0) bits.push(64);
  return bits;
}

const BAND_LOW = 16384;
const BAND_HIGH = 49152;
const MIDDLE = 32768;

function keepInBand(v: number): number {
  return v < BAND_LOW || v >= BAND_HIGH ? MIDDLE : v;
}

/** The position a locked pointer reports: starts in the middle of the band, moves by motion. */
export class RelativePointer {
  private x = 32768;
  private y = 32768;
  private buttons = 0;

  constructor(private readonly send: (message: Uint8Array<ArrayBuffer>) => void) {}

  /** Sends the position without motion (at capture: the engine's reference point). */
  sync(): void {
    this.flush(this.buttons);
  }

  move(dx: number, dy: number): void {
    this.x = keepInBand(this.x + Math.round(dx));
    this.y = keepInBand(this.y + Math.round(dy));
    this.flush(this.buttons);
  }

  button(bit: number, down: boolean): void {
    if (!bit) return;
    this.buttons = down ? this.buttons | bit : this.buttons & ~bit;
    this.flush(this.buttons);
  }

  wheel(deltaX: number, deltaY: number): void {
    for (const bit of wheelBits(deltaX, deltaY)) {
      this.flush(this.buttons | bit);
      this.flush(this.buttons);
    }
  }

  /** Lets go of every button (capture lost while one was held). */
  releaseAll(): void {
    if (this.buttons === 0) return;
    this.buttons = 0;
    this.flush(0);
  }

  private flush(buttons: number): void {
    this.send(pointerEventMessage(buttons, this.x, this.y));
  }
}
