// Several companies in the desktop app, through the desktop host (the built main bundle under the
// electron stand-in, the real renderer and preload, a real emulator serving several realms). Add
// company runs Connect: main opens the consent page in the system browser (shell.openExternal,
// recorded by the stand-in); the test plays the browser in a Chromium context of its own, picking
// the company in the emulator's company selector (once with the mouse, once with the keyboard alone)
// and clicking Connect; the emulator redirects to main's loopback listener. Then choose, refresh, an
// invalid_grant in one company (the tray turns red for it alone) and Remove.
import type { Browser, Page } from '@playwright/test';
import { LeakScan } from '../src/core/testing/leak-scan';
import type { TokenStatus } from '../src/shared/contract';
import { expect, test, type DesktopApp } from './support/desktop-host/fixture';

test.describe.configure({ timeout: 120_000 });
test.use({ desktopOptions: { emulator: {} } });

const LANTERN = { realmId: '5550501', companyName: 'Lantern Street Books Ltd' };
const ALDER = { realmId: '5550502', companyName: 'Alder & Sons Bikes' };

/** What the "system browser" was shown: main's loopback listener's answers, for the leak scan. */
const browserPages: string[] = [];

/**
 * The secret scan (src/core/testing/leak-scan.ts) over what the app showed and sent: the page's HTML
 * and text, every push main sent to it, the listener's answers in the browser and main's log; the
 * secrets are the emulator's and every token main sealed in its store.
 */
async function expectNoSecrets(desktop: DesktopApp): Promise<void> {
  const scan = new LeakScan();
  scan.addSecrets(desktop.emulator?.clientSecret, desktop.emulator?.refreshToken);
  scan.addSecrets(...(await desktop.host.call<string[]>('sealedTokenValues')));
  scan.collect('page HTML', await desktop.page.content());
  scan.collect('page text', await desktop.page.locator('body').innerText());
  for (const channel of ['tokens:status-changed', 'tokens:connections-changed'])
    desktop.pushes(channel).forEach((args, index) => scan.collect(`push ${channel} #${index}`, args));
  browserPages.forEach((html, index) => scan.collect(`browser page #${index}`, html));
  scan.collect('main log', desktop.host.output());
  // Two companies connected and refreshed: at least their access and refresh tokens.
  expect(scan.secretCount).toBeGreaterThanOrEqual(5);
  expect(scan.findLeaks(), 'token values the app showed or sent').toEqual([]);
}

const row = (page: Page, id: string) =>
  page.locator(`[data-testid="connection-item"][data-connection-id="${id}"]`);

async function consentUrls(desktop: DesktopApp): Promise<string[]> {
  return (await desktop.journal())
    .filter((entry) => entry.api === 'shell.openExternal')
    .map((entry) => String(entry.args[0]))
    .filter((url) => url.startsWith(desktop.emulator?.authorizeUrl ?? '-'));
}

/**
 * Add company: main opens Intuit's page in "the system browser" (a context of the test's own); the
 * user picks `company` there, with the mouse or the keyboard alone, and Connect sends the browser
 * back to main's loopback listener.
 */
async function addCompany(
  desktop: DesktopApp,
  browser: Browser,
  company: { realmId: string; companyName: string },
  by: 'mouse' | 'keyboard',
): Promise<void> {
  const page = desktop.page;
  const opened = (await consentUrls(desktop)).length;
  await page.getByTestId('add-company').click();
  await page.getByTestId('add-company-continue').click();
  await expect.poll(async () => (await consentUrls(desktop)).length).toBe(opened + 1);
  const systemBrowser = await browser.newContext();
  try {
    const tab = await systemBrowser.newPage();
    await tab.goto((await consentUrls(desktop))[opened] ?? '');
    const selector = tab.getByLabel('Company');
    await expect(selector).toHaveValue('');
    if (by === 'mouse') {
      await selector.selectOption({ label: company.companyName });
      await tab.getByRole('button', { name: 'Connect' }).click();
    } else {
      // The selector has the focus when the page opens; typing a name chooses it, Tab reaches Connect.
      await expect(selector).toBeFocused();
      await tab.keyboard.type(company.companyName.slice(0, 4));
      await expect(selector).toHaveValue(company.realmId);
      await tab.keyboard.press('Tab');
      await expect(tab.getByRole('button', { name: 'Connect' })).toBeFocused();
      await tab.keyboard.press('Enter');
    }
    // Main's listener answers the browser, naming the company connected.
    await expect(tab.getByText(`now connected to company ${company.realmId}`)).toBeVisible();
    browserPages.push(await tab.content());
  } finally {
    await systemBrowser.close();
  }
  await expect(row(page, company.realmId)).toBeVisible();
}

test('Add company, choose it, refresh it; an invalid_grant in one company turns the tray red; Remove clears it', async ({
  desktop,
  browser,
}) => {
  const page = desktop.page;
  const emulator = desktop.emulator;
  if (!emulator) throw new Error('this spec needs the emulator process');
  // The user signed in at Intuit has three companies.
  await emulator.control.configure({
    companies: [{ realmId: emulator.realmId, companyName: 'Sandbox Company_US_1' }, LANTERN, ALDER],
  });
  await expect(page.getByTestId('state-pill')).toHaveAttribute('data-state', 'valid');
  await expect(page.getByTestId('connection-list')).toHaveCount(0);

  await addCompany(desktop, browser, LANTERN, 'mouse');
  // The company just connected is shown, beside the list, named after the company picked.
  await expect(row(page, '5550501')).toHaveAttribute('aria-current', 'true');
  await expect(page.getByTestId('realm-id')).toHaveText('5550501');
  await expect(row(page, '5550501').getByTestId('connection-name')).toHaveText(LANTERN.companyName);
  await addCompany(desktop, browser, ALDER, 'keyboard');
  await expect(page.getByTestId('connection-item')).toHaveCount(3);
  await expect(row(page, '5550502').getByTestId('connection-name')).toHaveText(ALDER.companyName);

  // From the tray with the window hidden, Refresh now refreshes every company the tray watches.
  await desktop.host.call('chooseTrayItem', 'Keep running in the tray when the window is closed');
  await desktop.host.call('closeWindow', desktop.windowId);
  expect((await desktop.windows())[0]?.visible).toBe(false);
  const refreshesBefore = (await emulator.control.counters()).tokenCalls.refresh_token;
  await desktop.host.call('chooseTrayItem', 'Refresh now');
  await expect
    .poll(async () => (await emulator.control.counters()).tokenCalls.refresh_token)
    .toBe(refreshesBefore + 3);
  await desktop.host.call('chooseTrayItem', 'Open dashboard');
  expect((await desktop.windows())[0]?.visible).toBe(true);

  await row(page, '5550501').click();
  await expect(page.getByTestId('realm-id')).toHaveText('5550501');
  const pushesBefore = desktop.pushes('tokens:status-changed').length;
  await page.getByTestId('action-refresh').click();
  await expect(page.getByTestId('outcome-refresh')).toHaveAttribute('data-ok', 'true');
  const pushed = desktop
    .pushes('tokens:status-changed')
    .slice(pushesBefore)
    .map(([status]) => (status as TokenStatus).connection.id);
  expect(new Set(pushed)).toEqual(new Set(['5550501']));

  // Intuit ends 5550502's authorization; its next refresh is refused.
  await expect
    .poll(async () => (await desktop.host.call<{ image: string }>('tray')).image)
    .toMatch(/tray-valid\.png$/);
  await row(page, '5550502').click();
  await expect(page.getByTestId('realm-id')).toHaveText('5550502');
  await desktop.emulator?.control.injectTokenFault({ kind: 'invalid_grant' });
  await page.getByTestId('action-refresh').click();
  await expect(page.getByTestId('state-pill')).toHaveAttribute('data-state', 'reauthorization_required');
  await expect(row(page, '5550502').getByTestId('health-dot')).toHaveAttribute('data-tone', 'bad');
  for (const id of ['default', '5550501']) await expect(row(page, id)).toHaveAttribute('data-state', 'valid');
  await expect
    .poll(async () => (await desktop.host.call<{ image: string }>('tray')).image)
    .toMatch(/tray-reconnect\.png$/);
  await expect(page).toHaveTitle(/^Reconnect required: .* · QB Token Desk$/);
  await expectNoSecrets(desktop);

  // Remove it (revoked at Intuit first): the tray turns green again, the removed company gone from it.
  await page.getByTestId('remove-connection').click();
  await page.getByTestId('remove-connection-confirm-button').click();
  await expect(row(page, '5550502')).toHaveCount(0);
  await expect(page.getByTestId('connection-item')).toHaveCount(2);
  await expect
    .poll(async () => (await desktop.host.call<{ image: string }>('tray')).image)
    .toMatch(/tray-valid\.png$/);
  const pushedLists = desktop
    .pushes('tokens:connections-changed')
    .map(([list]) => (list as unknown[]).length);
  expect(pushedLists.at(-1)).toBe(2);

  // Remove the other, which Intuit does revoke: one company again, and the page is the dashboard alone.
  await row(page, '5550501').click();
  await page.getByTestId('remove-connection').click();
  await page.getByTestId('remove-connection-confirm-button').click();
  await expect(page.getByTestId('connection-list')).toHaveCount(0);
  await expect(page.getByTestId('realm-id')).toHaveText(desktop.emulator?.realmId ?? '-');
  await expectNoSecrets(desktop);
});
