// A VM's whole life in the UI: the web console in Chromium against a real `maru serve` of its
// own (the desktop window shows the same page). The new-VM wizard with the Windows 11, Linux
// 64-bit and MS-DOS presets, validation errors (duplicate name, path separator, too much RAM, a
// server-side error), dropping ISOs (detected OS, a non-ISO, a truncated one), the server-side
// ISO picker, settings (RAM, port forwards), the log viewer, the host check page, power (start,
// performance graphs, live CD change, pause, resume, power off) and deleting a VM — in English,
// then the same flows in Korean. Screenshots of every screen are attached to the test results.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Locator, Page } from '@playwright/test';
import { expect as baseExpect, logIn, shot, startOwnServer, test, type MaruServer } from './maru-server-fixture';
import { declaredIsoSizeMiB } from '../fixtures/iso-facts';

test.describe.configure({ mode: 'serial' });
// The host probe (first use of a fresh MARU_HOME) boots test guests: allow it time on a busy machine.
const expect = baseExpect.configure({ timeout: 30_000 });

const FIXTURES = path.resolve('tests/fixtures/build');
const I386_ISO = path.join(FIXTURES, 'maru-test-i386.iso');
const BIOS_UEFI_ISO = path.join(FIXTURES, 'maru-test-bios-uefi.iso');
const NOT_ISO = path.join(FIXTURES, 'not-an-iso.bin');
const TRUNCATED = path.join(FIXTURES, 'truncated.iso');

let maru: MaruServer & { stop(): Promise<void> };
test.beforeAll(async () => {
  test.skip(!existsSync(I386_ISO), 'fixture ISOs missing: run `npm run fixtures` (.ci/run does)');
  maru = await startOwnServer('maru-e2e-ui-');
  // Warm the host probe cache the way a user's first `maru host` would (the UI also starts it).
  maru.cli(['host']);
});
test.afterAll(async () => {
  await maru?.stop();
});

/** Drops a file (bytes of a real file) onto the library, as a browser drag and drop does. */
async function dropFile(page: Page, file: string, name = path.basename(file)): Promise<void> {
  const b64 = readFileSync(file).toString('base64');
  const zone = page.getByTestId('library-drop-zone');
  const dataTransfer = await page.evaluateHandle(
    ({ b64, name }) => {
      const bin = atob(b64);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], name, { type: 'application/octet-stream' }));
      return dt;
    },
    { b64, name },
  );
  await zone.dispatchEvent('dragenter', { dataTransfer });
  await zone.dispatchEvent('dragover', { dataTransfer });
  await zone.dispatchEvent('drop', { dataTransfer });
}

interface Words {
  readonly newVm: string;
  readonly wizard: string;
  readonly next: string;
  readonly create: string;
  readonly name: string;
  readonly memory: string;
  readonly library: string;
}

/** Walks the wizard for a preset; `atFirmware` can look at the firmware step before the summary. */
async function createVm(
  page: Page,
  w: Words,
  preset: string | null,
  name: string,
  opts: { memory?: string; shots?: string; atFirmware?: (dialog: Locator) => Promise<void> } = {},
): Promise<void> {
  await page.getByRole('button', { name: w.newVm }).click();
  const dialog = page.getByRole('dialog', { name: w.wizard });
  if (preset) await dialog.getByRole('radio', { name: preset, exact: true }).check();
  if (opts.shots) await shot(page, `${opts.shots}-1-os`);
  await dialog.getByRole('button', { name: w.next }).click();
  await dialog.getByLabel(w.name, { exact: true }).fill(name);
  if (opts.shots) await shot(page, `${opts.shots}-2-name`);
  await dialog.getByRole('button', { name: w.next }).click();
  if (opts.memory) await dialog.getByLabel(w.memory, { exact: true }).fill(opts.memory);
  if (opts.shots) await shot(page, `${opts.shots}-3-hardware`);
  await dialog.getByRole('button', { name: w.next }).click();
  if (opts.atFirmware) await opts.atFirmware(dialog);
  if (opts.shots) await shot(page, `${opts.shots}-4-firmware`);
  await dialog.getByRole('button', { name: w.next }).click();
  if (opts.shots) await shot(page, `${opts.shots}-5-summary`);
  await dialog.getByRole('button', { name: w.create }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByRole('listbox', { name: w.library })).toContainText(name);
}

const EN: Words = {
  newVm: 'New VM…',
  wizard: 'New virtual machine',
  next: 'Next',
  create: 'Create',
  name: 'Name',
  memory: 'Memory',
  library: 'Virtual machines',
};

const KO: Words = {
  newVm: '새 가상 머신…',
  wizard: '새 가상 머신',
  next: '다음',
  create: '만들기',
  name: '이름',
  memory: '메모리',
  library: '가상 머신',
};

test('wizard: Windows 11, Linux 64-bit and MS-DOS presets, with the Windows 11 readiness check', async ({ page }) => {
  await logIn(page, maru);
  await expect(page.getByText('No virtual machines yet.')).toBeVisible();
  await shot(page, 'en-library-empty');

  await createVm(page, EN, 'Windows 11', 'Win11 e2e', {
    shots: 'en-wizard-win11',
    atFirmware: async (dialog) => {
      const ready = dialog.getByRole('region', { name: 'Ready for Windows 11' });
      await expect(ready).toBeVisible();
      // Turning the TPM off names the unmet requirement and the fix.
      await dialog.getByRole('checkbox', { name: 'TPM 2.0' }).uncheck();
      const notReady = dialog.getByRole('region', { name: /Windows 11 will not install: 1 requirements/ });
      await expect(notReady.locator('[data-requirement="tpm"]')).toContainText('Turn on TPM 2.0.');
      await shot(page, 'en-wizard-win11-unmet');
      await dialog.getByRole('button', { name: 'Fix the VM settings' }).click();
      await expect(ready).toBeVisible();
    },
  });
  const details = page.getByRole('region', { name: 'Details' });
  await expect(details).toContainText('UEFI · Secure Boot · TPM 2.0');
  await expect(details).toContainText('64 GiB');

  await createVm(page, EN, 'Linux (64-bit)', 'Debian e2e', { memory: '1024' });
  await expect(details).toContainText('Linux (64-bit)');
  await expect(details).toContainText('1 GiB');

  await createVm(page, EN, 'MS-DOS / FreeDOS', 'DOS e2e', {
    atFirmware: async (dialog) => {
      await expect(dialog.getByRole('radio', { name: 'BIOS' })).toBeChecked();
    },
  });
  await expect(details).toContainText('Automatic → v86');
  await expect(page.getByRole('listbox', { name: 'Virtual machines' }).getByRole('option')).toHaveCount(3);
  await shot(page, 'en-library-three-vms');
});

test('wizard: validation errors for a duplicate name, a path separator, too much RAM and a server error', async ({
  page,
}) => {
  await logIn(page, maru);
  await page.getByRole('button', { name: 'New VM…' }).click();
  const dialog = page.getByRole('dialog', { name: 'New virtual machine' });
  await dialog.getByRole('radio', { name: 'Linux (64-bit)', exact: true }).check();
  await dialog.getByRole('button', { name: 'Next' }).click();
  const name = dialog.getByLabel('Name', { exact: true });

  await name.fill('win11 E2E');
  await dialog.getByRole('button', { name: 'Next' }).click();
  await expect(dialog.getByRole('alert')).toHaveText('A VM named “Win11 e2e” already exists: choose another name.');
  await expect(name).toHaveAttribute('aria-invalid', 'true');
  await shot(page, 'en-error-duplicate');

  await name.fill('disks/linux');
  await expect(dialog.getByRole('alert')).toHaveText('A name cannot contain “/” or “\\”.');
  await shot(page, 'en-error-separator');

  await name.fill('Linux with errors');
  await dialog.getByLabel('Install ISO').fill('/nonexistent/install.iso');
  await dialog.getByRole('button', { name: 'Next' }).click();
  const memory = dialog.getByLabel('Memory', { exact: true });
  await memory.fill('99999999');
  await dialog.getByRole('button', { name: 'Next' }).click();
  await expect(dialog.getByRole('alert').first()).toContainText('Too much memory: this host has');
  await expect(dialog.getByRole('alert').first()).toContainText('so a VM gets at most');
  await shot(page, 'en-error-memory');
  await memory.fill('2048');
  await expect(dialog.getByRole('alert')).toHaveCount(0);
  await dialog.getByRole('button', { name: 'Next' }).click();
  await dialog.getByRole('button', { name: 'Next' }).click();
  await dialog.getByRole('button', { name: 'Create' }).click();
  // The server's own check of the ISO path (the web console may use only its ISO folders) comes back inline.
  await expect(dialog.getByRole('alert')).toContainText(
    '"/nonexistent/install.iso" is not a file the web console can use: it may only use files in the ISO folders',
  );
  await shot(page, 'en-error-server');
  // Escape closes the wizard; focus goes back to where it was.
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
  await expect(page.getByRole('button', { name: 'New VM…' })).toBeFocused();
});

test('dropping ISOs: the detected OS prefills the wizard; non-ISOs are refused clearly', async ({ page }) => {
  await logIn(page, maru);
  const dialog = page.getByRole('dialog', { name: 'New virtual machine' });

  await dropFile(page, I386_ISO);
  const detection = dialog.getByRole('region', { name: 'Detected from the ISO' });
  await expect(detection).toContainText('Detected: Linux (32-bit)');
  await expect(detection).toContainText('certain');
  await expect(detection).toContainText('label “MARU_TEST_I386”');
  await expect(detection).toContainText('.disk/info: “Maru test medium maru-test-i386 (i386');
  await expect(dialog.getByRole('radio', { name: 'Linux (32-bit)', exact: true })).toBeChecked();
  await shot(page, 'en-drop-detected');
  await dialog.getByRole('button', { name: 'Next' }).click();
  await expect(dialog.getByLabel('Install ISO')).toHaveValue(/isos\/maru-test-i386\.iso$/);
  await dialog.getByLabel('Name', { exact: true }).fill('Dropped i386');
  for (let i = 0; i < 3; i++) await dialog.getByRole('button', { name: 'Next' }).click();
  await dialog.getByRole('button', { name: 'Create' }).click();
  await expect(dialog).toBeHidden();
  const details = page.getByRole('region', { name: 'Details' });
  await expect(details).toContainText('maru-test-i386.iso');
  await expect(details).toContainText('CD/DVD → Hard disk');

  // The hidden file input ("Open ISO…") is the same code path.
  await page.getByTestId('library-iso-input').setInputFiles(BIOS_UEFI_ISO);
  await expect(detection).toContainText('Detected: Linux (64-bit)');
  await expect(detection).toContainText('boots with BIOS + UEFI');
  await page.keyboard.press('Escape');

  // Not an ISO: refused before anything is uploaded.
  await dropFile(page, NOT_ISO);
  await expect(page.getByRole('alert').filter({ hasText: 'not-an-iso.bin' })).toContainText(
    '“not-an-iso.bin” is not an ISO image (no CD001 signature at byte 32769).',
  );
  await shot(page, 'en-drop-not-iso');
  // Looks like an ISO but is cut short: uploaded, rejected by the server's detector, deleted.
  await dropFile(page, TRUNCATED);
  await expect(page.getByRole('alert').filter({ hasText: 'truncated.iso' })).toContainText(
    `truncated.iso is truncated: its volume descriptor says the image holds ${declaredIsoSizeMiB(TRUNCATED)}, but the file has only 40.0 KiB.`,
  );
  expect(readdirSync(path.join(maru.home, 'isos')).sort()).toEqual(['maru-test-bios-uefi.iso', 'maru-test-i386.iso']);

  // Picking an ISO that is already on the server.
  await page.getByRole('button', { name: 'New VM…' }).click();
  await dialog.getByRole('button', { name: 'Next' }).click();
  await dialog.getByRole('button', { name: 'Choose from ISO folders…' }).click();
  await dialog
    .getByRole('group', { name: 'ISO folders on the Maru host' })
    .getByRole('button', { name: 'maru-test-bios-uefi.iso' })
    .click();
  await expect(detection).toContainText('Detected: Linux (64-bit)');
  await shot(page, 'en-iso-picker');
  await page.keyboard.press('Escape');
});

test('settings: change RAM; the log viewer; the host check page; deleting a VM', async ({ page }) => {
  await logIn(page, maru);
  const list = page.getByRole('listbox', { name: 'Virtual machines' });
  const details = page.getByRole('region', { name: 'Details' });
  await list.getByRole('option', { name: /Debian e2e/ }).click();
  await page.getByRole('button', { name: 'Settings…' }).click();
  const settings = page.getByRole('dialog', { name: 'Settings of “Debian e2e”' });
  await settings.getByLabel('Memory', { exact: true }).fill('1536');
  await settings.getByRole('button', { name: 'Add port forward' }).click();
  await shot(page, 'en-settings');
  await settings.getByRole('button', { name: 'Save' }).click();
  await expect(settings).toBeHidden();
  await expect(details).toContainText('1.5 GiB');
  await expect(details).toContainText('port forwards: 1');
  const vmId = await list.getByRole('option', { name: /Debian e2e/ }).getAttribute('data-vm-id');
  const config = JSON.parse(readFileSync(path.join(maru.home, 'vms', vmId!, 'vm.json'), 'utf8')) as {
    memoryMiB: number;
    nics: { portForwards: unknown[] }[];
  };
  expect(config.memoryMiB).toBe(1536);
  expect(config.nics[0]!.portForwards).toEqual([
    { protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 2222, guestPort: 22 },
  ]);

  // A log written by an engine host shows in the log viewer.
  mkdirSync(path.join(maru.home, 'vms', vmId!, 'logs'), { recursive: true });
  writeFileSync(path.join(maru.home, 'vms', vmId!, 'logs', 'engine-host.log'), 'line one\nQEMU started\n');
  await page.getByRole('button', { name: 'Show log' }).click();
  await expect(page.getByRole('region', { name: 'Log' })).toContainText('QEMU started');
  await shot(page, 'en-log');
  await page.getByRole('tab', { name: 'Performance' }).click();
  await expect(page.getByRole('region', { name: 'Performance' })).toContainText('Not running');
  await shot(page, 'en-performance-off');
  await page.getByRole('tab', { name: 'Summary' }).click();

  await page.getByRole('button', { name: 'Host check' }).click();
  await expect(page.getByRole('heading', { name: 'Host check' })).toBeVisible();
  await expect(page.getByRole('table').first()).toContainText('TCG');
  await expect(page.locator('[data-finding="qemu-ok"]')).toContainText('QEMU is installed.');
  await shot(page, 'en-host-check');
  await page.getByRole('button', { name: 'Virtual machines' }).click();

  // Keyboard: arrows move the selection (and focus) in the list, Delete asks to delete.
  await list.getByRole('option', { name: /Debian e2e/ }).focus();
  await page.keyboard.press('ArrowDown');
  const dos = list.getByRole('option', { name: /DOS e2e/ });
  await expect(dos).toHaveAttribute('aria-selected', 'true');
  await expect(dos).toBeFocused();
  await page.keyboard.press('Delete');
  // The "disks too" choice; Tab stays inside the dialog.
  const confirm = page.getByRole('dialog', { name: 'Delete “DOS e2e”?' });
  await expect(confirm.getByRole('button', { name: 'Cancel' })).toBeFocused();
  for (let i = 0; i < 5; i++) {
    await page.keyboard.press('Tab');
    expect(await confirm.evaluate((d) => d.contains(document.activeElement))).toBe(true);
  }
  await confirm.getByRole('checkbox', { name: 'Delete its disks too' }).check();
  await shot(page, 'en-delete');
  await confirm.getByRole('button', { name: 'Delete', exact: true }).click();
  await expect(confirm).toBeHidden();
  await expect(list.getByRole('option', { name: /DOS e2e/ })).toHaveCount(0);
  await expect(page.getByRole('status').filter({ hasText: 'Deleted “DOS e2e”.' })).toBeVisible();
});

test('power: start a VM, watch its performance graphs, pause, resume, power off', async ({ page }) => {
  test.skip(
    !existsSync('/usr/bin/qemu-system-i386') || !existsSync(path.resolve('dist/engine-host/engine-host.js')),
    'needs QEMU (qemu-system-x86) and the built engine host (node scripts/build.mjs)',
  );
  expect(
    maru.cli(['create', '--name', 'Tiny e2e', '--os', 'linux32', '--memory', '128', '--disk', '1', '--iso', I386_ISO])
      .status,
  ).toBe(0);
  await logIn(page, maru);
  const list = page.getByRole('listbox', { name: 'Virtual machines' });
  const row = list.getByRole('option', { name: /Tiny e2e/ });
  await row.click();
  await page.getByRole('button', { name: 'Start', exact: true }).click();
  await expect(row).toContainText('Running', { timeout: 120_000 });
  await expect(page.getByRole('region', { name: 'Details' })).toContainText('running on qemu');
  await page.getByRole('tab', { name: 'Performance' }).click();
  const perf = page.getByRole('region', { name: 'Performance' });
  await expect(perf).toContainText('Processes:');
  // Two samples make the first point: CPU % from the engine host's and QEMU's own counters.
  await expect(perf.getByRole('img', { name: /^CPU: \d+ %$/ })).toBeVisible();
  await expect(perf.getByRole('img', { name: /^Resident memory: [\d.]+ MiB$/ })).toBeVisible();
  await shot(page, 'en-performance-running');
  // While it runs only the CD can change, live.
  await page.getByRole('button', { name: 'Settings…' }).click();
  const settings = page.getByRole('dialog', { name: 'Settings of “Tiny e2e”' });
  await expect(settings.getByLabel('Memory', { exact: true })).toBeDisabled();
  await settings.getByRole('button', { name: 'Choose from ISO folders…' }).click();
  await settings
    .getByRole('group', { name: 'ISO folders on the Maru host' })
    .getByRole('button', { name: 'maru-test-bios-uefi.iso' })
    .click();
  await settings.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'The ISO is in the running VM’s CD drive' })).toBeVisible();
  await page.getByRole('button', { name: 'Pause' }).click();
  await expect(row).toContainText('Paused');
  await page.getByRole('button', { name: 'Resume' }).click();
  await expect(row).toContainText('Running');
  await page.getByRole('button', { name: 'Power off' }).click();
  await expect(row).toContainText('Powered off', { timeout: 60_000 });
  await expect(perf).toContainText('Not running');
});

async function koreanPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext({ locale: 'ko-KR' });
  return context.newPage();
}

test('Korean: the same flows in Korean', async ({ browser }) => {
  const page = await koreanPage(browser);
  await logIn(page, maru, '로그인', '비밀번호');
  const list = page.getByRole('listbox', { name: '가상 머신' });
  await expect(list).toContainText('Win11 e2e');
  await expect(list).toContainText('전원 꺼짐');
  await shot(page, 'ko-library');

  await createVm(page, KO, 'Windows 11', '윈도우 11 상자', {
    shots: 'ko-wizard-win11',
    atFirmware: async (dialog) => {
      await expect(dialog.getByRole('region', { name: 'Windows 11 설치 준비 완료' })).toBeVisible();
      await dialog.getByRole('checkbox', { name: '보안 부팅' }).uncheck();
      await expect(dialog.getByText('보안 부팅을 켜세요 (UEFI 필요).')).toBeVisible();
      await dialog.getByRole('button', { name: '가상 머신 설정 고치기' }).click();
    },
  });
  await createVm(page, KO, '리눅스 (64비트)', '데비안', { memory: '2048' });
  await createVm(page, KO, 'MS-DOS / FreeDOS', '도스');
  const details = page.getByRole('region', { name: '상세 정보' });
  await expect(details).toContainText('자동 → v86');

  // Validation errors in Korean.
  await page.getByRole('button', { name: KO.newVm }).click();
  const dialog = page.getByRole('dialog', { name: KO.wizard });
  await dialog.getByRole('button', { name: '다음' }).click();
  const name = dialog.getByLabel('이름', { exact: true });
  await name.fill('데비안');
  await dialog.getByRole('button', { name: '다음' }).click();
  await expect(dialog.getByRole('alert')).toHaveText('“데비안”이라는 가상 머신이 이미 있습니다. 다른 이름을 고르세요.');
  await name.fill('a\\b');
  await expect(dialog.getByRole('alert')).toHaveText('이름에 “/”나 “\\”를 쓸 수 없습니다.');
  await name.fill('메모리 시험');
  await dialog.getByRole('button', { name: '다음' }).click();
  await dialog.getByLabel('메모리', { exact: true }).fill('99999999');
  await dialog.getByRole('button', { name: '다음' }).click();
  await expect(dialog.getByRole('alert').first()).toContainText('메모리가 너무 많습니다.');
  await shot(page, 'ko-error-memory');
  await dialog.getByRole('button', { name: '취소' }).click();

  // Drop an ISO: detected in Korean.
  await dropFile(page, I386_ISO, 'debian-i386.iso');
  const detection = dialog.getByRole('region', { name: 'ISO에서 감지한 내용' });
  await expect(detection).toContainText('감지됨: 리눅스 (32비트)');
  await expect(detection).toContainText('확실함');
  await expect(detection).toContainText('BIOS로 부팅');
  await shot(page, 'ko-drop-detected');
  await page.keyboard.press('Escape');
  await dropFile(page, NOT_ISO);
  await expect(page.getByRole('alert').filter({ hasText: 'not-an-iso.bin' })).toContainText(
    '“not-an-iso.bin”은(는) ISO 이미지가 아닙니다 (32769번째 바이트에 CD001 서명이 없음).',
  );

  // Settings: RAM.
  await list.getByRole('option', { name: /데비안/ }).click();
  await page.getByRole('button', { name: '설정…' }).click();
  const settings = page.getByRole('dialog', { name: '“데비안” 설정' });
  await settings.getByLabel('메모리', { exact: true }).fill('3072');
  await shot(page, 'ko-settings');
  await settings.getByRole('button', { name: '저장' }).click();
  await expect(details).toContainText('3 GiB');
  await expect(page.getByRole('status').filter({ hasText: '“데비안”의 설정을 저장했습니다.' })).toBeVisible();

  // Host check in Korean.
  await page.getByRole('button', { name: '호스트 점검' }).click();
  await expect(page.getByRole('heading', { name: '점검 결과' })).toBeVisible();
  await expect(page.locator('[data-finding="qemu-ok"]')).toContainText('QEMU가 설치되어 있습니다.');
  await shot(page, 'ko-host-check');
  await page.getByRole('button', { name: '가상 머신', exact: true }).click();

  // Delete.
  await list.getByRole('option', { name: /도스/ }).click();
  await page.getByRole('button', { name: '삭제…' }).click();
  const confirm = page.getByRole('dialog', { name: '“도스”을(를) 삭제할까요?' });
  await expect(confirm).toContainText('디스크도 함께 삭제');
  await shot(page, 'ko-delete');
  await confirm.getByRole('button', { name: '삭제', exact: true }).click();
  await expect(list.getByRole('option', { name: /도스/ })).toHaveCount(0);
  // No English left on the page (product names and technical terms aside).
  const text = await page.locator('body').innerText();
  expect(text).not.toMatch(/\b(Delete|Settings|Start|Powered off|Virtual machines|Memory|Details)\b/);
  await page.context().close();
});
