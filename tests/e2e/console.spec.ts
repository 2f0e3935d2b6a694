// A running VM's screen in the browser, end to end: real QEMU (TCG) booting the test ISO,
// the engine's RFB through `maru serve`'s console socket, noVNC drawing into the canvas.
// The screen shows the guest and changes with it; typing reaches the guest (its serial log
// echoes keyboard lines); clicks land on the guest pixel under the pointer (the guest reports
// its USB tablet's positions); the host key releases the keyboard; logging out closes the console.
import { existsSync } from 'node:fs';
import type { Page } from '@playwright/test';
import { expect, ownVmServer, test } from './maru-server-fixture';

const own = ownVmServer('maru-e2e-console-', 'Screen e2e');
const { serialHas } = own;

/** The guest's MARU-CLICK reports so far (absolute tablet positions, 0..32767). */
async function clicks(): Promise<{ x: number; y: number }[]> {
  return [...own.serial().matchAll(/MARU-CLICK x=(\d+) y=(\d+)/g)].map((m) => ({ x: Number(m[1]), y: Number(m[2]) }));
}

/** A digest of the canvas pixels and how many distinct colours it has (blank = 1). */
async function canvasDigest(page: Page): Promise<{ hash: number; colours: number; width: number }> {
  return page
    .getByTestId('vm-screen')
    .locator('canvas')
    .evaluate((c: HTMLCanvasElement) => {
      const ctx = c.getContext('2d')!;
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      let hash = 0;
      const colours = new Set<number>();
      for (let i = 0; i < d.length; i += 4) {
        const px = (d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!;
        hash = (Math.imul(hash, 31) + px) | 0;
        if (colours.size < 64) colours.add(px);
      }
      return { hash, colours: colours.size, width: c.width };
    });
}

async function login(page: Page): Promise<void> {
  await page.goto(own.maru.url);
  await page.getByLabel('Password').fill(own.maru.password);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
}

test("the running VM's screen appears, follows the guest, takes typing; logout closes it", async ({ browser }) => {
  test.skip(!existsSync('/usr/bin/qemu-system-i386'), 'needs QEMU (qemu-system-x86)');
  own.createVm();
  const started = own.maru.cli(['start', 'Screen e2e', '--headless']);
  expect(started.status, started.stderr).toBe(0);
  await serialHas('MARU-READY', 120_000);

  const context = await browser.newContext();
  const page = await context.newPage();
  await login(page);
  await page
    .getByRole('listbox', { name: 'Virtual machines' })
    .getByRole('option', { name: /Screen e2e/ })
    .click();
  const canvas = page.getByTestId('vm-screen').locator('canvas');
  await expect(canvas).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId('vm-screen')).toHaveAttribute('data-status', 'connected');
  // The guest's text console (720×400 VGA text mode under QEMU) is on the canvas, not a blank frame.
  await expect.poll(async () => (await canvasDigest(page)).colours, { timeout: 30_000 }).toBeGreaterThan(1);
  const before = await canvasDigest(page);
  await page.screenshot({ path: test.info().outputPath('console-running.png') });

  // Click to capture the keyboard, type: the guest echoes the line on serial and on screen.
  await canvas.click();
  await expect(page.getByTestId('capture-indicator')).toContainText('Keyboard captured');
  await page.keyboard.type('hello42');
  await page.keyboard.press('Enter');
  await serialHas('MARU-KEY:hello42', 30_000);
  await expect.poll(async () => (await canvasDigest(page)).hash, { timeout: 15_000 }).not.toBe(before.hash);
  await page.screenshot({ path: test.info().outputPath('console-typed.png') });

  // The host key (Right Ctrl) releases the keyboard and is not sent to the guest.
  await page.keyboard.press('ControlRight');
  await expect(page.getByTestId('capture-indicator')).toContainText('Click the screen');

  // Clicks land where the pointer is: the guest reports each left click with the position its
  // USB tablet read (0..32767 across the screen); it must be the guest pixel under the pointer.
  await serialHas('MARU-POINTER=tablet', 60_000);
  const box = (await canvas.boundingBox())!;
  const fb = await canvas.evaluate((c: HTMLCanvasElement) => ({ width: c.width, height: c.height }));
  for (const [fx, fy] of [
    [0.2, 0.3],
    [0.85, 0.75],
  ] as const) {
    const seen = (await clicks()).length;
    await page.mouse.click(box.x + box.width * fx, box.y + box.height * fy);
    await expect.poll(async () => (await clicks()).length, { timeout: 30_000 }).toBeGreaterThan(seen);
    const last = (await clicks()).at(-1)!;
    const guest = { x: (last.x * fb.width) / 32767, y: (last.y * fb.height) / 32767 };
    expect(Math.abs(guest.x - fb.width * fx), `click x (guest ${guest.x}, pointer ${fb.width * fx})`).toBeLessThan(3);
    expect(Math.abs(guest.y - fb.height * fy), `click y (guest ${guest.y}, pointer ${fb.height * fy})`).toBeLessThan(3);
  }
  await page.keyboard.press('ControlRight');

  // A second tab of the same session shows the console too; logging out in the first closes it.
  const second = await context.newPage();
  await second.goto(own.maru.url);
  await second
    .getByRole('listbox', { name: 'Virtual machines' })
    .getByRole('option', { name: /Screen e2e/ })
    .click();
  await expect(second.getByTestId('vm-screen')).toHaveAttribute('data-status', 'connected', { timeout: 30_000 });
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(second.getByTestId('vm-screen')).toHaveCount(0, { timeout: 15_000 });
  await expect(second.getByRole('heading', { name: 'Log in to Maru' })).toBeVisible();
  await context.close();
});
