// The media manager in the web console (Chromium, a real `maru serve` of its own): a second hard
// disk and a floppy drive holding a new floppy image are added in the VM's settings (Storage),
// then the media manager lists them with their VM and drive; the floppy goes missing on the host
// and is shown so, then released; an orphan imported disk is removed (after the confirmation)
// and is gone from the list and from the disk. What the UI shows is checked against the CLI.
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import type { Page } from '@playwright/test';
import { expect as baseExpect, logIn, shot, startOwnServer, test, type MaruServer } from './maru-server-fixture';

test.describe.configure({ mode: 'serial' });
const expect = baseExpect.configure({ timeout: 30_000 });

const VM = 'Media e2e';
let maru: MaruServer & { stop(): Promise<void> };
let orphan = '';
let floppy = '';

interface Drive {
  readonly id: string;
  readonly type: string;
  readonly medium: string | null;
}

function drives(): Drive[] {
  const r = maru.cli(['storage', VM, 'list', '--json']);
  expect(r.status, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { drives: Drive[] }).drives;
}

test.beforeAll(async () => {
  test.skip(spawnSync('which', ['qemu-img']).status !== 0, 'needs qemu-img (qemu-utils)');
  maru = await startOwnServer('maru-e2e-media-');
  const made = maru.cli(['create', '--name', VM, '--os', 'linux64', '--engine', 'qemu', '--disk', '1']);
  expect(made.status, made.stderr).toBe(0);
  // An orphan: a small qcow2 imported into $MARU_HOME/disks and attached to nothing.
  const source = path.join(maru.home, 'orphan-source.qcow2');
  const img = spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', source, '16M'], { encoding: 'utf8' });
  expect(img.status, img.stderr).toBe(0);
  const imported = maru.cli(['disk', 'import', source, '--name', 'e2e-orphan']);
  expect(imported.status, imported.stderr).toBe(0);
  orphan = path.join(maru.home, 'disks', 'e2e-orphan.qcow2');
  // The UI attaches floppy images but does not make them: `maru floppy create` does.
  floppy = path.join(maru.home, 'disks', 'e2e-floppy.img');
  const fd = maru.cli(['floppy', 'create', floppy]);
  expect(fd.status, fd.stderr).toBe(0);
  // A VM whose settings cannot be read: the media manager says so above its tabs.
  const broken = maru.cli(['create', '--name', 'Broken e2e', '--os', 'linux64', '--disk', '0', '--json']);
  expect(broken.status, broken.stderr).toBe(0);
  const brokenId = (JSON.parse(broken.stdout) as { vm: { config: { id: string } } }).vm.config.id;
  writeFileSync(path.join(maru.home, 'vms', brokenId, 'vm.json'), '{ broken');
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

test('a second disk and a floppy added in Storage are listed; a missing floppy released; an orphan removed', async ({
  page,
}) => {
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: maru.url });
  await logIn(page, maru);
  await row(page, VM).click();

  // The VM's settings, Storage: a new 1 GiB disk, then a floppy drive with the new image in it.
  await page.getByRole('button', { name: 'Settings…' }).click();
  const settings = page.getByRole('dialog', { name: `Settings of “${VM}”` });
  const storage = settings.getByRole('group', { name: 'Storage' });
  await storage.getByLabel('Size (GiB)').fill('1');
  await storage.getByRole('button', { name: 'Add', exact: true }).click();
  await expect(storage.getByRole('row').filter({ hasText: 'disk1' })).toContainText('1 GiB');
  await storage.getByLabel('Add a drive').selectOption({ label: 'Floppy drive' });
  await storage.getByLabel('Floppy image path', { exact: true }).fill(floppy);
  await storage.getByRole('button', { name: 'Add', exact: true }).click();
  await expect(storage.getByRole('row').filter({ hasText: 'fd0' })).toContainText(floppy);
  await shot(page, 'media-settings-storage');
  await settings.getByRole('button', { name: 'Save' }).click();
  await expect(settings).toBeHidden();

  const stored = drives();
  const disk1 = stored.find((d) => d.id === 'disk1');
  expect(disk1?.type).toBe('hdd');
  expect(stored.find((d) => d.id === 'fd0')?.medium).toBe(floppy);
  const disk1Path = disk1!.medium!;

  // The media manager: the hard disks (the first disk, the new one, the orphan).
  await page.getByRole('button', { name: 'Media…' }).click();
  const media = page.getByRole('dialog', { name: 'Media manager' });
  await expect(media.getByRole('status').filter({ hasText: 'Some files could not be read' })).toContainText(
    'cannot be read',
  );
  const hddTab = media.getByRole('tab', { name: 'Hard disks (3)' });
  await expect(hddTab).toHaveAttribute('aria-selected', 'true');
  const grid = media.getByRole('grid');
  const second = grid.getByRole('row').filter({ hasText: 'disk1.qcow2' });
  await expect(second).toContainText(`${VM} (disk1)`);
  await expect(second).toContainText('In use');
  await expect(second).toContainText('1 GiB');
  await expect(second.locator('[title]')).toHaveAttribute('title', disk1Path);
  await second.click();
  await expect(second).toHaveAttribute('aria-selected', 'true');
  const details = media.getByRole('region', { name: 'Selected medium' });
  await expect(details).toContainText(disk1Path);
  await expect(details).toContainText('In a VM’s folder');
  await expect(details).toContainText(`${VM} (disk1) — Powered off`);
  const actions = details.getByRole('group', { name: 'Actions for disk1.qcow2' });
  await expect(actions.getByRole('button', { name: 'Release' })).toBeEnabled();
  await expect(actions.getByRole('button', { name: 'Remove…' })).toBeDisabled();
  await expect(details).toContainText('It is in use: release it');
  // The web console has no file manager: Copy path puts the full path on the clipboard.
  await actions.getByRole('button', { name: 'Copy path' }).click();
  await expect(details).toContainText(`Copied ${disk1Path} to the clipboard.`);
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(disk1Path);
  // The keyboard moves the selection (rows are sorted by path: disks/ before vms/).
  await second.press('ArrowUp');
  await expect(grid.getByRole('row').filter({ hasText: 'disk0.qcow2' })).toHaveAttribute('aria-selected', 'true');
  await expect(grid.getByRole('row').filter({ hasText: 'disk0.qcow2' })).toBeFocused();
  await shot(page, 'media-hard-disks');

  // Floppy images (reached with the arrow keys from the first tab).
  await hddTab.focus();
  await page.keyboard.press('ArrowLeft');
  const fddTab = media.getByRole('tab', { name: 'Floppy images (1)' });
  await expect(fddTab).toHaveAttribute('aria-selected', 'true');
  await expect(fddTab).toBeFocused();
  const floppyRow = grid.getByRole('row').filter({ hasText: 'e2e-floppy.img' });
  await expect(floppyRow).toContainText(`${VM} (fd0)`);
  await expect(floppyRow).toContainText('In use');
  await expect(floppyRow.getByRole('gridcell').nth(1)).toHaveText('img');

  // The image goes away on the host: after Refresh it is MISSING, highlighted, with the reason.
  rmSync(floppy);
  await media.getByRole('button', { name: 'Refresh' }).click();
  await expect(floppyRow).toContainText('MISSING');
  await expect(floppyRow).toHaveClass(/status-missing/);
  await expect(floppyRow).toContainText(`The file is missing; it is used by "${VM}".`);
  await floppyRow.click();
  await expect(details).toContainText('The file is missing');
  await shot(page, 'media-floppy-missing');
  // Release takes it out of the drive; nothing refers to it any more, so it leaves the list.
  await details.getByRole('button', { name: 'Release' }).click();
  await expect(details.getByRole('status')).toContainText(`Released “e2e-floppy.img” from ${VM} (fd0).`);
  await expect(media.getByText('No floppy images.')).toBeVisible();
  expect(drives().find((d) => d.id === 'fd0')?.medium).toBeNull();

  // The orphan: Remove asks first, naming the file, then deletes it.
  await hddTab.click();
  const orphanRow = grid.getByRole('row').filter({ hasText: 'e2e-orphan.qcow2' });
  await expect(orphanRow).toContainText('Orphan');
  await expect(orphanRow).toContainText('16 MiB');
  await orphanRow.click();
  await expect(details).toContainText('Maru’s disks folder (imported images)');
  await expect(details.getByRole('button', { name: 'Release' })).toBeDisabled();
  await details.getByRole('button', { name: 'Remove…' }).click();
  const confirm = details.getByRole('group', { name: 'Delete “e2e-orphan.qcow2” for good?' });
  await expect(confirm).toContainText(orphan);
  await expect(confirm.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await shot(page, 'media-remove-confirm');
  await confirm.getByRole('button', { name: 'Delete' }).click();
  await expect(details.getByRole('status')).toContainText('Deleted “e2e-orphan.qcow2”.');
  await expect(orphanRow).toHaveCount(0);
  await expect(media.getByRole('tab', { name: 'Hard disks (2)' })).toBeVisible();
  expect(existsSync(orphan)).toBe(false);
  const listed = maru.cli(['media', 'list', '--json']);
  expect(listed.status, listed.stderr).toBe(0);
  expect((JSON.parse(listed.stdout) as { media: { path: string }[] }).media.map((m) => m.path)).not.toContain(orphan);
  await shot(page, 'media-removed');

  await media.getByRole('button', { name: 'Close' }).click();
  await expect(media).toBeHidden();

  // The same in Korean.
  await page.getByLabel('Language').selectOption('ko');
  await page.getByRole('button', { name: '미디어 관리자…' }).click();
  const ko = page.getByRole('dialog', { name: '미디어 관리자' });
  await expect(ko.getByRole('tab', { name: '하드 디스크 (2)' })).toHaveAttribute('aria-selected', 'true');
  await expect(ko.getByRole('grid').getByRole('row').filter({ hasText: 'disk1.qcow2' })).toContainText(`${VM}의 disk1`);
  await expect(ko.getByRole('grid').getByRole('row').filter({ hasText: 'disk1.qcow2' })).toContainText('사용 중');
  await shot(page, 'media-korean');
});
