// The hand-assembled test guest: size, signature, and that every address in the code points
// where the layout says (and, where ndisasm is installed, that it disassembles as documented).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BOOT_SECTOR_SIZE,
  PROBE_EXIT_PORT,
  PROBE_EXIT_STATUS,
  PROBE_LAYOUT,
  PROBE_MARKER_FPU_BAD,
  PROBE_MARKER_OK,
  PROBE_MARKER_START,
  buildProbeBootSector,
} from '../../../../src-main/services/host-probe/probe-boot-sector';

const sector = buildProbeBootSector();
const u16 = (offset: number): number => (sector[offset] ?? 0) | ((sector[offset + 1] ?? 0) << 8);
const asciiz = (address: number): string => {
  let s = '';
  for (let i = address - PROBE_LAYOUT.loadAddress; sector[i] !== 0; i++) s += String.fromCharCode(sector[i] ?? 0);
  return s;
};

describe('probe boot sector', () => {
  it('is 512 bytes and ends with the 0x55 0xAA boot signature', () => {
    expect(sector.length).toBe(BOOT_SECTOR_SIZE);
    expect(sector[510]).toBe(0x55);
    expect(sector[511]).toBe(0xaa);
  });

  it('keeps code, result and messages apart', () => {
    const main = PROBE_LAYOUT.mainCodeLength;
    expect(main).toBeLessThanOrEqual(PROBE_LAYOUT.print - PROBE_LAYOUT.loadAddress);
    expect(PROBE_LAYOUT.print + PROBE_LAYOUT.printCodeLength).toBeLessThanOrEqual(PROBE_LAYOUT.result);
    expect(asciiz(PROBE_LAYOUT.badMessage).length + PROBE_LAYOUT.badMessage + 1).toBeLessThan(
      PROBE_LAYOUT.loadAddress + 510,
    );
  });

  it('points every operand at the layout', () => {
    // mov si, start message; call print (rel16 from the next instruction)
    expect(sector[0x0b]).toBe(0xbe);
    expect(u16(0x0c)).toBe(PROBE_LAYOUT.startMessage);
    expect(sector[0x0e]).toBe(0xe8);
    expect(0x11 + u16(0x0f)).toBe(PROBE_LAYOUT.print - PROBE_LAYOUT.loadAddress);
    // x87: fninit, fld1, fld1, faddp, fistp word [result], fwait
    expect([...sector.subarray(0x11, 0x19)]).toEqual([0xdb, 0xe3, 0xd9, 0xe8, 0xd9, 0xe8, 0xde, 0xc1]);
    expect([sector[0x19], sector[0x1a]]).toEqual([0xdf, 0x1e]);
    expect(u16(0x1b)).toBe(PROBE_LAYOUT.result);
    expect(sector[0x1d]).toBe(0x9b);
    // ok message, cmp word [result], 2, je over the bad message
    expect(u16(0x1f)).toBe(PROBE_LAYOUT.okMessage);
    expect([sector[0x21], sector[0x22]]).toEqual([0x83, 0x3e]);
    expect(u16(0x23)).toBe(PROBE_LAYOUT.result);
    expect(sector[0x25]).toBe(2);
    expect(u16(0x29)).toBe(PROBE_LAYOUT.badMessage);
    expect(0x2e + u16(0x2c)).toBe(PROBE_LAYOUT.print - PROBE_LAYOUT.loadAddress);
    // out PROBE_EXIT_PORT, al with al = 0x10 → QEMU exit status 33
    expect([sector[0x30], sector[0x31]]).toEqual([0xe6, PROBE_EXIT_PORT]);
    expect(((sector[0x2f] ?? 0) << 1) | 1).toBe(PROBE_EXIT_STATUS);
  });

  it('carries the three markers as NUL-terminated lines', () => {
    expect(asciiz(PROBE_LAYOUT.startMessage)).toBe(`${PROBE_MARKER_START}\r\n`);
    expect(asciiz(PROBE_LAYOUT.okMessage)).toBe(`${PROBE_MARKER_OK}\r\n`);
    expect(asciiz(PROBE_LAYOUT.badMessage)).toBe(`${PROBE_MARKER_FPU_BAD}\r\n`);
    expect(sector[PROBE_LAYOUT.result - PROBE_LAYOUT.loadAddress]).toBe(0);
  });

  it.skipIf(!existsSync('/usr/bin/ndisasm'))('disassembles as documented (ndisasm, when installed)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'maru-sector-'));
    const disassemble = (from: number, length: number): string[] => {
      const file = path.join(dir, `code-${from}.bin`);
      const offset = from - PROBE_LAYOUT.loadAddress;
      writeFileSync(file, sector.subarray(offset, offset + length));
      const listing = execFileSync('/usr/bin/ndisasm', ['-b16', '-o', `0x${from.toString(16)}`, file], {
        encoding: 'utf8',
      });
      return listing
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => l.slice(28).trim());
    };
    try {
      expect(disassemble(PROBE_LAYOUT.loadAddress, PROBE_LAYOUT.mainCodeLength)).toEqual([
        'cli',
        'cld',
        'xor ax,ax',
        'mov ds,ax',
        'mov ss,ax',
        'mov sp,0x7c00',
        'mov si,0x7c60',
        'call 0x7c40',
        'fninit',
        'fld1',
        'fld1',
        'faddp st1',
        'fistp word [0x7c50]',
        'wait mov si,0x7c80', // ndisasm folds the fwait prefix into the next line
        'cmp word [0x7c50],byte +0x2',
        'jz 0x7c2b',
        'mov si,0x7ca0',
        'call 0x7c40',
        'mov al,0x10',
        'out 0xf4,al',
        'hlt',
        'jmp short 0x7c32',
      ]);
      expect(disassemble(PROBE_LAYOUT.print, PROBE_LAYOUT.printCodeLength)).toEqual([
        'mov dx,0x3f8',
        'lodsb',
        'test al,al',
        'jz 0x7c4b',
        'out dx,al',
        'jmp short 0x7c43',
        'ret',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
