// Several companies in Chromium: the real dashboard served by the headless server, the real
// emulator serving several realms. Add company runs Connect through the emulator's consent page,
// where the user picks the company in Intuit's company selector; the list shows each company worst
// first and choosing one shows its dashboard; Remove revokes at Intuit and drops it. Companies are
// also added by the `qb-token` CLI in its own process, which the server picks up from the shared store.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { FileConnectionStore } from '../src/core/file-connection-store';
import { LeakScan } from '../src/core/testing/leak-scan';
import { emulatorEnv } from '../src/emulator/app-env';
import { cleanEnv, REPO_ROOT } from '../src/server/process-support';
import { expect, test, type Headless } from './support/headless';

test.describe.configure({ mode: 'parallel', timeout: 120_000 });

const COMPANY = 'Lantern Street Books Ltd';
const pill = (page: Page) => page.getByTestId('state-pill');
const list = (page: Page) => page.getByTestId('connection-list');
const row = (page: Page, id: string) =>
  page.locator(`[data-testid="connection-item"][data-connection-id="${id}"]`);

/** Refresh tokens this spec handed to `qb-token` (the store only keeps the newest of each chain). */
const handedOver = new Set<string>();

/** `qb-token connections add` in its own process, on the server's store, the token on stdin. */
async function cliAdd(headless: Headless, name: string, realmId: string): Promise<void> {
  const emulator = headless.emulator;
  if (!emulator) throw new Error('this spec needs the emulator process');
  const issued = await emulator.issueAuthorization(realmId);
  handedOver.add(issued.refreshToken);
  const env = cleanEnv(emulatorEnv(emulator, headless.dataDir));
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        join(REPO_ROOT, 'bin/qb-token.js'),
        'connections',
        'add',
        '--name',
        name,
        '--realm',
        realmId,
        '--environment',
        'sandbox',
      ],
      { env, cwd: headless.dataDir, stdio: ['pipe', 'ignore', 'inherit'] },
    );
    child.on('error', reject);
    child.on('close', resolve);
    child.stdin.end(issued.refreshToken);
  });
  expect(code).toBe(0);
}

/**
 * What the page was answered over HTTP (every /api/ body but the event stream, which never ends),
 * for the leak scan. Call before the page opens.
 */
function recordAnswers(page: Page): LeakScan {
  const scan = new LeakScan();
  page.on('response', (response) => {
    const url = new URL(response.url());
    if (!url.pathname.startsWith('/api/')) return;
    if ((response.headers()['content-type'] ?? '').includes('text/event-stream')) return;
    void response
      .text()
      .then((text) => scan.collect(`HTTP ${response.request().method()} ${url.pathname}`, text))
      .catch(() => {});
  });
  return scan;
}

const answersOf = new WeakMap<Page, LeakScan>();

async function openDashboard(page: Page, headless: Headless): Promise<void> {
  if (!answersOf.has(page)) answersOf.set(page, recordAnswers(page));
  await page.goto(headless.uiUrl);
  await expect(pill(page)).toBeVisible();
}

/** A connection's stored tokens, read through the real store. */
async function storedTokens(headless: Headless, id: string) {
  const store = new FileConnectionStore({ dataDir: headless.dataDir, storeKey: null });
  try {
    return (await store.load(id)).record?.tokens ?? null;
  } finally {
    await store.close();
  }
}

/** Token values the page must never show: the emulator's credentials, the admin secret, every stored token. */
async function secretsOf(headless: Headless): Promise<string[]> {
  const values = [headless.adminToken];
  if (headless.emulator) values.push(headless.emulator.clientSecret, headless.emulator.refreshToken);
  for (const name of readdirSync(join(headless.dataDir, 'connections'))) {
    if (!name.endsWith('.json')) continue;
    const tokens = await storedTokens(headless, name.slice(0, -'.json'.length));
    values.push(tokens?.accessToken ?? '', tokens?.refreshToken ?? '');
  }
  return values.filter((value) => value.length >= 8);
}

/**
 * The secret scan (src/core/testing/leak-scan.ts) over what the page shows (its HTML and text), what
 * it was answered over HTTP, and what the API answers for every connection now.
 */
async function expectNoSecrets(page: Page, headless: Headless): Promise<void> {
  const scan = answersOf.get(page) ?? new LeakScan();
  scan.addSecrets(...(await secretsOf(headless)), ...handedOver);
  scan.collect('page HTML', await page.content());
  scan.collect('page text', await page.locator('body').innerText());
  const listed = await headless.api<Array<{ id: string }>>('/api/integrations/quickbooks/connections');
  scan.collect('HTTP GET connections', listed.body);
  for (const { id } of listed.body.ok ? listed.body.value : []) {
    const status = await headless.api(`/api/integrations/quickbooks/connections/${id}/refresh-token`);
    scan.collect(`HTTP GET connections/${id}/refresh-token`, status.body);
  }
  // The scan knows the tokens it looks for (at least the emulator's and one stored chain's).
  expect(scan.secretCount).toBeGreaterThanOrEqual(3);
  expect(scan.findLeaks(), 'token values the page or the API showed').toEqual([]);
}

test('with one company the page is the dashboard alone; Add company runs Connect for the company picked at Intuit', async ({
  page,
  headlessServer,
}) => {
  const emulator = headlessServer.emulator;
  if (!emulator) throw new Error('this spec needs the emulator process');
  // The user signed in at Intuit has three companies, each with its own name.
  await emulator.configure({
    companies: [
      { realmId: emulator.realmId, companyName: 'Sandbox Company_US_1' },
      { realmId: '5550401', companyName: COMPANY },
      { realmId: '5550402', companyName: 'Alder & Sons Bikes' },
    ],
  });
  await openDashboard(page, headlessServer);
  await expect(pill(page)).toHaveAttribute('data-state', 'valid');
  await expect(list(page)).toHaveCount(0);
  await expect(page).toHaveTitle('QB Token Desk');

  await page.getByTestId('add-company').click();
  await page.getByLabel('Sandbox').check();
  await page.getByTestId('add-company-continue').click();
  // At Intuit the user picks the company in the company selector, then clicks Connect.
  await page.waitForURL((url) => url.href.startsWith(emulator.authorizeUrl));
  const selector = page.getByLabel('Company');
  await expect(selector.locator('option')).toHaveText([
    'Select a company',
    'Sandbox Company_US_1',
    COMPANY,
    'Alder & Sons Bikes',
  ]);
  // Nothing is chosen for the user: Connect alone would be refused by the browser (a required choice).
  await expect(selector).toHaveValue('');
  expect(
    await selector.evaluate(
      (select) => (select as unknown as { validity: { valueMissing: boolean } }).validity.valueMissing,
    ),
  ).toBe(true);
  await selector.selectOption({ label: COMPANY });
  await page.getByRole('button', { name: 'Connect' }).click();

  // Back on the dashboard, showing the company just added, with the list beside it.
  await page.waitForURL(`${headlessServer.baseUrl}/#connection=5550401`);
  await expect(list(page)).toBeVisible();
  await expect(page.getByTestId('connection-item')).toHaveCount(2);
  await expect(row(page, '5550401')).toHaveAttribute('aria-current', 'true');
  await expect(page.getByTestId('realm-id')).toHaveText('5550401');
  await expect(pill(page)).toHaveAttribute('data-state', 'valid');
  // Named after the picked company once its CompanyInfo was read.
  await expect(row(page, '5550401').getByTestId('connection-name')).toHaveText(COMPANY);
  await expect(page).toHaveTitle('All 2 valid · QB Token Desk');
  await page.screenshot({ path: test.info().outputPath('connections-added.png') });
  await expectNoSecrets(page, headlessServer);
});

test('choosing a company shows its dashboard; a refresh or an invalid_grant there shows only there', async ({
  page,
  headlessServer,
}) => {
  await cliAdd(headlessServer, 'Alpha Books', '5550411');
  await cliAdd(headlessServer, 'Beta Bikes', '5550412');
  await openDashboard(page, headlessServer);
  await expect(page.getByTestId('connection-item')).toHaveCount(3);
  const rowA = row(page, '5550411');
  await expect(rowA.getByTestId('connection-name')).toHaveText('Alpha Books');
  await expect(rowA.getByTestId('connection-environment')).toHaveText('Sandbox');
  await expect(rowA.getByTestId('health-dot')).toHaveAttribute('data-tone', 'good');
  // A live countdown.
  const first = await rowA.getByTestId('connection-countdown').textContent();
  await expect(rowA.getByTestId('connection-countdown')).not.toHaveText(first ?? '');
  await expect(rowA.getByTestId('connection-countdown')).toContainText('left');

  await rowA.click();
  await expect(page).toHaveURL(/#connection=5550411$/);
  await expect(page.getByTestId('selected-connection-name')).toHaveText('Alpha Books');
  await expect(page.getByTestId('realm-id')).toHaveText('5550411');
  const historyBefore = await page.getByTestId('history-list').locator('li').count();
  await page.getByTestId('action-refresh').click();
  await expect(page.getByTestId('history-list').locator('li')).toHaveCount(historyBefore + 1);
  await expect(page.getByTestId('outcome-refresh')).toHaveAttribute('data-ok', 'true');

  // Intuit ends Beta's authorization (revoked elsewhere); its next refresh is refused.
  const beta = await storedTokens(headlessServer, '5550412');
  const emulator = headlessServer.emulator;
  const revoked = await fetch(emulator?.revokeUrl ?? '', {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${emulator?.clientId}:${emulator?.clientSecret}`).toString('base64')}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify({ token: beta?.refreshToken }),
  });
  expect(revoked.status).toBe(200);
  await row(page, '5550412').click();
  await expect(page.getByTestId('realm-id')).toHaveText('5550412');
  await page.getByTestId('action-refresh').click();
  await expect(pill(page)).toHaveAttribute('data-state', 'reauthorization_required');

  // Only Beta: worst first in the list, a red dot, and the window title names it.
  await expect(page.getByTestId('connection-item').first()).toHaveAttribute('data-connection-id', '5550412');
  await expect(row(page, '5550412').getByTestId('health-dot')).toHaveAttribute('data-tone', 'bad');
  for (const id of ['default', '5550411']) await expect(row(page, id)).toHaveAttribute('data-state', 'valid');
  await expect(page).toHaveTitle('Reconnect required: Beta Bikes · QB Token Desk');
  await rowA.click();
  await expect(pill(page)).toHaveAttribute('data-state', 'valid');
  await expect(page.getByTestId('verdict')).toHaveAttribute('data-tone', 'good');
  await page.screenshot({ path: test.info().outputPath('connections-invalid-grant.png') });
  await expectNoSecrets(page, headlessServer);
});

test('Remove revokes the company at Intuit and drops it; with one left the page is the dashboard alone again', async ({
  page,
  headlessServer,
}) => {
  await cliAdd(headlessServer, 'Alpha Books', '5550421');
  await openDashboard(page, headlessServer);
  await row(page, '5550421').click();
  await expect(page.getByTestId('realm-id')).toHaveText('5550421');
  const token = (await storedTokens(headlessServer, '5550421'))?.refreshToken ?? '';

  // The default connection has no Remove; this one asks first.
  await page.getByTestId('remove-connection').click();
  await expect(page.getByTestId('remove-connection-confirm')).toContainText(
    'revokes its refresh token at Intuit',
  );
  await page.getByTestId('remove-connection-confirm-button').click();

  await expect(list(page)).toHaveCount(0);
  await expect(page.getByTestId('connections-outcome')).toContainText('Removed Alpha Books');
  await expect(page.getByTestId('realm-id')).toHaveText(headlessServer.emulator?.realmId ?? '-');
  await expect(page).toHaveTitle('QB Token Desk');
  expect(await headlessServer.emulator?.isRefreshTokenValid(token)).toBe(false);
  const listed = await headlessServer.api<Array<{ id: string }>>('/api/integrations/quickbooks/connections');
  expect(listed.body.ok && listed.body.value.map((c) => c.id)).toEqual(['default']);
  // The removed company's refresh token was read before Remove: the scan looks for it too.
  handedOver.add(token);
  await expectNoSecrets(page, headlessServer);
});

test('a company another process adds appears in the open page by itself', async ({
  page,
  headlessServer,
}) => {
  await openDashboard(page, headlessServer);
  await expect(list(page)).toHaveCount(0);
  await cliAdd(headlessServer, 'Gamma Garden', '5550431');
  await expect(row(page, '5550431').getByTestId('connection-name')).toHaveText('Gamma Garden');
  await expect(page.getByTestId('connection-item')).toHaveCount(2);
  await expectNoSecrets(page, headlessServer);
});

test('at 1280 px: Add company fits the list, long names have a tooltip; a company added by hand draws only real tokens; invalid_grant leaves no valid-looking token; one revoke confirm open at a time, and it stays with its company', async ({
  page,
  headlessServer,
}) => {
  const LONG = 'Northern Lights Bicycle Repair, Rental and Coffee Cooperative of Greater Vancouver Ltd';
  await page.setViewportSize({ width: 1280, height: 800 });
  await cliAdd(headlessServer, LONG, '5550441');
  await cliAdd(headlessServer, 'Beta Bikes', '5550442');
  await openDashboard(page, headlessServer);
  const longRow = row(page, '5550441');
  // Cut with an ellipsis in the list: the whole name on hover.
  await expect(longRow.getByTestId('connection-name')).toHaveAttribute('title', LONG);
  expect(await longRow.getByTestId('connection-name').evaluate((el) => el.scrollWidth > el.clientWidth)).toBe(
    true,
  );

  // The open Add company panel stays inside the list's column: nothing sticks out or scrolls sideways.
  await page.getByTestId('add-company').click();
  const form = page.getByTestId('add-company-form');
  await expect(form).toBeVisible();
  const [listBox, formBox] = [await list(page).boundingBox(), await form.boundingBox()];
  expect(formBox && listBox && formBox.x + formBox.width <= listBox.x + listBox.width).toBe(true);
  expect(await list(page).evaluate((nav) => nav.scrollWidth <= nav.clientWidth)).toBe(true);
  await form.getByRole('button', { name: 'Cancel' }).click();

  // Added with a bare refresh token: Connected issued no access token; the first refresh did.
  await longRow.click();
  await expect(page.getByTestId('selected-connection-name')).toHaveAttribute('title', LONG);
  await expect(page.getByTestId('timeline-bar')).toHaveCount(1);
  await expect(page.getByTestId('timeline-bar')).toHaveAttribute('data-current', 'true');
  // "since" names the oldest event (the Connected entry), not the margin drawn before it.
  const oldest = page.getByTestId('history-list').locator('li').last();
  await expect(oldest).toHaveAttribute('data-type', 'connected');
  const connectedAt = (await oldest.locator('time').innerText()).split(' · ')[0];
  await expect(page.getByTestId('timeline-card')).toContainText(`since ${connectedAt}`);
  await expect(page.getByRole('img', { name: /^Token timeline/ })).toHaveAccessibleName(
    new RegExp(`^Token timeline, since ${connectedAt}: 1 access token, `),
  );

  // Intuit refuses the refresh token: the cached access token is not shown as a live, valid one.
  const stored = await storedTokens(headlessServer, '5550441');
  handedOver.add(stored?.refreshToken ?? '');
  await headlessServer.emulator?.injectTokenFault({ kind: 'invalid_grant' });
  await page.getByTestId('action-refresh').click();
  await expect(pill(page)).toHaveAttribute('data-state', 'reauthorization_required');
  await expect(page.getByTestId('access-countdown')).toHaveCount(0);
  await expect(page.getByTestId('access-bar')).toHaveCount(0);
  await expect(page.getByTestId('access-none')).toHaveText('No access token: reconnect to QuickBooks first.');
  await expect(page.getByTestId('access-stale')).toContainText('is not renewed');

  // A confirm opened for one company does not follow to the next one chosen: neither Remove's nor
  // Disconnect's (the next company's Disconnect would revoke a company the user did not ask about).
  await page.getByTestId('remove-connection').click();
  await expect(page.getByTestId('remove-connection-confirm')).toHaveCount(1);
  await row(page, '5550442').click();
  await expect(page.getByTestId('selected-connection-name')).toHaveText('Beta Bikes');
  await expect(page.getByTestId('remove-connection-confirm')).toHaveCount(0);
  await expect(page.getByTestId('remove-connection')).toHaveCount(1);
  await page.getByTestId('disconnect-button').click();
  await expect(page.getByTestId('disconnect-confirm')).toContainText('Disconnecting revokes');
  // One confirm at a time: both end in the same Disconnect/Remove + Cancel buttons, so with both open
  // a click could land on the one the user did not mean. Opening one closes the other.
  await page.getByTestId('remove-connection').click();
  await expect(page.getByTestId('remove-connection-confirm')).toContainText('Removing Beta Bikes revokes');
  await expect(page.getByTestId('disconnect-confirm')).toHaveCount(0);
  await expect(page.getByRole('group', { name: /^Confirm / })).toHaveCount(1);
  await page.getByTestId('disconnect-button').click();
  await expect(page.getByTestId('disconnect-confirm')).toContainText('Disconnecting revokes');
  await expect(page.getByTestId('remove-connection-confirm')).toHaveCount(0);
  await expect(page.getByRole('group', { name: /^Confirm / })).toHaveCount(1);
  await longRow.click();
  await expect(page.getByTestId('selected-connection-name')).toHaveText(LONG);
  await expect(page.getByTestId('disconnect-confirm')).toHaveCount(0);
  await expect(page.getByRole('group', { name: /^Confirm / })).toHaveCount(0);
  await page.screenshot({ path: test.info().outputPath('connections-1280.png') });
  await expectNoSecrets(page, headlessServer);
});
