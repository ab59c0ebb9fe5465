// The Next.js example (examples/nextjs): the original feature's page and endpoints, rewritten on
// the library, built with `next build`, served by `next start` and clicked in Chromium against the
// emulator; with a second company, its routes on the desk's per-company paths. The build runs once
// for the file (about 15 s install with a warm npm cache, 20 s build).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIRequestContext, Page, TestInfo } from '@playwright/test';
import { connectionPath } from '../src/shared/connections';
import { HTTP_PATHS, type ConnectionSummary, type Result, type TokenStatus } from '../src/shared/contract';
import { serverEnvFor, startEmulatorProcess, type EmulatorProcess } from '../src/server/process-support';
import { cliAddCompany } from './support/cli-add';
import { expect, test } from './support/headless';
import { buildExample, startExample, type RunningExample } from './support/nextjs-example';

const ADMIN_SECRET = 'example-admin-secret-for-tests';
const COMPANY = 'Copper Kettle Tea Co.';
const ROUTE = HTTP_PATHS.refreshToken;
const PAGE = '/integrations/quickbooks';

test.describe.configure({ mode: 'serial', timeout: 120_000 });

let emulator: EmulatorProcess;

test.beforeAll(async () => {
  test.setTimeout(600_000);
  const { installMs, buildMs } = await buildExample();
  console.log(`[figures] Next.js example: npm install ${installMs} ms, next build ${buildMs} ms`);
  emulator = await startEmulatorProcess({ companyName: COMPANY });
});

test.afterAll(async () => {
  await emulator?.stop();
});

/** A running example on a fresh store; stopped (and its store removed) at the end of the test. */
async function exampleWith(env: Record<string, string> = {}): Promise<RunningExample & { dataDir: string }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'qb-nextjs-example-'));
  const running = await startExample({
    ...serverEnvFor(emulator, dataDir),
    EXAMPLE_ADMIN_SECRET: ADMIN_SECRET,
    ...env,
  });
  started.push(async () => {
    await running.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  return { ...running, dataDir };
}
const started: Array<() => Promise<void>> = [];
test.afterEach(async () => {
  for (const stop of started.splice(0)) await stop();
});

async function api(
  request: APIRequestContext,
  example: RunningExample,
  method: 'GET' | 'POST' | 'DELETE',
  secret: string | null = ADMIN_SECRET,
): Promise<{ status: number; body: Result<TokenStatus>; text: string }> {
  const response = await request.fetch(example.url + ROUTE, {
    method,
    headers: secret ? { authorization: `Bearer ${secret}` } : {},
  });
  const text = await response.text();
  return { status: response.status(), body: JSON.parse(text) as Result<TokenStatus>, text };
}

function value(result: { body: Result<TokenStatus> }): TokenStatus {
  if (!result.body.ok) throw new Error(`${result.body.error.code}: ${result.body.error.message}`);
  return result.body.value;
}

/** Every token value the emulator has issued must be absent from what the test saw. */
async function expectNoTokenValues(seen: string[]): Promise<void> {
  const response = await fetch(`${emulator.controlUrl}/issued-values`);
  const { values } = (await response.json()) as { values: string[] };
  expect(values.length).toBeGreaterThan(0);
  for (const secret of [...values, emulator.clientSecret, emulator.refreshToken]) {
    for (const text of seen)
      expect(text.includes(secret), 'a token value reached the page or an answer').toBe(false);
  }
}

async function screenshot(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  await page.screenshot({ path: testInfo.outputPath(`${name}.png`), fullPage: true });
}

test('the QuickBooks page shows expiry, source and auto-refresh; the endpoint is closed to anyone the app does not authorize', async ({
  page,
  request,
}, testInfo) => {
  const example = await exampleWith();
  await page.goto(example.url + PAGE);
  await expect(page.getByTestId('company')).toHaveText(COMPANY);
  await expect(page.getByTestId('state')).toHaveText('valid');
  await expect(page.getByTestId('source')).toHaveText('Cached (issued by a refresh)');
  await expect(page.getByTestId('auto-refresh')).toContainText(/^On: next refresh .+, 300 s before expiry$/);

  const status = value(await api(request, example, 'GET'));
  await expect(page.getByTestId('expires')).toHaveAttribute('datetime', status.accessToken?.expiresAt ?? '');
  await expect(page.getByTestId('next-refresh')).toHaveAttribute(
    'datetime',
    status.autoRefresh.nextRefreshAt ?? '',
  );
  await screenshot(page, testInfo, 'quickbooks-page');

  const refused = await Promise.all([
    api(request, example, 'GET', null),
    api(request, example, 'POST', 'Bearer not-the-secret'),
    api(request, example, 'DELETE', null),
  ]);
  for (const answer of refused) {
    expect(answer.status).toBe(401);
    expect(answer.body).toMatchObject({ ok: false, error: { code: 'unauthorized' } });
  }
  await expectNoTokenValues([await page.content(), ...refused.map((answer) => answer.text)]);
});

test('POST forces a refresh and DELETE clears the cached access token, and the page follows', async ({
  page,
  request,
}, testInfo) => {
  const example = await exampleWith();
  // The engine starts on the first call and refreshes at once (no access token yet): let that settle.
  await expect.poll(async () => value(await api(request, example, 'GET')).state).toBe('valid');
  const first = value(await api(request, example, 'GET'));
  const calls = (await emulator.control.counters()).tokenCalls.refresh_token;

  const refreshed = await api(request, example, 'POST');
  expect(refreshed.status).toBe(200);
  const after = value(refreshed);
  expect(after.lastRefresh).toMatchObject({ ok: true, trigger: 'manual' });
  expect(after.accessToken?.preview).not.toBe(first.accessToken?.preview);
  expect((await emulator.control.counters()).tokenCalls.refresh_token).toBe(calls + 1);
  await page.goto(example.url + PAGE);
  await expect(page.getByTestId('last-refresh')).toContainText('(ok, manual)');
  await expect(page.getByTestId('expires')).toHaveAttribute('datetime', after.accessToken?.expiresAt ?? '');

  const cleared = await api(request, example, 'DELETE');
  expect(cleared.status).toBe(200);
  expect(value(cleared).accessToken).toBeNull();
  expect(value(cleared).refreshToken?.preview).toBe(after.refreshToken?.preview);
  // The page's own CompanyInfo call needs a token again: one refresh, on demand.
  await page.reload();
  await expect(page.getByTestId('company')).toHaveText(COMPANY);
  await expect(page.getByTestId('last-refresh')).toContainText('(ok, on-demand)');
  expect((await emulator.control.counters()).tokenCalls.refresh_token).toBe(calls + 2);
  await screenshot(page, testInfo, 'after-clear');
  await expectNoTokenValues([await page.content(), refreshed.text, cleared.text]);
});

test('when the refresh token is refused, the page falls back to the environment’s access token, as the original feature did', async ({
  page,
}, testInfo) => {
  const granted = await emulator.control.issueAuthorization();
  await emulator.control.injectTokenFault({ kind: 'invalid_grant' });
  const example = await exampleWith({
    QB_REFRESH_TOKEN: granted.refreshToken,
    QB_ACCESS_TOKEN: granted.accessToken,
  });
  await page.goto(example.url + PAGE);
  await expect(page.getByTestId('company')).toHaveText(COMPANY);
  await expect(page.getByTestId('source')).toHaveText('Environment (QB_ACCESS_TOKEN)');
  await expect(page.getByTestId('state')).toHaveText('reauthorization_required');
  await screenshot(page, testInfo, 'environment-fallback');
  await expectNoTokenValues([await page.content()]);
});

test('several companies: the list and each company’s own refresh-token route, closed to anyone the app does not authorize', async ({
  request,
}) => {
  const example = await exampleWith();
  const realm = '5550121';
  await cliAddCompany(emulator, example.dataDir, 'Gamma Gardens', realm);
  const calls = (await emulator.control.counters()).tokenCalls.refresh_token;
  const send = async <T>(method: string, path: string, secret: string | null = ADMIN_SECRET) => {
    const response = await request.fetch(example.url + path, {
      method,
      headers: secret ? { authorization: `Bearer ${secret}` } : {},
    });
    const text = await response.text();
    seen.push(text);
    return { status: response.status(), body: JSON.parse(text) as Result<T> };
  };
  const seen: string[] = [];

  const listed = await send<ConnectionSummary[]>('GET', HTTP_PATHS.connections);
  expect(listed.status).toBe(200);
  if (!listed.body.ok) throw new Error(listed.body.error.message);
  expect(listed.body.value.map((summary) => [summary.id, summary.name, summary.realmId])).toEqual([
    ['default', 'QuickBooks sandbox', emulator.realmId],
    [realm, 'Gamma Gardens', realm],
  ]);

  const status = await send<TokenStatus>('GET', connectionPath(realm, 'refreshToken'));
  expect(status.body).toMatchObject({
    ok: true,
    value: { connection: { id: realm }, realmId: realm, state: 'valid' },
  });
  const forced = await send<TokenStatus>('POST', connectionPath(realm, 'refreshToken'));
  expect(forced.body).toMatchObject({
    ok: true,
    value: {
      connection: { id: realm },
      lastRefresh: { ok: true, trigger: 'manual', client: 'nextjs-example' },
    },
  });
  expect((await emulator.control.counters()).tokenCalls.refresh_token).toBe(calls + 1);
  const unknown = await send<TokenStatus>('GET', connectionPath('4242', 'refreshToken'));
  expect(unknown.status).toBe(404);
  expect(unknown.body).toMatchObject({ ok: false, error: { code: 'unknown_connection' } });
  for (const [method, path] of [
    ['GET', HTTP_PATHS.connections],
    ['POST', connectionPath(realm, 'refreshToken')],
    ['GET', connectionPath('4242', 'refreshToken')],
  ] as const) {
    const refused = await send<TokenStatus>(method, path, null);
    expect(refused.status).toBe(401);
  }
  // Neither an unknown company nor a refused caller cost a token call.
  expect((await emulator.control.counters()).tokenCalls.refresh_token).toBe(calls + 1);
  // The original route still serves the default connection, not the company.
  const byDefault = await send<TokenStatus>('GET', ROUTE);
  expect(byDefault.body).toMatchObject({
    ok: true,
    value: { connection: { id: 'default' }, realmId: emulator.realmId },
  });

  await expectNoTokenValues(seen);
});
