// A signed-in user's page comes with the library already in its HTML (rendered by `maru serve`
// with the app's own components, in the user's language), paints before any script has run,
// and then becomes the live app in place (hydration) — without React finding a difference.
import type { Browser, BrowserContext, Page } from '@playwright/test';
import { test, expect } from './maru-server-fixture';

test.describe.configure({ mode: 'serial' });

async function signedIn(browser: Browser, url: string, password: string, locale: string): Promise<BrowserContext> {
  const context = await browser.newContext({ locale });
  const login = await context.request.post(`${url}api/login`, {
    data: { password },
    headers: { Origin: url.replace(/\/$/, '') },
  });
  expect(login.ok()).toBe(true);
  return context;
}

/** Console messages of the page that say the page or its hydration went wrong. */
function watchConsole(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  return problems;
}

test('the library is in the page HTML for a signed-in user, and the page hydrates it (English)', async ({
  browser,
  maru,
}) => {
  expect(maru.cli(['create', '--name', 'Rendered Linux', '--os', 'linux64']).status).toBe(0);
  expect(maru.cli(['create', '--name', 'Rendered DOS & co', '--os', 'dos']).status).toBe(0);
  const context = await signedIn(browser, maru.url, maru.password, 'en-US');

  // The HTML itself: rows with their names (escaped), in English, said to be rendered in English.
  const html = await (await context.request.get(maru.url)).text();
  expect(html).toContain('<html lang="en"');
  expect(html).toContain('role="listbox"');
  expect(html).toContain('Rendered Linux');
  expect(html).toContain('Rendered DOS &amp; co');
  expect(html).toContain('data-rendered-language="en"');
  // Anonymous: the bare shell (no markup, no list).
  const anonymous = await (await browser.newContext()).request.get(maru.url);
  const bare = await anonymous.text();
  expect(bare).toContain('<div id="root"></div>');
  expect(bare).not.toContain('Rendered Linux');

  // With scripts off, the rows still show: they are painted from the HTML alone.
  const noScript = await browser.newContext({ locale: 'en-US', javaScriptEnabled: false });
  await noScript.addCookies(await context.cookies());
  const still = await noScript.newPage();
  await still.goto(maru.url);
  await expect(still.getByRole('listbox', { name: 'Virtual machines' })).toContainText('Rendered Linux');
  await still.screenshot({ path: test.info().outputPath('server-rendered-no-script.png') });
  await noScript.close();

  // With scripts: hydrated without a difference, and it answers input.
  const page = await context.newPage();
  const problems = watchConsole(page);
  await page.goto(maru.url);
  await page.waitForFunction(() => performance.getEntriesByName('maru:list-painted').length > 0);
  const list = page.getByRole('listbox', { name: 'Virtual machines' });
  await list.getByRole('option', { name: /Rendered Linux/ }).click();
  await expect(page.getByRole('region', { name: 'Details' })).toContainText('Linux');
  await page.getByRole('searchbox', { name: 'Search' }).fill('dos & co');
  await expect(list.getByRole('option')).toHaveCount(1);
  expect(problems.filter((p) => !/favicon|Failed to load resource/.test(p))).toEqual([]);
  await context.close();
});

test('Korean: rendered in Korean for a Korean browser and for a user who picked Korean', async ({ browser, maru }) => {
  const ko = await signedIn(browser, maru.url, maru.password, 'ko-KR');
  const page = await ko.newPage();
  const problems = watchConsole(page);
  // The page as this browser got it (its Accept-Language asks for Korean).
  const html = await (await page.goto(maru.url))!.text();
  expect(html).toContain('<html lang="ko"');
  expect(html).toContain('data-rendered-language="ko"');
  expect(html).toContain('가상 머신');
  await page.waitForFunction(() => performance.getEntriesByName('maru:list-painted').length > 0);
  await expect(page.getByRole('listbox', { name: '가상 머신' })).toContainText('전원 꺼짐');
  expect(problems.filter((p) => !/favicon|Failed to load resource/.test(p))).toEqual([]);
  await ko.close();

  // An English browser whose user switched to Korean: the next page is rendered in Korean too.
  const en = await signedIn(browser, maru.url, maru.password, 'en-US');
  const enPage = await en.newPage();
  const enProblems = watchConsole(enPage);
  await enPage.goto(maru.url);
  await enPage.getByLabel('Language').selectOption('ko');
  await expect(enPage.getByRole('listbox', { name: '가상 머신' })).toBeVisible();
  const after = await (await enPage.reload())!.text();
  expect(after).toContain('data-rendered-language="ko"');
  await enPage.waitForFunction(() => performance.getEntriesByName('maru:list-painted').length > 0);
  await expect(enPage.getByRole('listbox', { name: '가상 머신' })).toContainText('전원 꺼짐');
  expect(enProblems.filter((p) => !/favicon|Failed to load resource/.test(p))).toEqual([]);
  await en.close();
});
