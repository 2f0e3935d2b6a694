// The new-VM wizard around an existing disk, in the web console (Chromium, a real `maru serve` of
// its own): a VMDK with data on the server is inspected (format, size), imported as qcow2 with
// the progress bar showing, and becomes the new VM's first disk — the same data as the source
// (`qemu-img compare`), the source untouched. A file that is no disk image is refused in place.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect as baseExpect, logIn, shot, startOwnServer, test, type MaruServer } from './maru-server-fixture';

test.describe.configure({ mode: 'serial' });
const expect = baseExpect.configure({ timeout: 30_000 });

let maru: MaruServer & { stop(): Promise<void> };
let vmdk = '';

function sha(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

test.beforeAll(async () => {
  test.skip(spawnSync('which', ['qemu-io']).status !== 0, 'needs qemu-img and qemu-io (qemu-utils)');
  maru = await startOwnServer('maru-e2e-existing-disk-');
  // 384 MiB of data in a 1 GiB VMDK, in Maru's disks folder (where the web console may read).
  const made = maru.cli(['disk', 'create', path.join(maru.home, 'disks', 'seed.qcow2'), '--size', '1G']);
  expect(made.status, made.stderr).toBe(0);
  const seed = path.join(maru.home, 'disks', 'seed.qcow2');
  const io = spawnSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x6d 0 384M', seed], { encoding: 'utf8' });
  expect(io.status, io.stderr).toBe(0);
  vmdk = path.join(maru.home, 'disks', 'old-server.vmdk');
  const cv = spawnSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'vmdk', seed, vmdk], { encoding: 'utf8' });
  expect(cv.status, cv.stderr).toBe(0);
  writeFileSync(path.join(maru.home, 'disks', 'notes.txt'), 'not a disk');
});
test.afterAll(async () => {
  await maru?.stop();
});

test('a new VM around an existing VMDK: inspected, imported with progress, booting from it', async ({ page }) => {
  const before = sha(vmdk);
  await logIn(page, maru);
  await page.getByRole('button', { name: 'New VM…' }).click();
  const dialog = page.getByRole('dialog', { name: 'New virtual machine' });
  await dialog.getByRole('radio', { name: 'Linux (64-bit)', exact: true }).check();
  await dialog.getByRole('button', { name: 'Next' }).click();
  await dialog.getByLabel('Name', { exact: true }).fill('Old server');
  await dialog.getByRole('button', { name: 'Next' }).click();

  await dialog.getByRole('radio', { name: 'Use an existing disk' }).check();
  const file = dialog.getByLabel('Disk image file');
  // Not a disk image: the server's reason, and Next stays on this step.
  await file.fill(path.join(maru.home, 'disks', 'notes.txt'));
  await dialog.getByRole('button', { name: 'Inspect' }).click();
  await expect(dialog).toContainText('no disk image format qemu-img knows');
  await dialog.getByRole('button', { name: 'Next' }).click();
  await expect(dialog.getByLabel('Disk image file')).toBeVisible();

  await file.fill(vmdk);
  await dialog.getByRole('button', { name: 'Inspect' }).click();
  const found = dialog.getByRole('region', { name: 'What the file holds' });
  await expect(found).toContainText('VMDK');
  await expect(found).toContainText('1 GiB');
  await expect(found).toContainText('imported as a qcow2 copy');
  await shot(page, 'wizard-existing-disk');
  for (let i = 0; i < 2; i++) await dialog.getByRole('button', { name: 'Next' }).click();
  await dialog.getByRole('button', { name: 'Create' }).click();
  await expect(dialog.getByRole('progressbar')).toBeVisible();
  await expect(dialog).toBeHidden({ timeout: 120_000 });

  const details = page.getByRole('region', { name: 'Details' });
  await expect(details.getByRole('heading', { level: 2 })).toHaveText('Old server');
  const shown = maru.cli(['show', 'Old server', '--json']);
  expect(shown.status, shown.stderr).toBe(0);
  const vm = JSON.parse(shown.stdout) as {
    folder: string;
    config: { bootOrder: string[] };
    disks: { path: string; virtualSizeBytes: number }[];
  };
  expect(vm.disks).toHaveLength(1);
  expect(vm.disks[0]!.path.startsWith(vm.folder + path.sep)).toBe(true);
  expect(vm.disks[0]!.virtualSizeBytes).toBe(2 ** 30);
  expect(vm.config.bootOrder[0]).toBe('disk');
  const same = spawnSync('qemu-img', ['compare', vmdk, vm.disks[0]!.path], { encoding: 'utf8' });
  expect(same.status, same.stdout + same.stderr).toBe(0);
  expect(sha(vmdk)).toBe(before);
});
