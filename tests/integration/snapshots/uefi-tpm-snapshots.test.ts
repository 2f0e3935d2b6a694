// Snapshots of a UEFI + TPM 2.0 QEMU VM: a UEFI variable the guest creates (in the NVRAM
// image) and TPM PCR 16 it extends (in swtpm, carried in the live snapshot's device state)
// follow the snapshot they belong to — restored while running and while off; a disk-only
// snapshot brings the NVRAM back too.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createControlServices, type ControlHost } from '../../../src-main/services/control-services';
import { canRun, ensureBuilt, MEDIA } from '../qemu/qemu-test-kit';

const BOOT_MS = 240_000;

describe.skipIf(!canRun)('snapshots of a UEFI + TPM VM (real QEMU, OVMF, swtpm)', () => {
  let home: string;
  let host: ControlHost;
  let id: string;

  async function ask(command: string, answer: RegExp, ms = 60_000): Promise<string> {
    const log = (await host.services.vm.status(id))!.serialLog!;
    const from = existsSync(log) ? readFileSync(log, 'latin1').length : 0;
    await host.services.vm.sendSerial(id, command);
    const end = Date.now() + ms;
    for (;;) {
      const m = answer.exec(readFileSync(log, 'latin1').slice(from));
      if (m) return m[1] ?? m[0];
      if (Date.now() > end) throw new Error(`no ${answer} after "${command}"`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const efivars = (): Promise<string> => ask('efivar?', /MARU-EFIVARS=(\S*)/);
  const pcr16 = (): Promise<string> => ask('pcr16?', /MARU-PCR16=([0-9A-Fa-f]{64})/);

  async function boot(): Promise<void> {
    const r = await host.services.vm.start(id);
    const log = r.status.serialLog!;
    const end = Date.now() + BOOT_MS;
    while (!(existsSync(log) && readFileSync(log, 'latin1').includes('MARU-READY'))) {
      if (Date.now() > end) throw new Error('no MARU-READY');
      await new Promise((r2) => setTimeout(r2, 200));
    }
  }

  beforeAll(async () => {
    ensureBuilt();
    home = mkdtempSync(path.join(os.tmpdir(), 'maru-snap-uefi-'));
    host = createControlServices({ maruHome: home, env: { ...process.env, MARU_HOME: home } });
    const vm = await host.services.library.create({
      name: 'uefi-snap',
      os: 'linux64',
      engine: 'qemu',
      firmware: 'uefi',
      tpm: true,
      cpus: 1,
      memoryMiB: 512,
      diskGiB: 1,
      iso: MEDIA.biosUefi,
    });
    id = vm.vm.config.id;
    await boot();
  }, BOOT_MS + 30_000);

  afterAll(async () => {
    await host.services.vm.stop(id, { force: true }).catch(() => undefined);
    host.dispose();
    rmSync(home, { recursive: true, force: true });
  });

  it('a UEFI variable and TPM PCR 16 follow live snapshots, running and off', async () => {
    const pcr0 = await pcr16();
    await ask('efivar=one', /MARU-ECHO:efivar=one/);
    await ask('pcr16+', /MARU-ECHO:pcr16\+/);
    const pcrA = await pcr16();
    expect(pcrA).not.toBe(pcr0);
    expect(await efivars()).toBe('one,');
    const a = await host.services.snapshots.take(id, { name: 'A' });

    await ask('efivar=two', /MARU-ECHO:efivar=two/);
    await ask('pcr16+', /MARU-ECHO:pcr16\+/);
    const pcrB = await pcr16();
    expect(pcrB).not.toBe(pcrA);
    const b = await host.services.snapshots.take(id, { name: 'B' });

    // Running, in place: back to A.
    expect((await host.services.snapshots.restore(id, a.id)).state).toBe('running');
    expect(await pcr16()).toBe(pcrA);
    expect(await efivars()).toBe('one,');

    // Off: restore B; the next start resumes at B, TPM and NVRAM included.
    await host.services.vm.stop(id, { force: true });
    expect((await host.services.snapshots.restore(id, b.id)).state).toBe('saved');
    await host.services.vm.start(id);
    expect(await pcr16()).toBe(pcrB);
    expect(await efivars()).toBe('one,two,');
  }, 600_000);

  it('a disk-only snapshot brings the NVRAM back', async () => {
    await host.services.vm.stop(id, { force: true });
    const c = await host.services.snapshots.take(id, { name: 'C' });
    expect(c.kind).toBe('disk');
    await boot();
    await ask('efivar=three', /MARU-ECHO:efivar=three/);
    expect(await efivars()).toBe('one,three,two,');
    await host.services.vm.stop(id, { force: true });
    expect((await host.services.snapshots.restore(id, c.id)).state).toBe('off');
    await boot();
    expect(await efivars()).toBe('one,two,');
  }, 600_000);
});
