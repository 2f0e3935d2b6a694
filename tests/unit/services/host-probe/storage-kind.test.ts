// Storage kind: dev_t decoding, and a real answer (without throwing) for folders on this machine.
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { detectStorageKind, splitDeviceNumber } from '../../../../src-main/services/host-probe/storage-kind';

describe('splitDeviceNumber', () => {
  it('decodes the Linux dev_t layout', () => {
    expect(splitDeviceNumber(0xfe00n)).toEqual({ major: 254, minor: 0 }); // vda
    expect(splitDeviceNumber(0x801n)).toEqual({ major: 8, minor: 1 }); // sda1
    // glibc's makedev: minor bits 0-7 and 20-43, major bits 8-19 and 44-63.
    const makedev = (major: bigint, minor: bigint): bigint =>
      (minor & 0xffn) | ((major & 0xfffn) << 8n) | ((minor & ~0xffn) << 12n) | ((major & ~0xfffn) << 32n);
    for (const [major, minor] of [
      [259, 65537],
      [4095, 255],
      [5000, 1_000_000],
    ] as const) {
      expect(splitDeviceNumber(makedev(BigInt(major), BigInt(minor)))).toEqual({ major, minor });
    }
  });
});

describe('detectStorageKind', () => {
  it.each([process.cwd(), os.tmpdir(), '/proc', '/'])('answers for %s without throwing', async (folder) => {
    const info = await detectStorageKind(folder);
    expect(['ssd', 'hdd', 'unknown']).toContain(info.storage);
    if (info.storage === 'unknown') expect(info.note).toBeTruthy();
    else expect(info.device).toMatch(/^\/dev\//);
  });

  it('answers unknown for a folder that does not exist, and off Linux', async () => {
    expect((await detectStorageKind('/no/such/folder/here')).storage).toBe('unknown');
    expect(await detectStorageKind('/', 'darwin')).toMatchObject({ storage: 'unknown', device: null });
  });
});
