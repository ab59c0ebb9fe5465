// A calmer page: action results float over the corner (a success leaves by itself, an error stays
// until closed, neither moves the cards), and every time is local with the exact UTC in a tooltip.
import type { Page } from '@playwright/test';
import { expectNoTokenValues, openWatchedDashboard, screenshot } from './support/dashboard-page';
import { expect, test } from './support/headless';

test.describe.configure({ mode: 'parallel', timeout: 120_000 });

const COMPANY = 'Juniper Street Books';
test.use({ headlessOptions: { emulator: { companyName: COMPANY } } });

async function cardsTop(page: Page): Promise<number> {
  const box = await page.getByTestId('access-token-card').boundingBox();
  expect(box, 'the access token card is laid out').not.toBeNull();
  return box?.y ?? Number.NaN;
}

test('action results float over the page: a success leaves by itself, an error stays until closed', async ({
  page,
  headlessServer,
}, testInfo) => {
  // The page's clock is Playwright's, so the seconds a success stays can be skipped, not waited.
  await page.clock.install();
  const secrets = await openWatchedDashboard(page, headlessServer);
  const results = page.getByRole('region', { name: 'Action results' });
  await expect(results).toHaveCount(0);
  const top = await cardsTop(page);

  // An error first: CompanyInfo answers 403 (not retried).
  await headlessServer.emulator?.injectApiFault({ kind: 'status', status: 403 });
  await page.getByRole('button', { name: 'Test connection' }).click();
  const error = results.getByTestId('outcome-testConnection');
  await expect(error).toHaveAttribute('data-ok', 'false');
  await expect(error).toContainText('Test connection failed:');
  await expect(page.getByTestId('live-region')).toContainText('Test connection failed:');

  // Then a success, shown beside it; the cards have not moved.
  await page.getByRole('button', { name: 'Refresh now' }).click();
  const success = results.getByTestId('outcome-refresh');
  await expect(success).toHaveAttribute('data-ok', 'true');
  await expect(page.getByTestId('live-region')).toContainText('Refreshed.');
  expect(await cardsTop(page)).toBe(top);
  await screenshot(page, testInfo, 'action-results');

  // The success leaves by itself after a few seconds; the error outlives it and stays until closed.
  await page.clock.fastForward(2_000);
  await expect(success).toBeVisible();
  await page.clock.fastForward(5_000);
  await expect(success).toHaveCount(0);
  await page.clock.fastForward(60_000);
  await expect(error).toBeVisible();
  await error.getByRole('button', { name: 'Dismiss this message' }).click();
  await expect(results).toHaveCount(0);
  expect(await cardsTop(page)).toBe(top);

  // A success stays while the pointer rests on it, and leaves once it moves away.
  await page.getByRole('button', { name: 'Test connection' }).click();
  const held = results.getByTestId('outcome-testConnection');
  await expect(held).toContainText(COMPANY);
  await held.hover();
  await page.clock.fastForward(30_000);
  await expect(held).toBeVisible();
  await page.mouse.move(0, 0);
  await page.clock.fastForward(7_000);
  await expect(held).toHaveCount(0);

  await expectNoTokenValues(page, secrets);
});

test.describe('in another time zone', () => {
  test.use({ timezoneId: 'Pacific/Auckland', locale: 'en-GB' });

  test('history times are local, with the exact UTC instant in the tooltip', async ({
    page,
    headlessServer,
  }, testInfo) => {
    const secrets = await openWatchedDashboard(page, headlessServer);
    const item = page.getByTestId('history-list').locator('li[data-type=refreshed]').first();
    const time = item.locator('time.history-time');
    const iso = await time.getAttribute('datetime');
    expect(iso).toBeTruthy();
    const at = Date.parse(iso ?? '');
    const local = new Intl.DateTimeFormat('en-GB', {
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hour12: false,
      timeZone: 'Pacific/Auckland',
    }).format(at);
    await expect(time).toContainText(local);
    await expect(time).toHaveAttribute(
      'title',
      `${new Date(at).toISOString().replace('T', ' ').replace('Z', '')} UTC`,
    );
    // Instants inside the engine's sentences are local too; no raw UTC timestamp is left in the list.
    await expect(page.getByTestId('history-list')).not.toContainText(/\d{4}-\d\d-\d\dT\d\d:\d\d/);
    const inMessage = item.locator('.history-message time');
    if ((await inMessage.count()) > 0) {
      const messageIso = (await inMessage.first().getAttribute('datetime')) ?? '';
      await expect(inMessage.first()).toHaveText(
        new Intl.DateTimeFormat('en-GB', {
          hour: '2-digit',
          minute: '2-digit',
          second: '2-digit',
          hour12: false,
          timeZone: 'Pacific/Auckland',
        }).format(Date.parse(messageIso)),
      );
    }
    await screenshot(page, testInfo, 'history-local-time');
    await expectNoTokenValues(page, secrets);
  });
});
