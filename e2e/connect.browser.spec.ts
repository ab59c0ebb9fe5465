// Connect and Disconnect in Chromium: the real dashboard served by the headless server, the real
// emulator's consent page on its own loopback port, and the browser following every redirect
// (dashboard -> /connect -> consent page -> /callback -> dashboard).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { serverEnvFor, startEmulatorProcess, startServerProcess } from '../src/server/process-support';
import { expect, test, type Headless } from './support/headless';

test.describe.configure({ mode: 'parallel', timeout: 120_000 });

const COMPANY = 'Lantern Street Books Ltd';
const pill = (page: Page) => page.getByTestId('state-pill');

/** Signs the browser in and waits for the dashboard's first status. */
async function openDashboard(page: Page, headless: Headless): Promise<void> {
  await page.goto(headless.uiUrl);
  await expect(pill(page)).toBeVisible();
}

/** On the emulator's consent page (reached through GET /connect), approve. Returns the /callback URL. */
async function approveOnConsentPage(page: Page, headless: Headless): Promise<string> {
  const emulator = headless.emulator;
  if (!emulator) throw new Error('this spec needs the emulator process');
  await page.waitForURL((url) => url.href.startsWith(emulator.authorizeUrl));
  await expect(page.getByText(COMPANY)).toBeVisible();
  const callback = page.waitForRequest((request) =>
    request.url().startsWith(`${headless.baseUrl}/callback?`),
  );
  await page.locator('#connect').click();
  const url = (await callback).url();
  await page.waitForURL(`${headless.baseUrl}/`);
  await expect(pill(page)).toBeVisible();
  return url;
}

/** Token values the page must never show: the emulator's credentials, the admin secret, the store's tokens. */
function secretsOf(headless: Headless, extra: string[] = []): string[] {
  const values = [headless.adminToken, ...extra];
  if (headless.emulator) values.push(headless.emulator.clientSecret, headless.emulator.refreshToken);
  for (const name of readdirSync(headless.dataDir)) {
    if (!name.endsWith('.json')) continue;
    try {
      const record = JSON.parse(readFileSync(join(headless.dataDir, name), 'utf8')) as {
        tokens?: { accessToken?: string | null; refreshToken?: string };
      };
      values.push(record.tokens?.accessToken ?? '', record.tokens?.refreshToken ?? '');
    } catch {
      // Not a token record.
    }
  }
  return values.filter((value) => value.length >= 8);
}

async function expectNoSecrets(page: Page, secrets: string[]): Promise<void> {
  const html = await page.content();
  const leaked = secrets.filter((secret) => html.includes(secret)).map((secret) => `…${secret.slice(-4)}`);
  expect(leaked, 'token values on the page').toEqual([]);
}

test.describe('with only QB_CLIENT_ID and QB_CLIENT_SECRET', () => {
  test.use({
    headlessOptions: {
      emulator: { companyName: COMPANY },
      env: { QB_REFRESH_TOKEN: '', QB_REALM_ID: '' },
    },
  });

  test("Connect goes through the emulator's consent page and lands back connected to its company", async ({
    page,
    headlessServer,
  }) => {
    await openDashboard(page, headlessServer);
    await expect(pill(page)).toHaveAttribute('data-state', 'not_configured');
    await page.getByTestId('connect-button').click();

    const callbackUrl = await approveOnConsentPage(page, headlessServer);
    await expect(pill(page)).toHaveAttribute('data-state', 'valid');
    await expect(page.getByTestId('realm-id')).toHaveText(headlessServer.emulator?.realmId ?? '');
    await expect(page.getByTestId('history-list').locator('li').first()).toContainText('Connected');
    await page.getByRole('button', { name: 'Test connection' }).click();
    await expect(page.getByTestId('company-name')).toHaveText(COMPANY);
    expect((await headlessServer.emulator?.counters())?.tokenCalls.authorization_code).toBe(1);

    const code = new URL(callbackUrl).searchParams.get('code') ?? '';
    await expectNoSecrets(page, secretsOf(headlessServer, [code]));
  });

  test('a replayed callback is refused and the connection keeps working', async ({
    page,
    headlessServer,
  }) => {
    await openDashboard(page, headlessServer);
    await page.getByTestId('connect-button').click();
    const callbackUrl = await approveOnConsentPage(page, headlessServer);
    await expect(pill(page)).toHaveAttribute('data-state', 'valid');

    await page.goto(callbackUrl);
    await expect(page.locator('#connect-result')).toHaveAttribute('data-outcome', 'refused');
    await expect(page.locator('h1')).toContainText('already used');
    await expectNoSecrets(
      page,
      secretsOf(headlessServer, [new URL(callbackUrl).searchParams.get('code') ?? '']),
    );

    await page.getByRole('link', { name: 'Back to the dashboard' }).click();
    await expect(pill(page)).toHaveAttribute('data-state', 'valid');
    await page.getByTestId('action-refresh').click();
    await expect(page.getByTestId('outcome-refresh')).toHaveAttribute('data-ok', 'true');
    await page.getByRole('button', { name: 'Test connection' }).click();
    await expect(page.getByTestId('company-name')).toHaveText(COMPANY);
    expect((await headlessServer.emulator?.counters())?.tokenCalls.authorization_code).toBe(1);
  });

  test('a wrong state is refused with a clear page', async ({ page, headlessServer }) => {
    await openDashboard(page, headlessServer);
    await page.getByTestId('connect-button').click();
    const emulator = headlessServer.emulator;
    await page.waitForURL((url) => url.href.startsWith(emulator?.authorizeUrl ?? '-'));
    // The answer comes back with a state this server never issued (a forged or crossed redirect).
    // (A string, as this file is compiled without the DOM's types.)
    await page.evaluate(`document.querySelector('input[name="state"]').value = 'forged-state-value'`);
    await page.locator('#connect').click();
    await page.waitForURL((url) => url.pathname === '/callback');
    await expect(page.locator('#connect-result')).toHaveAttribute('data-outcome', 'refused');
    await expect(page.locator('h1')).toContainText('state mismatch');
    expect((await emulator?.counters())?.tokenCalls.authorization_code).toBe(0);

    await page.getByRole('link', { name: 'Back to the dashboard' }).click();
    await expect(pill(page)).toHaveAttribute('data-state', 'not_configured');
  });
});

test.describe('connected from the environment', () => {
  test.use({ headlessOptions: { emulator: { companyName: COMPANY } } });

  test('Disconnect asks first, revokes at Intuit and leaves the desk not_configured', async ({
    page,
    headlessServer,
  }) => {
    await openDashboard(page, headlessServer);
    await expect(pill(page)).not.toHaveAttribute('data-state', 'not_configured');
    await page.getByTestId('disconnect-button').click();
    await expect(page.getByTestId('disconnect-confirm')).toBeVisible();
    expect((await headlessServer.emulator?.counters())?.revokeCalls).toBe(0);
    await page.getByTestId('disconnect-confirm-button').click();

    await expect(pill(page)).toHaveAttribute('data-state', 'not_configured');
    expect((await headlessServer.emulator?.counters())?.revokeCalls).toBe(1);
    expect(await headlessServer.emulator?.isRefreshTokenValid(headlessServer.emulator.refreshToken)).toBe(
      false,
    );
    await expect(page.getByTestId('connect-button')).toBeVisible();
  });

  test('after an injected invalid_grant the Connect button restores a working connection', async ({
    page,
    headlessServer,
  }) => {
    await openDashboard(page, headlessServer);
    await headlessServer.emulator?.injectTokenFault({ kind: 'invalid_grant' });
    await page.getByTestId('action-refresh').click();
    await expect(pill(page)).toHaveAttribute('data-state', 'reauthorization_required');

    await page.getByTestId('reconnect-button').click();
    await approveOnConsentPage(page, headlessServer);
    await expect(pill(page)).toHaveAttribute('data-state', 'valid');
    await page.getByTestId('action-refresh').click();
    await expect(page.getByTestId('outcome-refresh')).toHaveAttribute('data-ok', 'true');
    await page.getByRole('button', { name: 'Test connection' }).click();
    await expect(page.getByTestId('company-name')).toHaveText(COMPANY);
  });
});

test.describe('when Intuit cannot revoke', () => {
  // The revoke endpoint is a loopback port nobody listens on (port 1): the revoke fails with a network error.
  test.use({
    headlessOptions: {
      emulator: { companyName: COMPANY },
      env: { QB_REVOKE_URL: 'http://127.0.0.1:1/v2/oauth2/tokens/revoke' },
    },
  });

  test('Disconnect says so, keeps the tokens, and forgets them only when confirmed again', async ({
    page,
    headlessServer,
  }) => {
    await openDashboard(page, headlessServer);
    await expect(pill(page)).not.toHaveAttribute('data-state', 'not_configured');
    await page.getByTestId('disconnect-button').click();
    await page.getByTestId('disconnect-confirm-button').click();
    await expect(page.getByTestId('disconnect-outcome')).toContainText('Revoking the refresh token');
    await expect(page.getByTestId('disconnect-outcome')).toContainText('still stored');
    await expect(pill(page)).not.toHaveAttribute('data-state', 'not_configured');
    await expect(page.getByTestId('refresh-source')).toBeVisible();

    await page.getByTestId('disconnect-force').click();
    await expect(pill(page)).toHaveAttribute('data-state', 'not_configured');
  });
});

test.describe('after a restart', () => {
  test('the chain Connect stored (with its realmId) is used without QB_REFRESH_TOKEN or QB_REALM_ID', async ({
    page,
  }) => {
    const emulator = await startEmulatorProcess({ companyName: COMPANY });
    const env = { ...serverEnvFor(emulator), QB_REFRESH_TOKEN: '', QB_REALM_ID: '' };
    let server = await startServerProcess(env);
    try {
      await page.goto(server.url);
      await page.getByTestId('connect-button').click();
      await page.waitForURL((url) => url.href.startsWith(emulator.authorizeUrl));
      await page.locator('#connect').click();
      await page.waitForURL(`${server.baseUrl}/`);
      await expect(pill(page)).toHaveAttribute('data-state', 'valid');

      const dataDir = server.dataDir;
      await server.stop({ keepData: true });
      server = await startServerProcess({ ...env, QB_DATA_DIR: dataDir });
      await page.goto(server.url);
      await expect(pill(page)).not.toHaveAttribute('data-state', 'not_configured');
      await expect(page.getByTestId('realm-id')).toHaveText(emulator.realmId);
      await page.getByRole('button', { name: 'Test connection' }).click();
      await expect(page.getByTestId('company-name')).toHaveText(COMPANY);
      expect((await emulator.control.counters()).tokenCalls.authorization_code).toBe(1);
    } finally {
      await server.stop();
      await emulator.stop();
    }
  });
});
