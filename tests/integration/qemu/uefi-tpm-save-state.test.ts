// A UEFI VM with a TPM 2.0 through the CLI: the guest sees UEFI and a TPM 2.0; save-state
// snapshots RAM + disk + NVRAM (TPM state inside) and powers off; start resumes the same
// guest (no new boot) and drops the snapshot; then swtpm is killed mid-run → aborted, clean.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MEDIA,
  TestHome,
  canRun,
  expectImagesClean,
  expectNothingLeft,
  processesMentioning,
  snapshotTags,
  statusOf,
} from './qemu-test-kit';

describe.skipIf(!canRun)('UEFI + TPM VM: save state, resume, swtpm crash (real QEMU, TCG)', () => {
  let t: TestHome;
  let id = '';

  beforeAll(async () => {
    t = await TestHome.create();
    id = await t.createVm('uefi', [
      '--os',
      'linux64',
      '--firmware',
      'uefi',
      '--tpm',
      '--cpus',
      '1',
      '--memory',
      '512',
      '--disk',
      '1',
      '--iso',
      MEDIA.biosUefi,
    ]);
  });
  afterAll(async () => {
    await t?.dispose();
  });

  it('boots with UEFI, and the guest finds a TPM 2.0', async () => {
    await t.ok(['start', id, '--headless']);
    const log = await t.waitForSerial(id, 'MARU-DISKS=', 150_000);
    expect(log).toContain('MARU-BOOT-OK');
    expect(log).toContain('MARU-FIRMWARE=uefi');
    expect(log).toContain('MARU-SECUREBOOT=0');
    expect(log).toContain('MARU-TPM=2');
    expect(await processesMentioning(path.join(t.vmFolder(id), 'tpm'))).toHaveLength(1); // swtpm
  });

  it('saves its state and powers off; the VM is listed as saved; the images are clean', async () => {
    await t.ok(['serial', id, '--send', 'before-save']);
    await t.waitForSerial(id, 'MARU-ECHO:before-save', 20_000);
    const out = await t.ok(['save-state', id]);
    expect(out).toMatch(/Saved the state/);
    expect(await t.state(id)).toBe('saved');
    await expectNothingLeft(t, id);
    for (const image of t.images(id)) expect(snapshotTags(image)).toEqual(['maru-saved-state']);
    expectImagesClean(t, id);
    const marker = JSON.parse(await readFile(path.join(t.vmFolder(id), 'saved-state'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(marker).toMatchObject({
      engine: 'qemu',
      tag: 'maru-saved-state',
      vmstateNode: 'disk0',
      devices: ['disk0', 'nvram'],
    });
  });

  it('start resumes the same guest: no new boot, the console answers, the snapshot is gone', async () => {
    const out = await t.ok(['start', id]);
    expect(out).toMatch(/^Resumed "uefi"/);
    expect((await statusOf(t, id))['resumedFromSavedState']).toBe(true);
    expect(await t.state(id)).toBe('running');
    await t.ok(['serial', id, '--send', 'after-resume']);
    const log = await t.waitForSerial(id, 'MARU-ECHO:after-resume', 30_000);
    // This run's serial log starts at the resume: the guest did not boot again.
    expect(log).not.toContain('MARU-BOOT-OK');
    expect(log).not.toContain('BdsDxe');
    const previous = await readFile(path.join(t.vmFolder(id), 'logs', 'serial.log.1'), 'latin1');
    expect(previous).toContain('MARU-ECHO:before-save');
    for (const image of t.images(id)) expect(snapshotTags(image)).toEqual([]);
  });

  it('swtpm killed mid-run: the VM is stopped and marked aborted with the reason; nothing is left; images clean', async () => {
    const tpmFolder = path.join(t.vmFolder(id), 'tpm');
    const [swtpm] = await processesMentioning(tpmFolder);
    expect(swtpm).toBeDefined();
    process.kill(swtpm!, 'SIGKILL');
    await t.waitForState(id, 'aborted', 30_000);
    await expectNothingLeft(t, id);
    const status = JSON.parse(await t.ok(['status', id, '--json'])) as { state: string; aborted: { reason: string } };
    expect(status.state).toBe('aborted');
    expect(status.aborted.reason).toMatch(/The TPM emulator \(swtpm\) ended unexpectedly \(killed by SIGKILL\)/);
    expectImagesClean(t, id);
    const host = await readFile(path.join(t.vmFolder(id), 'logs', 'engine-host.log'), 'utf8');
    expect(host).toMatch(/state running → aborted/);
    const r = await t.maru(['pause', id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is not running \(aborted: The TPM emulator/);
  });

  it('discard-state drops a saved state: the snapshot leaves every image and the next start boots afresh', async () => {
    const first = await t.maru(['start', id]);
    expect(first.code, first.stderr).toBe(0);
    await t.waitForSerial(id, 'MARU-BOOT-OK', 90_000);
    await t.ok(['save-state', id]);
    expect(await t.state(id)).toBe('saved');
    const refused = await t.maru(['discard-state', 'no such vm']);
    expect(refused.code).toBe(1);
    expect(await t.ok(['discard-state', id])).toMatch(/Discarded the saved state/);
    expect(await t.state(id)).toBe('off');
    for (const image of t.images(id)) expect(snapshotTags(image)).toEqual([]);
    expectImagesClean(t, id);
    const again = await t.maru(['discard-state', id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/has no saved state/);
    const out = await t.ok(['start', id]);
    expect(out).toMatch(/^Started "uefi"/);
    await t.waitForSerial(id, 'MARU-BOOT-OK', 90_000);
    await t.ok(['stop', id, '--force']);
    await expectNothingLeft(t, id);
  });
});
