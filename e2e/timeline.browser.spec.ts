// The token timeline in Chromium: each access token a bar from issue to expiry, refreshes marked by
// what triggered them, rotations marked, failures in red. Real headless server, real emulator.
import {
  expectNoTokenValues,
  openWatchedDashboard,
  pill,
  refreshCount,
  screenshot,
} from './support/dashboard-page';
import { expect, test } from './support/headless';

test.describe.configure({ timeout: 120_000 });

// Every refresh rotates the refresh token, so the chain's row has something to show.
test.use({ headlessOptions: { emulator: { rotateAfterSeconds: 0 } } });

test('the timeline draws each token, marks refreshes by trigger and rotations, and failures in red', async ({
  page,
  headlessServer,
}, testInfo) => {
  const secrets = await openWatchedDashboard(page, headlessServer);
  const timeline = page.getByRole('img', { name: /^Token timeline/ });
  await expect(timeline).toBeVisible();
  await expect(timeline).toHaveAccessibleName(/^Token timeline, since \d\d:\d\d:\d\d: 1 access token, /);
  const bars = page.getByTestId('timeline-bar');
  const marks = (selector: string) => page.locator(`[data-testid=timeline-mark]${selector}`);
  await expect(bars).toHaveCount(1);
  await expect(bars.first()).toHaveAttribute('data-current', 'true');

  // A manual refresh: a second bar, which is now the one in use, and a square for "manual".
  const count = await refreshCount(page);
  await page.getByRole('button', { name: 'Refresh now' }).click();
  await expect(page.getByTestId('count-refreshes')).toHaveText(String(count + 1));
  await expect(bars).toHaveCount(2);
  await expect(page.locator('[data-testid=timeline-bar][data-current=true]')).toHaveCount(1);
  await expect(bars.last()).toHaveAttribute('data-current', 'true');
  await expect(marks('[data-kind=refresh][data-trigger=manual]')).toHaveCount(1);
  await expect(marks('[data-kind=refresh][data-trigger=manual] rect')).toHaveCount(1);

  // The access token dies at Intuit: Test connection meets a 401, refreshes once and retries.
  await headlessServer.emulator?.revokeAccessTokens();
  await page.getByRole('button', { name: 'Test connection' }).click();
  await expect(page.getByTestId('outcome-testConnection')).toHaveAttribute('data-ok', 'true');
  await expect(marks('[data-kind=refresh][data-trigger=on-401]')).toHaveCount(1);
  await expect(bars).toHaveCount(3);
  // Every refresh here rotated the refresh token.
  await expect(marks('[data-kind=rotation]')).toHaveCount(3);
  await expect(timeline).toHaveAccessibleName(
    /3 access tokens, 3 refreshes \(.*1 manual.*1 on-401.*\), 3 rotations, 0 failures\./,
  );

  // A refused refresh: a red cross.
  await headlessServer.emulator?.injectTokenFault({ kind: 'invalid_grant' });
  await page.getByRole('button', { name: 'Refresh now' }).click();
  await expect(pill(page)).toHaveAttribute('data-state', 'reauthorization_required');
  const failure = marks('[data-kind=failure]');
  await expect(failure).toHaveCount(1);
  const red = await page.evaluate(
    "getComputedStyle(document.documentElement).getPropertyValue('--bad').trim()",
  );
  await expect(failure.locator('path')).toHaveCSS('stroke', hexToRgb(String(red)));
  await expect(timeline).toHaveAccessibleName(/1 failure\.$/);
  // Hovering a marker tells what it was, in local time with the UTC instant.
  await expect(failure.locator('title')).toHaveText(
    /^Failed at \d\d:\d\d:\d\d \(\d{4}-.* UTC\): .*invalid_grant/,
  );

  await screenshot(page, testInfo, 'timeline');
  await page.emulateMedia({ colorScheme: 'dark' });
  await screenshot(page, testInfo, 'timeline-dark');
  await expectNoTokenValues(page, secrets);
});

function hexToRgb(hex: string): string {
  const value = Number.parseInt(hex.replace('#', ''), 16);
  return `rgb(${(value >> 16) & 255}, ${(value >> 8) & 255}, ${value & 255})`;
}
