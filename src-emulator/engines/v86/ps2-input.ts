// Keyboard and mouse into v86: XT key numbers → set-1 scancode bytes for
// keyboard_send_scancodes, and RFB pointer positions → relative PS/2 mouse packets plus the
// VMware VMMouse's absolute or relative input (v86 bus events mouse-delta / mouse-absolute /
// mouse-pointer-lock / mouse-click / mouse-wheel).
import type { RfbInputSink, RfbKeyEvent, RfbPointerEvent } from '../../rfb/rfb-connection';
import { qcodeToQnum } from '../../rfb/xt-keycodes';
import type { KeyStroke } from '../../input/key-mapping';

const QNUM_PAUSE = 0xc6;
const QNUM_PRINT = 0xb7;

/**
 * Set-1 bytes for pressing or releasing the key with XT number `qnum`: one byte, or E0 + byte
 * for extended keys (0x80 | code); release sets bit 7 of the last byte. Pause sends its
 * E1 sequence on press only, Print Screen its fake-shift form, as a PC keyboard does.
 */
export function qnumToSet1(qnum: number, down: boolean): number[] {
  if (qnum === QNUM_PAUSE) return down ? [0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5] : [];
  if (qnum === QNUM_PRINT) return down ? [0xe0, 0x2a, 0xe0, 0x37] : [0xe0, 0xb7, 0xe0, 0xaa];
  const code = qnum & 0x7f;
  const byte = down ? code : code | 0x80;
  return qnum & 0x80 ? [0xe0, byte] : [byte];
}

/** Set-1 bytes that press the stroke's keys in order and release them in reverse order. */
export function strokeToSet1(stroke: KeyStroke): number[] {
  const qnums = stroke.map((k) => {
    const q = qcodeToQnum(k);
    if (q === undefined) throw new Error(`no XT scancode for key "${k}"`);
    return q;
  });
  return [...qnums.flatMap((q) => qnumToSet1(q, true)), ...[...qnums].reverse().flatMap((q) => qnumToSet1(q, false))];
}

/** The parts of a V86 instance input uses. */
export interface V86InputTarget {
  keyboard_send_scancodes(codes: number[]): void;
  bus: { send(name: string, value: unknown): void };
}

/** PS/2 packets carry 9-bit deltas; larger moves are split. */
const MAX_STEP = 120;
/**
 * A difference beyond this is no mouse motion but another viewer's position (each pointer-lock
 * viewer keeps its own): it becomes the new reference, and the guest's mouse stays put.
 */
const MAX_MOTION = 4096;

/**
 * Positions from here up are a pointer-locked viewer's (its own position, moved only by the
 * mouse's motion, kept in [16384, 49152): see src-renderer/display/relative-pointer.ts); below,
 * a viewer pointing at the screen (no v86 screen is that large).
 */
export const LOCKED_POSITIONS_FROM = 16384;

/**
 * RFB input → v86's keyboard and its two mice: the PS/2 mouse (relative; DOS, Windows 9x) and
 * the VMware VMMouse (Linux's vmmouse driver uses it when present: absolute, or relative
 * while v86 is told the host holds pointer lock — what v86's own page does). Every pointer
 * event moves the PS/2 mouse by the difference from the previous position; a position on the
 * screen also goes to the VMMouse as an absolute one.
 */
export class V86Input implements RfbInputSink {
  private lastX: number | undefined;
  private lastY: number | undefined;
  private buttons = 0;
  private locked = false;

  constructor(
    private readonly target: () => V86InputTarget | undefined,
    /** The screen's size now (absolute positions for the VMMouse); undefined: not known yet. */
    private readonly screen: () => { width: number; height: number } | undefined = () => undefined,
  ) {}

  key(e: RfbKeyEvent): void {
    const t = this.target();
    if (!t || e.qnum === undefined) return;
    const codes = qnumToSet1(e.qnum, e.down);
    if (codes.length > 0) t.keyboard_send_scancodes(codes);
  }

  pointer(e: RfbPointerEvent): void {
    const t = this.target();
    if (!t) return;
    const locked = e.x >= LOCKED_POSITIONS_FROM || e.y >= LOCKED_POSITIONS_FROM;
    if (locked !== this.locked) {
      // Another kind of viewer: its positions are in another space (no motion between them).
      this.locked = locked;
      this.lastX = this.lastY = undefined;
      t.bus.send('mouse-pointer-lock', locked);
    }
    if (this.lastX !== undefined && this.lastY !== undefined) {
      let dx = e.x - this.lastX;
      let dy = this.lastY - e.y; // PS/2: positive is up; screen y grows downwards
      if (Math.abs(dx) > MAX_MOTION || Math.abs(dy) > MAX_MOTION) dx = dy = 0;
      while (dx !== 0 || dy !== 0) {
        const sx = Math.max(-MAX_STEP, Math.min(MAX_STEP, dx));
        const sy = Math.max(-MAX_STEP, Math.min(MAX_STEP, dy));
        t.bus.send('mouse-delta', [sx, sy]);
        dx -= sx;
        dy -= sy;
      }
    }
    this.lastX = e.x;
    this.lastY = e.y;
    const size = locked ? undefined : this.screen();
    if (size && size.width > 0 && size.height > 0) {
      t.bus.send('mouse-absolute', [
        Math.min(e.x, size.width - 1),
        Math.min(e.y, size.height - 1),
        size.width,
        size.height,
      ]);
    }
    const changed = e.buttons ^ this.buttons;
    if (changed & 0b111) {
      t.bus.send('mouse-click', [(e.buttons & 1) !== 0, (e.buttons & 2) !== 0, (e.buttons & 4) !== 0]);
    }
    // Wheel "buttons" 4–7: a press is one notch (RFB viewers press and release per notch).
    const pressed = e.buttons & ~this.buttons;
    if (pressed & 8) t.bus.send('mouse-wheel', [1, 0]); // up
    if (pressed & 16) t.bus.send('mouse-wheel', [-1, 0]); // down
    if (pressed & 32) t.bus.send('mouse-wheel', [0, 1]); // left
    if (pressed & 64) t.bus.send('mouse-wheel', [0, -1]); // right
    this.buttons = e.buttons;
  }
}
