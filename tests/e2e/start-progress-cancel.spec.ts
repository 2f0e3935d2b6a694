// Starting a VM from the web console, end to end (Chromium, a real `maru serve`, real QEMU):
// the start shows its progress, Cancel stops it (“Start cancelled”, the VM is off, no engine
// host left), and a start left alone runs. The engine host's test hook holds its `ready`
// report (QEMU is already running then), so the cancel lands mid-start every time.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { expect, ownVmServer, test } from './maru-server-fixture';

const VM = 'Start e2e';
const HOLD_READY_MS = 15_000;
const own = ownVmServer('maru-e2e-start-', VM, { MARU_TEST_HOLD_READY_MS: String(HOLD_READY_MS) });

test('a start shows its progress and can be cancelled; the VM ends off', async ({ page }) => {
  test.skip(
    !existsSync('/usr/bin/qemu-system-i386') || !existsSync(path.resolve('dist/engine-host/engine-host.js')),
    'needs QEMU (qemu-system-x86) and the built engine host (node scripts/build.mjs)',
  );
  const maru = own.maru;
  own.createVm();
  // The host probe (a fresh MARU_HOME's first) boots test guests: done here, not inside the start.
  expect(maru.cli(['host']).status).toBe(0);
  const shown = JSON.parse(maru.cli(['show', VM, '--json']).stdout) as { config: { id: string } };
  const lock = path.join(maru.home, 'run', shown.config.id, 'lock');

  await page.goto(maru.url);
  await page.getByLabel('Password').fill(maru.password);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  const row = page.getByRole('listbox', { name: 'Virtual machines' }).getByRole('option', { name: new RegExp(VM) });
  await row.click();
  const details = page.getByRole('region', { name: 'Details' });

  // Start: the progress follows the service's phases, up to launching the engine host.
  await details.getByRole('button', { name: 'Start', exact: true }).click();
  await expect(details.getByRole('button', { name: 'Start', exact: true })).toBeDisabled();
  await expect(details.getByRole('progressbar', { name: 'Starting the engine…' })).toBeVisible({ timeout: 60_000 });
  await page.screenshot({ path: test.info().outputPath('start-progress.png') });

  // Cancel: the call ends as a cancellation, said as such; the VM is off and its engine host gone.
  await details.getByRole('button', { name: 'Cancel start' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Start cancelled: the VM is off.' })).toBeVisible({
    timeout: 30_000,
  });
  await expect(details.getByRole('progressbar')).toHaveCount(0);
  await expect(row).toContainText('Powered off');
  await expect(details.getByRole('button', { name: 'Start', exact: true })).toBeEnabled();
  await expect(page.getByRole('alert')).toHaveCount(0);
  expect((JSON.parse(maru.cli(['show', VM, '--json']).stdout) as { state: string }).state).toBe('off');
  await expect.poll(() => existsSync(lock), { timeout: 15_000 }).toBe(false);
  await page.screenshot({ path: test.info().outputPath('start-cancelled.png') });

  // A start left alone runs: its progress ends with the engine host's (held) ready report.
  await details.getByRole('button', { name: 'Start', exact: true }).click();
  await expect(details.getByRole('progressbar', { name: 'Starting the engine…' })).toBeVisible({ timeout: 60_000 });
  await expect(details.getByRole('progressbar')).toHaveCount(0, { timeout: HOLD_READY_MS + 60_000 });
  await expect(page.getByRole('alert')).toHaveCount(0);
  await expect(row).toContainText('Running');
  await expect(details).toContainText('running on qemu');

  // A guest stopped elsewhere (the CLI) shows as off without a reload: the services' events.
  expect(maru.cli(['stop', VM, '--force']).status).toBe(0);
  await expect(row).toContainText('Powered off', { timeout: 30_000 });
});
