// The snapshot manager in the web console (Chromium, a real `maru serve`, real QEMU): a running
// VM's Snapshots tab — take two live snapshots (rows with the screen they were taken on), restore
// the first without keeping the current state, see "Current state" move under it, delete the
// second, rename the first from the keyboard; then save and discard the VM's state; its library
// row shows its screen while it runs and the last one after it is powered off; the restore brings
// the earlier screen back (compared pixel by pixel); clone from here makes a new VM. A shorter
// pass in Korean takes and deletes a snapshot. What the UI shows is checked against snapshots.json.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Locator, Page } from '@playwright/test';
import {
  expect as baseExpect,
  logIn,
  shot,
  startOwnServer,
  test,
  TEST_ISO_I386,
  type MaruServer,
} from './maru-server-fixture';

test.describe.configure({ mode: 'serial' });
const expect = baseExpect.configure({ timeout: 30_000 });

const VM = 'Snap e2e';
let maru: MaruServer & { stop(): Promise<void> };
let vmId = '';

test.beforeAll(async () => {
  test.skip(!existsSync(TEST_ISO_I386), 'fixture ISOs missing: run `npm run fixtures` (.ci/run does)');
  test.skip(
    !existsSync('/usr/bin/qemu-system-i386') || !existsSync(path.resolve('dist/engine-host/engine-host.js')),
    'needs QEMU (qemu-system-x86) and the built engine host (node scripts/build.mjs)',
  );
  maru = await startOwnServer('maru-e2e-snapshots-');
  // The host probe (a fresh MARU_HOME's first) boots test guests: done here, not inside a start.
  expect(maru.cli(['host']).status).toBe(0);
  // A disk to snapshot (live snapshots keep RAM in the VM's qcow2 image).
  const made = maru.cli([
    'create',
    '--name',
    VM,
    '--os',
    'linux32',
    '--memory',
    '128',
    '--disk',
    '1',
    '--iso',
    TEST_ISO_I386,
  ]);
  expect(made.status, made.stderr).toBe(0);
  vmId = (JSON.parse(maru.cli(['show', VM, '--json']).stdout) as { config: { id: string } }).config.id;
});
test.afterAll(async () => {
  if (!maru) return;
  maru.cli(['stop', VM, '--force']);
  await maru.stop();
});

/** The tree as (name, level) pairs, top to bottom. */
async function treeShape(tree: Locator): Promise<string[]> {
  return tree
    .getByRole('treeitem')
    .evaluateAll((items) =>
      items.map((i) => `${i.querySelector('.snapshot-name')?.textContent ?? '?'}@${i.getAttribute('aria-level')}`),
    );
}

interface StoredTree {
  currentId: string | null;
  snapshots: { id: string; name: string; description: string; parentId: string | null; kind: string }[];
}

/** The VM's serial log so far (the test guest reports there what it does). */
function serialText(): string {
  const log = path.join(maru.home, 'vms', vmId, 'logs', 'serial.log');
  return existsSync(log) ? readFileSync(log, 'latin1') : '';
}

function stored(): StoredTree {
  return JSON.parse(readFileSync(path.join(maru.home, 'vms', vmId, 'snapshots.json'), 'utf8')) as StoredTree;
}

test('snapshots of a running VM: take, restore, delete, edit; then save and discard its state', async ({ page }) => {
  test.setTimeout(420_000);
  await logIn(page, maru);
  const row = page.getByRole('listbox', { name: 'Virtual machines' }).getByRole('option', { name: new RegExp(VM) });
  await row.click();
  const details = page.getByRole('region', { name: 'Details' });
  await details.getByRole('button', { name: 'Start', exact: true }).click();
  await expect(row).toContainText('Running', { timeout: 120_000 });
  // The row shows the VM's screen while it runs: a real decoded PNG in place of the OS icon.
  const rowScreen = row.getByRole('img', { name: `Screen of “${VM}”` });
  await expect(rowScreen).toBeVisible();
  await expect.poll(() => rowScreen.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);

  // The guest's boot output has ended (its last lines: the pointing devices found): a quiet screen.
  await expect
    .poll(() => /MARU-POINTER=[\s\S]*MARU-MOUSE=|MARU-MOUSE=[\s\S]*MARU-POINTER=/.test(serialText()), {
      timeout: 120_000,
    })
    .toBe(true);

  await details.getByRole('tab', { name: 'Snapshots' }).click();
  const pane = details.getByRole('region', { name: 'Snapshots', exact: true });
  const tree = pane.getByRole('tree', { name: `Snapshots of “${VM}”` });
  await expect(pane).toContainText('No snapshots yet.');
  await expect(tree.getByRole('treeitem', { name: 'Current state' })).toHaveAttribute('aria-level', '1');
  const take = pane.getByRole('button', { name: 'Take…' });

  // Take: the name is prefilled "Snapshot 1"; a description goes with it.
  await take.click();
  const takeDialog = page.getByRole('dialog', { name: `Take a snapshot of “${VM}”` });
  await expect(takeDialog.getByLabel('Name')).toHaveValue('Snapshot 1');
  await expect(takeDialog).toContainText('the snapshot keeps its memory too');
  await takeDialog.getByLabel('Description').fill('Booted from the test ISO');
  await takeDialog.getByRole('button', { name: 'Take snapshot' }).click();
  await expect(takeDialog).toBeHidden();
  await expect(pane.getByRole('status').filter({ hasText: 'Took the snapshot “Snapshot 1”.' })).toBeVisible({
    timeout: 120_000,
  });
  const first = tree.getByRole('treeitem', { name: 'Snapshot 1', exact: true });
  await expect(first).toHaveAttribute('aria-level', '1');
  await expect(first).toContainText('Live (with memory)');
  await expect(first).toContainText('Booted from the test ISO');
  // The screen it was taken on, as a real decoded PNG (asked for once the row is in view).
  await first.scrollIntoViewIfNeeded();
  const thumb = first.getByRole('img', { name: 'Screen of “Snapshot 1” when it was taken' });
  await expect(thumb).toBeVisible();
  await expect.poll(() => thumb.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
  await expect(tree.getByRole('treeitem', { name: 'Current state' })).toHaveAttribute('aria-level', '2');
  await expect(pane.getByRole('alert')).toHaveCount(0);
  await shot(page, 'en-snapshot-taken');

  // The guest's screen changes (it echoes typed text) before the second one.
  const typed = maru.cli(['send-keys', VM, `${'after-one '.repeat(6).trim()}\n`]);
  expect(typed.status, typed.stderr).toBe(0);
  await expect
    .poll(() => serialText().includes(`MARU-KEY:${'after-one '.repeat(6).trim()}`), { timeout: 60_000 })
    .toBe(true);

  // A second one, after the first: "Snapshot 2" under "Snapshot 1", the current state under it.
  await take.click();
  await expect(takeDialog.getByLabel('Name')).toHaveValue('Snapshot 2');
  await takeDialog.getByRole('button', { name: 'Take snapshot' }).click();
  await expect(pane.getByRole('status').filter({ hasText: 'Took the snapshot “Snapshot 2”.' })).toBeVisible({
    timeout: 120_000,
  });
  await expect.poll(() => treeShape(tree)).toEqual(['Snapshot 1@1', 'Snapshot 2@2', 'Current state@3']);
  const second = tree.getByRole('treeitem', { name: 'Snapshot 2' });
  await second.scrollIntoViewIfNeeded();
  await expect(second.getByRole('img', { name: /Screen of “Snapshot 2”/ })).toBeVisible();

  // Restore the first, without keeping the current state: no third snapshot; the current state
  // moves under "Snapshot 1" (its last child); the VM runs on.
  await first.click();
  await pane.getByRole('button', { name: 'Restore…' }).click();
  const restoreDialog = page.getByRole('dialog', { name: 'Restore “Snapshot 1”?' });
  const keep = restoreDialog.getByRole('checkbox', { name: 'Take a snapshot of the current state first' });
  await expect(keep).toBeChecked();
  await keep.uncheck();
  await shot(page, 'en-snapshot-restore');
  await restoreDialog.getByRole('button', { name: 'Restore', exact: true }).click();
  await expect(
    pane.getByRole('status').filter({ hasText: 'Restored “Snapshot 1”: the VM runs on from there.' }),
  ).toBeVisible({ timeout: 120_000 });
  await expect.poll(() => treeShape(tree)).toEqual(['Snapshot 1@1', 'Snapshot 2@2', 'Current state@2']);
  await expect(row).toContainText('Running');
  expect(stored().currentId).toBe(stored().snapshots.find((s) => s.name === 'Snapshot 1')?.id);
  // The earlier screen is back: the row's live screen matches the one "Snapshot 1" was taken on
  // (but for the blinking cursor), and not the one of "Snapshot 2", which showed the typed text.
  const shotOne = first.getByRole('img', { name: /Screen of “Snapshot 1”/ });
  const shotTwo = second.getByRole('img', { name: /Screen of “Snapshot 2”/ });
  expect(await screenDiff(page, shotOne, shotTwo)).toBeGreaterThan(0.003);
  await expect.poll(() => screenDiff(page, rowScreen, shotOne), { timeout: 60_000 }).toBeLessThan(0.0005);

  // Delete the second.
  await second.click();
  await pane.getByRole('button', { name: 'Delete…' }).click();
  const deleteDialog = page.getByRole('dialog', { name: 'Delete the snapshot “Snapshot 2”?' });
  await expect(deleteDialog.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await deleteDialog.getByRole('button', { name: 'Delete', exact: true }).click();
  await expect(pane.getByRole('status').filter({ hasText: 'Deleted the snapshot “Snapshot 2”.' })).toBeVisible({
    timeout: 60_000,
  });
  await expect.poll(() => treeShape(tree)).toEqual(['Snapshot 1@1', 'Current state@2']);

  // Edit the first from the keyboard: arrows move through the tree, Enter edits.
  await tree.getByRole('treeitem', { name: 'Current state' }).click();
  await page.keyboard.press('ArrowUp');
  await expect(first).toBeFocused();
  await expect(first).toHaveAttribute('aria-selected', 'true');
  await page.keyboard.press('Enter');
  const editDialog = page.getByRole('dialog', { name: 'Edit the snapshot “Snapshot 1”' });
  await editDialog.getByLabel('Name').fill('   ');
  await editDialog.getByRole('button', { name: 'Save' }).click();
  await expect(editDialog.getByRole('alert')).toHaveText('Enter a name.');
  await editDialog.getByLabel('Name').fill('Booted shell');
  await editDialog.getByRole('button', { name: 'Save' }).click();
  await expect(editDialog).toBeHidden();
  await expect(tree.getByRole('treeitem', { name: 'Booted shell', exact: true })).toBeVisible();
  expect(stored().snapshots.map((s) => [s.name, s.description, s.kind])).toEqual([
    ['Booted shell', 'Booted from the test ISO', 'live'],
  ]);
  await shot(page, 'en-snapshots-done');

  // Save state: the VM is saved; discarding the saved state (asked first) powers it off for good.
  await details.getByRole('button', { name: 'Save state' }).click();
  await expect(row).toContainText('Saved', { timeout: 120_000 });
  await details.getByRole('button', { name: 'Discard saved state…' }).click();
  const discard = page.getByRole('dialog', { name: `Discard the saved state of “${VM}”?` });
  await expect(discard.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await discard.getByRole('button', { name: 'Discard' }).click();
  await expect(page.getByRole('status').filter({ hasText: `Discarded the saved state of “${VM}”` })).toBeVisible();
  await expect(row).toContainText('Powered off');
  await expect(details.getByRole('button', { name: 'Save state' })).toBeDisabled();
  await expect(page.getByRole('alert')).toHaveCount(0);

  // Started again and powered off: the row keeps showing the screen the VM had (kept at the stop).
  const lastScreen = path.join(maru.home, 'vms', vmId, 'last-screen.png');
  rmSync(lastScreen, { force: true });
  await details.getByRole('button', { name: 'Start', exact: true }).click();
  await expect(row).toContainText('Running', { timeout: 120_000 });
  await details.getByRole('button', { name: 'Power off', exact: true }).click();
  await expect(row).toContainText('Powered off', { timeout: 60_000 });
  expect(existsSync(lastScreen)).toBe(true);
  // A fresh page knows nothing of the live screen: what it shows is the kept one.
  await page.reload();
  await expect(row).toContainText('Powered off');
  await expect(rowScreen).toBeVisible();
  await expect.poll(() => rowScreen.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
  await shot(page, 'en-row-last-screen');

  // Clone from here: a new VM at "Booted shell" (a live snapshot: the clone resumes from it).
  await row.click();
  await details.getByRole('tab', { name: 'Snapshots' }).click();
  const booted = tree.getByRole('treeitem', { name: 'Booted shell', exact: true });
  await booted.click();
  await pane.getByRole('button', { name: 'Clone…' }).click();
  const cloneDialog = page.getByRole('dialog', { name: 'Clone the VM at “Booted shell”' });
  await expect(cloneDialog.getByLabel('Name of the new VM')).toHaveValue(`${VM} at Booted shell`);
  await cloneDialog.getByLabel('Name of the new VM').fill('Cloned at shell');
  await cloneDialog.getByRole('button', { name: 'Clone', exact: true }).click();
  await expect(
    pane.getByRole('status').filter({ hasText: 'Cloned the VM at “Booted shell” as “Cloned at shell”.' }),
  ).toBeVisible({ timeout: 120_000 });
  const cloneRow = page
    .getByRole('listbox', { name: 'Virtual machines' })
    .getByRole('option', { name: /Cloned at shell/ });
  await expect(cloneRow).toContainText('Saved');
  await shot(page, 'en-snapshot-cloned');
});

/**
 * The share of pixels that differ between two screens shown as images on the page (1 when
 * their sizes differ), decoded and compared in the page.
 */
async function screenDiff(page: Page, a: Locator, b: Locator): Promise<number> {
  const sources = [await a.getAttribute('src'), await b.getAttribute('src')];
  return page.evaluate(async ([x, y]) => {
    const load = async (src: string | null) => {
      const img = new Image();
      img.src = src ?? '';
      await img.decode();
      return img;
    };
    const [ia, ib] = await Promise.all([load(x!), load(y!)]);
    if (ia.naturalWidth !== ib.naturalWidth || ia.naturalHeight !== ib.naturalHeight) return 1;
    const w = ia.naturalWidth;
    const h = ia.naturalHeight;
    const pixels = (img: HTMLImageElement) => {
      const c = document.createElement('canvas');
      c.width = w;
      c.height = h;
      const g = c.getContext('2d')!;
      g.drawImage(img, 0, 0);
      return g.getImageData(0, 0, w, h).data;
    };
    const pa = pixels(ia);
    const pb = pixels(ib);
    let differ = 0;
    for (let i = 0; i < pa.length; i += 4) {
      if (pa[i] !== pb[i] || pa[i + 1] !== pb[i + 1] || pa[i + 2] !== pb[i + 2]) differ++;
    }
    return differ / (w * h);
  }, sources);
}

async function koreanPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext({ locale: 'ko-KR' });
  return context.newPage();
}

test('Korean: take and delete a snapshot', async ({ browser }) => {
  const page = await koreanPage(browser);
  await logIn(page, maru, '로그인', '비밀번호');
  await page
    .getByRole('listbox', { name: '가상 머신' })
    .getByRole('option', { name: new RegExp(VM) })
    .click();
  const details = page.getByRole('region', { name: '상세 정보' });
  await details.getByRole('tab', { name: '스냅샷' }).click();
  const pane = details.getByRole('region', { name: '스냅샷', exact: true });
  const tree = pane.getByRole('tree', { name: `“${VM}”의 스냅샷` });
  await expect(tree.getByRole('treeitem', { name: 'Booted shell' })).toBeVisible();

  // The VM is off now: a disk-only snapshot, named "스냅샷 2" (one exists).
  await pane.getByRole('button', { name: '스냅샷 찍기…' }).click();
  const takeDialog = page.getByRole('dialog', { name: `“${VM}”의 스냅샷 찍기` });
  await expect(takeDialog.getByLabel('이름')).toHaveValue('스냅샷 2');
  await expect(takeDialog).toContainText('가상 머신이 꺼져 있습니다.');
  await takeDialog.getByRole('button', { name: '스냅샷 찍기', exact: true }).click();
  await expect(pane.getByRole('status').filter({ hasText: '스냅샷 “스냅샷 2”을(를) 찍었습니다.' })).toBeVisible({
    timeout: 60_000,
  });
  const second = tree.getByRole('treeitem', { name: '스냅샷 2', exact: true });
  await expect(second).toContainText('디스크만');
  await expect.poll(() => treeShape(tree)).toEqual(['Booted shell@1', '스냅샷 2@2', '현재 상태@3']);
  await shot(page, 'ko-snapshot-taken');

  await second.click();
  await pane.getByRole('button', { name: '삭제…' }).click();
  const deleteDialog = page.getByRole('dialog', { name: '스냅샷 “스냅샷 2”을(를) 삭제할까요?' });
  await deleteDialog.getByRole('button', { name: '삭제', exact: true }).click();
  await expect(pane.getByRole('status').filter({ hasText: '스냅샷 “스냅샷 2”을(를) 삭제했습니다.' })).toBeVisible({
    timeout: 60_000,
  });
  await expect(second).toHaveCount(0);
  await expect.poll(() => treeShape(tree)).toEqual(['Booted shell@1', '현재 상태@2']);
  await expect(page.getByRole('alert')).toHaveCount(0);
  // No English left in the tab (the user's own snapshot name aside).
  const text = (await pane.innerText()).replace('Booted shell', '').replace('Booted from the test ISO', '');
  expect(text).not.toMatch(/\b(Snapshot|Take|Restore|Delete|Edit|Current state|Live|Disk only)\b/);
  await shot(page, 'ko-snapshot-deleted');
  await page.context().close();
});
