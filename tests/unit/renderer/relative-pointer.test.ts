// Pointer lock's messages: what the engine receives is standard RFB PointerEvents whose
// position moves by exactly the mouse's motion (wrapping at 65536), with buttons and wheel
// notches; fed to the real v86 input sink they become the same motion on the PS/2 mouse.
import { describe, expect, it } from 'vitest';
import {
  RelativePointer,
  pointerEventMessage,
  rfbButtonBit,
  wheelBits,
} from '../../../src-renderer/display/relative-pointer';
import { V86Input, type V86InputTarget } from '../../../src-emulator/engines/v86/ps2-input';

function decode(m: Uint8Array) {
  return { type: m[0]!, buttons: m[1]!, x: (m[2]! << 8) | m[3]!, y: (m[4]! << 8) | m[5]! };
}

describe('RelativePointer', () => {
  it('encodes RFB PointerEvents', () => {
    expect([...pointerEventMessage(5, 0x1234, 0xfffe)]).toEqual([5, 5, 0x12, 0x34, 0xff, 0xfe]);
    expect([0, 1, 2, 3].map(rfbButtonBit)).toEqual([1, 2, 4, 0]);
    expect(wheelBits(0, -3)).toEqual([8]);
    expect(wheelBits(2, 4)).toEqual([16, 64]);
  });

  it('moves by the motion inside its band (back to the middle when leaving it), holds buttons, one notch per wheel event', () => {
    const sent: ReturnType<typeof decode>[] = [];
    const p = new RelativePointer((m) => sent.push(decode(m)));
    p.move(10, -20);
    p.move(16400, 0); // would leave [16384, 49152): back to the middle
    p.button(1, true);
    p.wheel(0, 1);
    p.button(1, false);
    expect(sent).toEqual([
      { type: 5, buttons: 0, x: 32778, y: 32748 },
      { type: 5, buttons: 0, x: 32768, y: 32748 },
      { type: 5, buttons: 1, x: 32768, y: 32748 },
      { type: 5, buttons: 1 | 16, x: 32768, y: 32748 },
      { type: 5, buttons: 1, x: 32768, y: 32748 },
      { type: 5, buttons: 0, x: 32768, y: 32748 },
    ]);
  });

  it('reaches the v86 mice as the same motion, far past any screen edge', () => {
    const deltas: number[][] = [];
    const target = {
      keyboard_send_scancodes: () => undefined,
      bus: { send: (name: string, data: number[]) => name === 'mouse-delta' && deltas.push(data) },
    } as unknown as V86InputTarget;
    const input = new V86Input(() => target);
    const p = new RelativePointer((m) => {
      const e = decode(m);
      input.pointer({ x: e.x, y: e.y, buttons: e.buttons });
    });
    p.move(0, 0); // the reference position
    for (let i = 0; i < 400; i++) p.move(100, 30); // 40,000 px right and 12,000 down
    const sum = deltas.reduce((a, [dx, dy]) => [a[0]! + dx!, a[1]! + dy!], [0, 0]);
    // All of it but the two events that jumped back to the band's middle (100 px right and
    // 30 down each, not passed on). PS/2: positive y is up.
    expect(sum).toEqual([40_000 - 2 * 100, -(12_000 - 2 * 30)]);
  });
});
