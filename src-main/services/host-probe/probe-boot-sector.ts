// The host probe's test guest: a 512-byte x86 boot sector, hand-assembled here so no
// assembler is needed at run time. It runs x87 code, checks 1 + 1 = 2, reports on COM1 and exits.

/** Printed on COM1 as soon as the BIOS has handed over: the guest started. */
export const PROBE_MARKER_START = 'MARU-PROBE-START';
/** Printed after fninit/fld1/fadd/fistp stored 2: x87 code ran under this accelerator. */
export const PROBE_MARKER_OK = 'MARU-PROBE-OK';
/** Printed when the x87 sum was not 2: the accelerator ran the code but got it wrong. */
export const PROBE_MARKER_FPU_BAD = 'MARU-PROBE-FPU-BAD';

/** Port of `-device isa-debug-exit,iobase=0xf4,iosize=0x04`. */
export const PROBE_EXIT_PORT = 0xf4;
/** Byte the guest writes to the exit port; QEMU then exits with status (value << 1) | 1. */
export const PROBE_EXIT_VALUE = 0x10;
/** QEMU's exit status after the guest's write to isa-debug-exit: (0x10 << 1) | 1 = 33. */
export const PROBE_EXIT_STATUS = (PROBE_EXIT_VALUE << 1) | 1;

export const BOOT_SECTOR_SIZE = 512;
/**
 * Size of the disk image the sector is written into. SeaBIOS's AHCI driver (q35) does not
 * boot a one-sector disk; a 1 MiB image (sparse, 512 bytes of data) boots on IDE and AHCI.
 */
export const PROBE_IMAGE_SIZE = 1024 * 1024;

// Where things sit inside the sector. The BIOS loads it at linear 0x7C00; with DS = 0 the
// data addresses below are absolute (0x7C00 + offset), so the code is position-exact.
const LOAD_ADDRESS = 0x7c00;
const PRINT_OFFSET = 0x40;
const RESULT_OFFSET = 0x50;
const START_MSG_OFFSET = 0x60;
const OK_MSG_OFFSET = 0x80;
const BAD_MSG_OFFSET = 0xa0;

/**
 * Main program at offset 0x00 (16-bit real mode). Every byte is listed with its encoding;
 * `ndisasm -b16 -o 0x7c00` on the sector reproduces the mnemonics on the right.
 */
// prettier-ignore
const MAIN_CODE: readonly number[] = [
  // 00  FA            cli                      ; we never return to the BIOS: no interrupts
  0xfa,
  // 01  FC            cld                      ; lodsb walks forward
  0xfc,
  // 02  31 C0         xor ax, ax               ; 31 /r, ModRM 11 000 000 (ax, ax)
  0x31, 0xc0,
  // 04  8E D8         mov ds, ax               ; 8E /r, ModRM 11 011 000 (sreg ds, ax)
  0x8e, 0xd8,
  // 06  8E D0         mov ss, ax               ; ModRM 11 010 000 (sreg ss, ax)
  0x8e, 0xd0,
  // 08  BC 00 7C      mov sp, 0x7C00           ; B8+r imm16, r = 4 (sp): stack grows down below us
  0xbc, 0x00, 0x7c,
  // 0B  BE 60 7C      mov si, 0x7C60           ; B8+r imm16, r = 6 (si): "MARU-PROBE-START\r\n"
  0xbe, 0x60, 0x7c,
  // 0E  E8 2F 00      call 0x7C40              ; rel16 = 0x40 - 0x11 = 0x002F (print)
  0xe8, 0x2f, 0x00,
  // 11  DB E3         fninit                   ; reset the x87 unit (where kvm_pvm hosts die)
  0xdb, 0xe3,
  // 13  D9 E8         fld1                     ; st0 = 1.0
  0xd9, 0xe8,
  // 15  D9 E8         fld1                     ; st0 = 1.0, st1 = 1.0
  0xd9, 0xe8,
  // 17  DE C1         faddp st1, st0           ; st1 += st0, pop: st0 = 2.0
  0xde, 0xc1,
  // 19  DF 1E 50 7C   fistp word [0x7C50]      ; DF /3 m16int, ModRM 00 011 110 + disp16
  0xdf, 0x1e, 0x50, 0x7c,
  // 1D  9B            fwait                    ; let the store (and any x87 fault) land
  0x9b,
  // 1E  BE 80 7C      mov si, 0x7C80           ; "MARU-PROBE-OK\r\n" (assume success)
  0xbe, 0x80, 0x7c,
  // 21  83 3E 50 7C 02 cmp word [0x7C50], 2    ; 83 /7 ib, ModRM 00 111 110 + disp16 + imm8
  0x83, 0x3e, 0x50, 0x7c, 0x02,
  // 26  74 03         je 0x7C2B                ; rel8 = 0x2B - 0x28 = 3: skip the next mov
  0x74, 0x03,
  // 28  BE A0 7C      mov si, 0x7CA0           ; "MARU-PROBE-FPU-BAD\r\n"
  0xbe, 0xa0, 0x7c,
  // 2B  E8 12 00      call 0x7C40              ; rel16 = 0x40 - 0x2E = 0x0012 (print)
  0xe8, 0x12, 0x00,
  // 2E  B0 10         mov al, 0x10             ; B0+r imm8, r = 0 (al)
  0xb0, 0x10,
  // 30  E6 F4         out 0xF4, al             ; isa-debug-exit: QEMU exits with status 33
  0xe6, 0xf4,
  // 32  F4            hlt                      ; no isa-debug-exit device: just stop here
  0xf4,
  // 33  EB FD         jmp 0x7C32               ; rel8 = 0x32 - 0x35 = -3 (0xFD): stay halted
  0xeb, 0xfd,
];

/** `print` at offset 0x40: writes the NUL-terminated string at DS:SI to COM1, then returns. */
// prettier-ignore
const PRINT_CODE: readonly number[] = [
  // 40  BA F8 03      mov dx, 0x3F8            ; B8+r imm16, r = 2 (dx): COM1 data register
  0xba, 0xf8, 0x03,
  // 43  AC            lodsb                    ; al = [ds:si++]
  0xac,
  // 44  84 C0         test al, al              ; 84 /r, ModRM 11 000 000
  0x84, 0xc0,
  // 46  74 03         jz 0x7C4B                ; rel8 = 0x4B - 0x48 = 3: end of string
  0x74, 0x03,
  // 48  EE            out dx, al               ; QEMU's UART takes bytes without any set-up
  0xee,
  // 49  EB F8         jmp 0x7C43               ; rel8 = 0x43 - 0x4B = -8 (0xF8)
  0xeb, 0xf8,
  // 4B  C3            ret
  0xc3,
];

/** Builds the 512-byte boot sector: code, data, and the 0x55 0xAA signature at 510. */
export function buildProbeBootSector(): Uint8Array {
  const sector = new Uint8Array(BOOT_SECTOR_SIZE);
  sector.set(MAIN_CODE, 0);
  sector.set(PRINT_CODE, PRINT_OFFSET);
  // RESULT_OFFSET (0x50..0x51) stays 0: fistp writes the sum there.
  writeAsciiz(sector, START_MSG_OFFSET, `${PROBE_MARKER_START}\r\n`);
  writeAsciiz(sector, OK_MSG_OFFSET, `${PROBE_MARKER_OK}\r\n`);
  writeAsciiz(sector, BAD_MSG_OFFSET, `${PROBE_MARKER_FPU_BAD}\r\n`);
  sector[510] = 0x55;
  sector[511] = 0xaa;
  return sector;
}

/** The absolute addresses the code refers to, for tests that check the hand assembly. */
export const PROBE_LAYOUT = {
  loadAddress: LOAD_ADDRESS,
  print: LOAD_ADDRESS + PRINT_OFFSET,
  result: LOAD_ADDRESS + RESULT_OFFSET,
  startMessage: LOAD_ADDRESS + START_MSG_OFFSET,
  okMessage: LOAD_ADDRESS + OK_MSG_OFFSET,
  badMessage: LOAD_ADDRESS + BAD_MSG_OFFSET,
  mainCodeLength: MAIN_CODE.length,
  printCodeLength: PRINT_CODE.length,
} as const;

function writeAsciiz(target: Uint8Array, offset: number, text: string): void {
  for (let i = 0; i < text.length; i++) target[offset + i] = text.charCodeAt(i) & 0x7f;
  target[offset + text.length] = 0;
}
