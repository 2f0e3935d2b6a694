// Export… and Import… in the web console (Chromium, a real `maru serve`): a VM is exported to the
// server's backups folder (the default path the dialog proposes), imported back as a second VM
// (numbered name, selected afterwards), and a broken VM is restored over from the archive with
// "Restore from a backup…". Export and import show their progress bar. What the UI shows is
// checked against the library through the CLI.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from '@playwright/test';
import { expect as baseExpect, logIn, shot, startOwnServer, test, type MaruServer } from './maru-server-fixture';

test.describe.configure({ mode: 'serial' });
const expect = baseExpect.configure({ timeout: 30_000 });

const VM = 'Backup e2e';
let maru: MaruServer & { stop(): Promise<void> };
let vmId = '';

function listed(): { kind: string; id: string; name?: string }[] {
  const r = maru.cli(['list', '--json']);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { kind: string; id: string; name?: string }[];
}

test.beforeAll(async () => {
  test.skip(!existsSync('/usr/bin/qemu-img'), 'needs qemu-img (qemu-utils)');
  maru = await startOwnServer('maru-e2e-backup-');
  const made = maru.cli(['create', '--name', VM, '--os', 'linux64', '--engine', 'qemu', '--disk', '1', '--json']);
  expect(made.status, made.stderr).toBe(0);
  vmId = (JSON.parse(made.stdout) as { vm: { config: { id: string } } }).vm.config.id;
  // 640 MiB of data in the disk: export and import take long enough for their progress to show.
  const disk = path.join(maru.home, 'vms', vmId, 'disks', 'disk0.qcow2');
  const io = spawnSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x5a 0 640M', disk], { encoding: 'utf8' });
  expect(io.status, io.stderr).toBe(0);
});
test.afterAll(async () => {
  await maru?.stop();
});

function row(page: Page, name: string) {
  return page
    .getByRole('listbox', { name: 'Virtual machines' })
    .getByRole('option')
    .filter({ has: page.locator('.vm-name').getByText(name, { exact: true }) });
}

test('export to the backups folder, import it back, restore over a broken VM', async ({ page }) => {
  await logIn(page, maru);
  await row(page, VM).click();
  const details = page.getByRole('region', { name: 'Details' });
  await details.getByRole('button', { name: 'Export…' }).click();

  const exportDialog = page.getByRole('dialog', { name: `Export “${VM}”` });
  const archive = path.join(maru.home, 'backups', `${VM}.maru`);
  await expect(exportDialog.getByLabel('Archive file')).toHaveValue(archive);
  await exportDialog.getByRole('button', { name: 'Export' }).click();
  // The job's progress bar and its Cancel button while the disk is written.
  await expect(exportDialog.getByRole('progressbar')).toBeVisible();
  await expect(exportDialog.getByRole('status').getByRole('button', { name: 'Cancel' })).toBeVisible();
  await expect(exportDialog.getByRole('status')).toContainText(`Exported to ${archive}`);
  await shot(page, 'backup-exported');
  expect(existsSync(archive)).toBe(true);
  // Again to the same file: refused, the first archive stays.
  await exportDialog.getByRole('button', { name: 'Close' }).click();
  await details.getByRole('button', { name: 'Export…' }).click();
  await page
    .getByRole('dialog', { name: `Export “${VM}”` })
    .getByRole('button', { name: 'Export' })
    .click();
  await expect(page.getByRole('dialog', { name: `Export “${VM}”` })).toContainText('already exists');
  await page
    .getByRole('dialog', { name: `Export “${VM}”` })
    .getByRole('button', { name: 'Cancel' })
    .click();

  // Import it back: a second VM, numbered, selected.
  await page.getByRole('button', { name: 'Import a VM…' }).click();
  const importDialog = page.getByRole('dialog', { name: 'Import a VM' });
  await importDialog.getByLabel('Archive file').fill(archive);
  await importDialog.getByRole('button', { name: 'Import' }).click();
  await expect(importDialog.getByRole('progressbar')).toBeVisible();
  await expect(importDialog).toBeHidden();
  await expect(page.getByText(`Imported the VM “${VM} (2)”.`)).toBeVisible();
  await expect(details.getByRole('heading', { level: 2 })).toHaveText(`${VM} (2)`);
  expect(
    listed()
      .filter((v) => v.kind === 'ok')
      .map((v) => v.name),
  ).toEqual([VM, `${VM} (2)`]);

  // Break the original (its vm.json unreadable) and restore it from the archive.
  writeFileSync(path.join(maru.home, 'vms', vmId, 'vm.json'), '{ broken');
  await page.reload();
  const broken = page
    .getByRole('listbox', { name: 'Virtual machines' })
    .getByRole('option')
    .filter({ hasText: vmId.slice(0, 8) });
  await broken.click();
  await details.getByRole('button', { name: 'Restore from a backup…' }).click();
  const restore = page.getByRole('dialog', { name: /Restore .* from a backup/ });
  await restore.getByLabel('Archive file').fill(archive);
  await shot(page, 'backup-restore-dialog');
  await restore.getByRole('button', { name: 'Restore' }).click();
  await expect(restore).toBeHidden();
  await expect(details.getByRole('heading', { level: 2 })).toHaveText(VM);
  expect(listed().find((v) => v.id === vmId)?.kind).toBe('ok');
});
