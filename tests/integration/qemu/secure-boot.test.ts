// Secure Boot with Windows 11's settings (q35, SMM, Microsoft-keys OVMF, TPM 2.0 on
// tpm-crb, AHCI, e1000e), made small for speed: Debian's signed shim → grub → kernel boots
// and the guest reports Secure Boot on; an unsigned bootloader is refused by the firmware.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEDIA, TestHome, canRun, expectImagesClean, expectNothingLeft, statusOf } from './qemu-test-kit';

const small = ['--os', 'windows11', '--cpus', '1', '--memory', '512', '--disk', '1'];

describe.skipIf(!canRun)('Secure Boot (real QEMU, TCG)', () => {
  let t: TestHome;

  beforeAll(async () => {
    t = await TestHome.create();
  });
  afterAll(async () => {
    await t?.dispose();
  });

  it('boots the signed chain; the guest reports Secure Boot on and a TPM 2.0', async () => {
    const id = await t.createVm('win11-like', [...small, '--iso', MEDIA.secureBoot]);
    await t.ok(['start', id, '--headless']);
    const status = await statusOf(t, id);
    expect(status['accelerator']).toBe('tcg');
    const command = JSON.parse(await readFile(path.join(t.vmFolder(id), 'logs', 'qemu-command.json'), 'utf8')) as {
      argv: string[];
    };
    const argv = command.argv.join(' ');
    expect(argv).toContain('-machine q35,smm=on,pflash0=ovmf-code,pflash1=nvram');
    expect(argv).toContain('OVMF_CODE_4M.ms.fd');
    expect(argv).toContain('driver=cfi.pflash01,property=secure,value=on');
    expect(argv).toContain('tpm-crb,tpmdev=tpm0');
    expect(argv).toMatch(/-device e1000e,/);
    const log = await t.waitForSerial(id, 'MARU-POWERBUTTON=', 240_000);
    expect(log).toContain('MARU-BOOT-OK');
    expect(log).toContain('MARU-FIRMWARE=uefi');
    expect(log).toContain('MARU-SECUREBOOT=1');
    expect(log).toContain('MARU-TPM=2');
    await t.ok(['stop', id, '--force']);
    expect(await t.state(id)).toBe('off');
    await expectNothingLeft(t, id);
    expectImagesClean(t, id);
  });

  it('refuses an unsigned bootloader: the firmware denies it and the guest never starts', async () => {
    const id = await t.createVm('unsigned', [...small, '--no-tpm', '--iso', MEDIA.unsigned]);
    await t.ok(['start', id, '--headless']);
    // OVMF reports the refusal on the serial console, then finds nothing else to boot.
    const log = await t.waitForSerial(id, /Access Denied|Security Violation/, 240_000);
    await t.waitForSerial(id, 'No bootable option or device was found', 60_000);
    expect(log).toMatch(/failed to load Boot\d+ "UEFI QEMU DVD-ROM[^"]*"[^:]*: Access Denied/);
    const shot = path.join(t.root, 'refused.png');
    await t.ok(['screenshot', id, shot]);
    expect((await readFile(shot)).subarray(1, 4).toString()).toBe('PNG');
    expect(await t.serialLog(id)).not.toContain('MARU-BOOT-OK');
    await t.ok(['stop', id, '--force']);
    await expectNothingLeft(t, id);
    expectImagesClean(t, id);
  });
});
