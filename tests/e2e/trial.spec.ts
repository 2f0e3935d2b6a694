// "Try it on a copy" and linked clones in the web console (Chromium, a real `maru serve`, real
// QEMU): a powered-off VM is tried on a copy — the trial appears running with its banner — and
// discarded; tried again and kept (an ordinary VM now), then deleted; a linked clone made from the
// Clone dialog says whose it is; a Korean pass. What the UI shows is checked against the library.
import { existsSync } from 'node:fs';
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

const VM = 'Trial e2e';
const LINKED = 'Trial e2e linked';
let maru: MaruServer & { stop(): Promise<void> };
let vmId = '';

interface ListedVm {
  kind: string;
  id: string;
  name?: string;
  state?: string;
}

interface ShownVm {
  config: { id: string; name: string; linkedClone?: { sourceId: string; trial: boolean } };
}

function listed(): ListedVm[] {
  const r = maru.cli(['list', '--json']);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as ListedVm[];
}

function shown(ref: string): ShownVm {
  const r = maru.cli(['show', ref, '--json']);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as ShownVm;
}

test.beforeAll(async () => {
  test.skip(!existsSync(TEST_ISO_I386), 'fixture ISOs missing: run `npm run fixtures` (.ci/run does)');
  test.skip(
    !existsSync('/usr/bin/qemu-system-i386') ||
      !existsSync('/usr/bin/qemu-img') ||
      !existsSync(path.resolve('dist/engine-host/engine-host.js')),
    'needs QEMU (qemu-system-x86, qemu-utils) and the built engine host (node scripts/build.mjs)',
  );
  maru = await startOwnServer('maru-e2e-trial-');
  // The host probe (a fresh MARU_HOME's first) boots test guests: done here, not inside a start.
  expect(maru.cli(['host']).status).toBe(0);
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
  vmId = shown(VM).config.id;
});
test.afterAll(async () => {
  if (!maru) return;
  for (const vm of listed()) {
    if (vm.kind === 'ok' && vm.state !== 'off') maru.cli(['stop', vm.id, '--force']);
  }
  await maru.stop();
});

/** The library row of exactly this VM name (a trial's name may contain its source's). */
function row(page: Page, list: Locator, name: string): Locator {
  return list.getByRole('option').filter({ has: page.locator('.vm-name').getByText(name, { exact: true }) });
}

/**
 * Clicks "Try it on a copy…" on the selected (powered-off) VM and confirms: the trial is made,
 * started and selected. Returns its name (the details pane's heading).
 */
async function tryOnCopy(page: Page, details: Locator, t: { button: string; title: string; confirm: string }) {
  const button = details.getByRole('button', { name: t.button });
  await expect(button).toBeEnabled();
  await button.click();
  const dialog = page.getByRole('dialog', { name: t.title });
  await dialog.getByRole('button', { name: t.confirm }).click();
  await expect(dialog).toBeHidden({ timeout: 120_000 });
  const heading = details.getByRole('heading', { level: 2 });
  await expect(heading).not.toHaveText(VM);
  return (await heading.innerText()).trim();
}

test('try it on a copy: the trial runs with its banner; Discard removes it; Keep makes it a VM of its own', async ({
  page,
}) => {
  await logIn(page, maru);
  const list = page.getByRole('listbox', { name: 'Virtual machines' });
  const source = row(page, list, VM);
  await source.click();
  const details = page.getByRole('region', { name: 'Details' });
  await expect(source).toContainText('Powered off');
  await expect(details.getByRole('button', { name: 'Try it on a copy…' })).toHaveAttribute(
    'title',
    'Makes a linked copy of this VM and starts it; afterwards you keep the copy or discard it.',
  );

  // The confirmation explains what happens; the trial is then made, started and selected.
  await details.getByRole('button', { name: 'Try it on a copy…' }).click();
  const ask = page.getByRole('dialog', { name: `Try “${VM}” on a copy?` });
  await expect(ask).toContainText('keep the copy as a VM of its own or discard it');
  await shot(page, 'en-try-confirm');
  await ask.getByRole('button', { name: 'Cancel' }).click();
  await expect(ask).toBeHidden();
  const en = { button: 'Try it on a copy…', title: `Try “${VM}” on a copy?`, confirm: 'Start the trial' };
  const first = await tryOnCopy(page, details, en);
  await expect(
    page.getByRole('status').filter({ hasText: `Started “${first}”, a trial copy of “${VM}”.` }),
  ).toBeVisible();
  const firstRow = row(page, list, first);
  await expect(firstRow).toContainText('Running', { timeout: 120_000 });
  const banner = details.getByRole('region', { name: `Trial of “${VM}”` });
  await expect(banner).toBeVisible();
  await expect(banner).toContainText(`What you change here leaves “${VM}” as it was.`);
  // A running VM is not tried on a copy (the trial itself runs).
  await expect(details.getByRole('button', { name: 'Try it on a copy…' })).toBeDisabled();
  const firstId = shown(first).config.id;
  expect(shown(first).config.linkedClone).toEqual({ sourceId: vmId, trial: true });
  await shot(page, 'en-trial-running');

  // Discard (asked first, Cancel focused): the trial and its disks go; the source is selected again.
  await banner.getByRole('button', { name: 'Discard…' }).click();
  const discard = page.getByRole('dialog', { name: `Discard “${first}”?` });
  await expect(discard).toContainText('deleted for good');
  await expect(discard.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await discard.getByRole('button', { name: 'Discard', exact: true }).click();
  await expect(
    page.getByRole('status').filter({ hasText: `Discarded the trial “${first}” and its disks.` }),
  ).toBeVisible({ timeout: 120_000 });
  await expect(firstRow).toHaveCount(0);
  expect(listed().some((v) => v.id === firstId)).toBe(false);
  expect(existsSync(path.join(maru.home, 'vms', firstId))).toBe(false);
  await expect(details.getByRole('heading', { level: 2 })).toHaveText(VM);
  await expect(source).toContainText('Powered off');

  // Again, and Keep: the banner goes, the VM stays — an ordinary VM now.
  const second = await tryOnCopy(page, details, en);
  const secondRow = row(page, list, second);
  await expect(secondRow).toContainText('Running', { timeout: 120_000 });
  await banner.getByRole('button', { name: 'Keep…' }).click();
  const keep = page.getByRole('dialog', { name: `Keep “${second}”?` });
  await expect(keep).toContainText('becomes an independent VM');
  await shot(page, 'en-trial-keep');
  await keep.getByRole('button', { name: 'Keep', exact: true }).click();
  await expect(page.getByRole('status').filter({ hasText: `“${second}” is now an independent VM.` })).toBeVisible({
    timeout: 180_000,
  });
  await expect(banner).toHaveCount(0);
  await expect(details).not.toContainText('Linked clone of');
  await expect(details.getByRole('heading', { level: 2 })).toHaveText(second);
  await expect(secondRow).toBeVisible();
  expect(shown(second).config.linkedClone).toBeUndefined();
  await expect(page.getByRole('alert')).toHaveCount(0);
  await shot(page, 'en-trial-kept');

  // It is deleted like any VM: powered off, then deleted with its disks.
  await details.getByRole('button', { name: 'Power off', exact: true }).click();
  await expect(secondRow).toContainText('Powered off', { timeout: 60_000 });
  await details.getByRole('button', { name: 'Delete…' }).click();
  const del = page.getByRole('dialog', { name: `Delete “${second}”?` });
  await del.getByRole('checkbox', { name: 'Delete its disks too' }).check();
  await del.getByRole('button', { name: 'Delete', exact: true }).click();
  await expect(secondRow).toHaveCount(0);
  expect(listed().map((v) => v.name)).toEqual([VM]);
});

test('a linked clone from the Clone dialog says whose it is', async ({ page }) => {
  await logIn(page, maru);
  const list = page.getByRole('listbox', { name: 'Virtual machines' });
  await row(page, list, VM).click();
  const details = page.getByRole('region', { name: 'Details' });
  await details.getByRole('button', { name: 'Clone…' }).click();
  const dialog = page.getByRole('dialog', { name: `Clone “${VM}”` });
  const linked = dialog.getByRole('checkbox', { name: 'Linked clone (shares the disks, made in a second)' });
  await expect(linked).toBeEnabled();
  await expect(linked).not.toBeChecked();
  await linked.check();
  await dialog.getByLabel('Name of the clone').fill(LINKED);
  await shot(page, 'en-linked-clone-dialog');
  await dialog.getByRole('button', { name: 'Clone', exact: true }).click();
  await expect(page.getByRole('status').filter({ hasText: `Created the linked clone “${LINKED}”.` })).toBeVisible({
    timeout: 60_000,
  });
  await expect(details.getByRole('heading', { level: 2 })).toHaveText(LINKED);
  const note = details.getByRole('note', { name: `Linked clone of “${VM}”` });
  await expect(note).toBeVisible();
  // Not a trial: no Keep / Discard.
  await expect(details.getByRole('button', { name: 'Keep…' })).toHaveCount(0);
  await expect(row(page, list, LINKED)).toContainText('Powered off');
  expect(shown(LINKED).config.linkedClone).toEqual({ sourceId: vmId, trial: false });
  await shot(page, 'en-linked-clone');
});

async function koreanPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext({ locale: 'ko-KR' });
  return context.newPage();
}

test('Korean: try on a copy, the trial banner, discard; a linked clone’s banner', async ({ browser }) => {
  const page = await koreanPage(browser);
  await logIn(page, maru, '로그인', '비밀번호');
  const list = page.getByRole('listbox', { name: '가상 머신' });
  await row(page, list, VM).click();
  const details = page.getByRole('region', { name: '상세 정보' });
  const trial = await tryOnCopy(page, details, {
    button: '사본에서 시험해 보기…',
    title: `“${VM}”을(를) 사본에서 시험해 볼까요?`,
    confirm: '시험 시작',
  });
  const trialRow = row(page, list, trial);
  await expect(trialRow).toContainText('실행 중', { timeout: 120_000 });
  const banner = details.getByRole('region', { name: `“${VM}”의 시험본` });
  await expect(banner).toBeVisible();
  await expect(banner.getByRole('button', { name: '유지…' })).toBeVisible();
  // No English left in the banner.
  expect((await banner.innerText()).replaceAll(VM, '')).not.toMatch(/\b(Trial|Keep|Discard|copy)\b/i);
  await shot(page, 'ko-trial-running');

  await banner.getByRole('button', { name: '폐기…' }).click();
  const discard = page.getByRole('dialog', { name: `“${trial}”을(를) 폐기할까요?` });
  await discard.getByRole('button', { name: '폐기', exact: true }).click();
  await expect(trialRow).toHaveCount(0, { timeout: 120_000 });
  await expect(
    page.getByRole('status').filter({ hasText: `시험본 “${trial}”과(와) 디스크를 폐기했습니다.` }),
  ).toBeVisible();

  await row(page, list, LINKED).click();
  await expect(details.getByRole('note', { name: `“${VM}”의 연결된 복제본` })).toBeVisible();
  await expect(page.getByRole('alert')).toHaveCount(0);
  await shot(page, 'ko-linked-clone');
  await page.context().close();
});
