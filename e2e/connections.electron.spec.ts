// Several companies in the built desktop app (demo mode: the emulator runs inside the app). Add
// company runs Connect: main hands the consent page to the system browser (shell.openExternal,
// caught here in main), and the test plays the browser, choosing another company on the emulator's
// consent page, which redirects to main's loopback listener. Then choose and remove it; no token
// value shows in the page, its pushes, the browser's page or main's log. Skipped, with the reason
// shown, where no Electron runtime exists (the desktop-host project runs the same flow through the
// built main bundle everywhere: e2e/connections.desktop-host.spec.ts).
import type { ElectronApplication, Page } from '@playwright/test';
import { LeakScan } from '../src/core/testing/leak-scan';
import { electronRuntime, expect, mainOutput, NO_ELECTRON_REASON, test } from './support/electron-app';

const REALM = '5550601';

interface Push {
  channel: string;
  /** The push's arguments as JSON, taken when main sent them. */
  args: string;
}

/**
 * From now on, every push main sends to the app's window (webContents.send: statuses, lists,
 * commands) is kept in main for the leak scan; pushes sent while the app was starting are not.
 */
async function recordPushes(electronApp: ElectronApplication): Promise<void> {
  await electronApp.evaluate(({ BrowserWindow }) => {
    // Runs in main (serialised there): only types may come from this file.
    const sent: Push[] = [];
    (globalThis as unknown as { __qbPushes: Push[] }).__qbPushes = sent;
    for (const window of BrowserWindow.getAllWindows()) {
      const contents = window.webContents;
      const send = contents.send.bind(contents);
      contents.send = (channel: string, ...args: unknown[]) => {
        sent.push({ channel, args: JSON.stringify(args) });
        send(channel, ...args);
      };
    }
  });
}

function pushesSent(electronApp: ElectronApplication): Promise<Push[]> {
  return electronApp.evaluate(() => (globalThis as unknown as { __qbPushes?: Push[] }).__qbPushes ?? []);
}

/**
 * The secret scan (src/core/testing/leak-scan.ts) over what the app showed and sent: the page's HTML
 * and text, every push main sent to it, the listener's answers in the browser and main's log. The
 * secrets are every value the app's demo emulator handed out (its /__control/issued-values: the
 * client secret, every access and refresh token and code), so every token main stored among them.
 */
async function expectNoSecrets(
  electronApp: ElectronApplication,
  appWindow: Page,
  emulatorUrl: URL,
  browserPages: readonly string[],
): Promise<void> {
  const scan = new LeakScan();
  const issued = await fetch(new URL('/__control/issued-values', emulatorUrl));
  expect(issued.status).toBe(200);
  scan.addSecrets(...((await issued.json()) as { values: string[] }).values);
  scan.collect('page HTML', await appWindow.content());
  scan.collect('page text', await appWindow.locator('body').innerText());
  const pushes = await pushesSent(electronApp);
  // The recorder is in place: a company was added, so main pushed its status and the new list.
  expect(pushes.length).toBeGreaterThan(0);
  pushes.forEach(({ channel, args }, index) => scan.collect(`push ${channel} #${index}`, args));
  browserPages.forEach((html, index) => scan.collect(`browser page #${index}`, html));
  scan.collect('main log', mainOutput(electronApp));
  // Two companies connected: the client secret, their access and refresh tokens, a code.
  expect(scan.secretCount).toBeGreaterThanOrEqual(5);
  expect(scan.findLeaks(), 'token values the app showed or sent').toEqual([]);
}

test.describe('several companies in the desktop app (demo mode)', () => {
  test.skip(!electronRuntime.executablePath, NO_ELECTRON_REASON);
  test.use({ appEnv: { QB_DEMO: '1' } });

  test('Add company, choose it, remove it', async ({ electronApp, appWindow }) => {
    await expect(appWindow.getByTestId('state-pill')).not.toHaveAttribute('data-state', 'not_configured');
    await recordPushes(electronApp);
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
    // What the system browser showed: main's loopback listener's answer.
    const browserPages = [await answer.text()];

    const row = appWindow.locator(`[data-testid="connection-item"][data-connection-id="${REALM}"]`);
    await expect(row).toHaveAttribute('aria-current', 'true');
    await expect(appWindow.getByTestId('realm-id')).toHaveText(REALM);
    await expect(appWindow.getByTestId('connection-item')).toHaveCount(2);

    await appWindow.locator('[data-testid="connection-item"][data-connection-id="default"]').click();
    await expect(appWindow.getByTestId('realm-id')).not.toHaveText(REALM);
    await row.click();
    await expect(appWindow.getByTestId('realm-id')).toHaveText(REALM);
    await expectNoSecrets(electronApp, appWindow, authorize, browserPages);

    await appWindow.getByTestId('remove-connection').click();
    await appWindow.getByTestId('remove-connection-confirm-button').click();
    await expect(appWindow.getByTestId('connection-list')).toHaveCount(0);
    await expect(row).toHaveCount(0);
    await expectNoSecrets(electronApp, appWindow, authorize, browserPages);
  });
});
