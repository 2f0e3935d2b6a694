// A guest with only a relative mouse (v86's PS/2 mouse), end to end: real v86 booting the
// test ISO, its RFB through `maru serve`, the display view in Chromium. The mouse reaches the
// guest only while captured: a click captures it with pointer lock, the guest then sees exactly
// the motion made (the test media sums its PS/2 mouse's motion and reports it at each left
// click), the host key releases it, and motion while released never reaches the guest.
import type { Page } from '@playwright/test';
import { expect, ownVmServer, test } from './maru-server-fixture';

const VM = 'Mouse e2e';
const own = ownVmServer('maru-e2e-mouse-', VM);
const { serialHas, serial } = own;

/** The guest's PS/2 click reports: the sum of its mouse's motion at each left click. */
function relClicks(): { dx: number; dy: number }[] {
  return [...serial().matchAll(/MARU-RELCLICK dx=(-?\d+) dy=(-?\d+)/g)].map((m) => ({
    dx: Number(m[1]),
    dy: Number(m[2]),
  }));
}

async function clickAndReport(page: Page): Promise<{ dx: number; dy: number }> {
  const seen = relClicks().length;
  await page.mouse.down();
  await page.mouse.up();
  await expect.poll(() => relClicks().length, { timeout: 30_000 }).toBeGreaterThan(seen);
  return relClicks().at(-1)!;
}

test('a relative-mouse guest gets exactly the motion made while the screen holds the pointer', async ({ browser }) => {
  test.setTimeout(360_000);
  own.createVm(['--engine', 'v86']);
  const started = own.maru.cli(['start', VM, '--headless']);
  expect(started.status, started.stderr).toBe(0);
  await serialHas('MARU-MOUSE=ps2', 240_000);

  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(own.maru.url);
  await page.getByLabel('Password').fill(own.maru.password);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await page
    .getByRole('listbox', { name: 'Virtual machines' })
    .getByRole('option', { name: new RegExp(VM) })
    .click();
  const screen = page.getByTestId('vm-screen');
  await expect(screen).toHaveAttribute('data-status', 'connected', { timeout: 30_000 });
  await expect(screen).toHaveAttribute('data-pointer', 'relative');
  const indicator = page.getByTestId('capture-indicator');
  await expect(indicator).toContainText('Click the screen to capture the mouse and keyboard');

  // Not captured: moving over the screen does nothing to the guest.
  const box = (await screen.locator('canvas').boundingBox())!;
  await page.mouse.move(box.x + 50, box.y + 50);
  await page.mouse.move(box.x + 250, box.y + 150, { steps: 5 });

  // A click captures (and is not itself passed on); then the motion, summed by the guest.
  await page.mouse.click(box.x + 100, box.y + 100);
  await expect(indicator).toContainText('Mouse and keyboard captured');
  expect(await page.evaluate(() => document.pointerLockElement?.getAttribute('data-testid'))).toBe('vm-screen');
  await page.mouse.move(box.x + 130, box.y + 120);
  await page.mouse.move(box.x + 160, box.y + 140);
  await page.mouse.move(box.x + 150, box.y + 80); // back left and up
  const first = await clickAndReport(page);
  expect(first).toEqual({ dx: 50, dy: -20 });
  await page.screenshot({ path: test.info().outputPath('pointer-lock-captured.png') });

  // The host key releases the pointer; motion while released is not the guest's.
  await page.keyboard.press('ControlRight');
  await expect(indicator).toContainText('Click the screen to capture');
  expect(await page.evaluate(() => document.pointerLockElement)).toBeNull();
  await page.mouse.move(box.x + 400, box.y + 300, { steps: 4 });
  await page.mouse.click(box.x + 300, box.y + 200); // captures again
  await expect(indicator).toContainText('Mouse and keyboard captured');
  expect(await clickAndReport(page)).toEqual(first); // no motion leaked in between
  await page.mouse.move(box.x + 290, box.y + 230);
  expect(await clickAndReport(page)).toEqual({ dx: first.dx - 10, dy: first.dy + 30 });
  await page.keyboard.press('ControlRight');
  await context.close();
});
