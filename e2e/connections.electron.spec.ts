// Several companies in the built desktop app (demo mode: the emulator runs inside the app). Add
// company runs Connect: main hands the consent page to the system browser (shell.openExternal,
// caught here in main), and the test plays the browser, choosing another company on the emulator's
// consent page, which redirects to main's loopback listener. Then choose and remove it. Skipped,
// with the reason shown, where no Electron runtime exists (the desktop-host project runs the same
// flow through the built main bundle everywhere: e2e/connections.desktop-host.spec.ts).
import { electronRuntime, expect, NO_ELECTRON_REASON, test } from './support/electron-app';

const REALM = '5550601';

test.describe('several companies in the desktop app (demo mode)', () => {
  test.skip(!electronRuntime.executablePath, NO_ELECTRON_REASON);
  test.use({ appEnv: { QB_DEMO: '1' } });

  test('Add company, choose it, remove it', async ({ electronApp, appWindow }) => {
    await expect(appWindow.getByTestId('state-pill')).not.toHaveAttribute('data-state', 'not_configured');
    // The system browser is the test: main's openExternal records the consent URL instead.
    await electronApp.evaluate(({ shell }) => {
      const opened: string[] = [];
      (globalThis as unknown as { __qbOpened: string[] }).__qbOpened = opened;
      shell.openExternal = async (url: string) => {
        opened.push(url);
      };
    });
    await appWindow.getByTestId('add-company').click();
    await appWindow.getByTestId('add-company-continue').click();
    await expect
      .poll(() =>
        electronApp.evaluate(() => (globalThis as unknown as { __qbOpened: string[] }).__qbOpened.length),
      )
      .toBe(1);
    const authorize = new URL(
      await electronApp.evaluate(() => (globalThis as unknown as { __qbOpened: string[] }).__qbOpened[0]),
    );
    // On the consent page the user picks the company and clicks Connect: the emulator's form.
    const form = new URLSearchParams(authorize.searchParams);
    form.set('realm_id', REALM);
    form.set('decision', 'connect');
    const answer = await fetch(new URL('/connect/oauth2/decision', authorize), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form,
    });
    expect(answer.status).toBe(200);

    const row = appWindow.locator(`[data-testid="connection-item"][data-connection-id="${REALM}"]`);
    await expect(row).toHaveAttribute('aria-current', 'true');
    await expect(appWindow.getByTestId('realm-id')).toHaveText(REALM);
    await expect(appWindow.getByTestId('connection-item')).toHaveCount(2);

    await appWindow.locator('[data-testid="connection-item"][data-connection-id="default"]').click();
    await expect(appWindow.getByTestId('realm-id')).not.toHaveText(REALM);
    await row.click();
    await expect(appWindow.getByTestId('realm-id')).toHaveText(REALM);

    await appWindow.getByTestId('remove-connection').click();
    await appWindow.getByTestId('remove-connection-confirm-button').click();
    await expect(appWindow.getByTestId('connection-list')).toHaveCount(0);
    await expect(row).toHaveCount(0);
  });
});
