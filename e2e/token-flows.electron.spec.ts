// The core flows through the built desktop app, in demo mode (the in-process Intuit emulator):
// the dashboard shows the engine's status, Refresh now and Clear cache work through the bridge,
// and every change is pushed to the page. Skipped, with the reason shown, where no Electron runtime exists.
import type { TokenStatus } from '../src/shared/contract';
import { electronRuntime, expect, NO_ELECTRON_REASON, test } from './support/electron-app';

interface PageWithBridge {
  qbTokens: {
    getStatus(): Promise<{ ok: boolean; value?: TokenStatus }>;
    onStatusChanged(callback: (status: TokenStatus) => void): () => void;
  };
  pushedStatuses?: TokenStatus[];
}

test.describe('Token flows in the desktop app (demo mode)', () => {
  test.skip(!electronRuntime.executablePath, NO_ELECTRON_REASON);
  test.use({ appEnv: { QB_DEMO: '1' } });

  test('shows the demo connection the engine reports', async ({ appWindow }) => {
    const result = await appWindow.evaluate(() =>
      (globalThis as unknown as PageWithBridge).qbTokens.getStatus(),
    );
    expect(result.ok).toBe(true);
    expect(result.value?.demo).toBe(true);
    expect(result.value?.state).not.toBe('not_configured');
    await expect(appWindow.getByTestId('state-pill')).toBeVisible();
    await expect(appWindow.getByTestId('state-pill')).not.toHaveAttribute('data-state', 'not_configured');
  });

  test('Refresh now refreshes through the bridge and the page is told', async ({ appWindow }) => {
    await expect(appWindow.getByTestId('action-refresh')).toBeEnabled();
    await appWindow.evaluate(() => {
      const page = globalThis as unknown as PageWithBridge;
      page.pushedStatuses = [];
      page.qbTokens.onStatusChanged((status) => page.pushedStatuses?.push(status));
    });
    const before = Number(await appWindow.getByTestId('count-refreshes').innerText());

    await appWindow.getByTestId('action-refresh').click();
    await expect(appWindow.getByTestId('outcome-refresh')).toHaveAttribute('data-ok', 'true');
    await expect(appWindow.getByTestId('count-refreshes')).toHaveText(String(before + 1));
    await expect(appWindow.getByTestId('last-refresh-trigger')).toHaveText('Manual');

    const pushed = await appWindow.evaluate(
      () => (globalThis as unknown as PageWithBridge).pushedStatuses ?? [],
    );
    expect(pushed.some((status) => status.lastRefresh?.trigger === 'manual' && status.lastRefresh.ok)).toBe(
      true,
    );
    // Only previews cross the bridge.
    for (const status of pushed) {
      if (status.accessToken) expect(status.accessToken.preview).toMatch(/^….{4}$/);
    }
  });

  test('Clear cache drops the access token and keeps the refresh token', async ({ appWindow }) => {
    await expect(appWindow.getByTestId('action-clear')).toBeEnabled();
    await appWindow.getByTestId('action-clear').click();
    await expect(appWindow.getByTestId('outcome-clear')).toHaveAttribute('data-ok', 'true');
    await expect(appWindow.getByTestId('access-none')).toBeVisible();
    const result = await appWindow.evaluate(() =>
      (globalThis as unknown as PageWithBridge).qbTokens.getStatus(),
    );
    expect(result.value?.accessToken).toBeNull();
    expect(result.value?.refreshToken).not.toBeNull();

    // The next refresh brings an access token back.
    await appWindow.getByTestId('action-refresh').click();
    await expect(appWindow.getByTestId('outcome-refresh')).toHaveAttribute('data-ok', 'true');
    await expect(appWindow.getByTestId('access-none')).toHaveCount(0);
  });
});

test.describe('Desktop app start-up with a bad configuration', () => {
  test.skip(!electronRuntime.executablePath, NO_ELECTRON_REASON);
  test.use({
    appEnv: {
      QB_CLIENT_ID: 'e2e-client-id',
      QB_CLIENT_SECRET: 'e2e-client-secret-value',
      QB_REFRESH_TOKEN: 'e2e-refresh-token-value',
      QB_ENVIRONMENT: 'staging',
    },
  });

  test('shows not_configured with the variable named, instead of crashing', async ({
    electronApp,
    appWindow,
  }) => {
    const result = await appWindow.evaluate(() =>
      (globalThis as unknown as PageWithBridge).qbTokens.getStatus(),
    );
    expect(result.value?.state).toBe('not_configured');
    expect(result.value?.warnings.join(' ')).toContain('QB_ENVIRONMENT');
    await expect(appWindow.getByTestId('warnings')).toContainText('QB_ENVIRONMENT');
    await expect(appWindow.locator('body')).not.toContainText('e2e-client-secret-value');
    expect(electronApp.windows()).toHaveLength(1);
  });
});
