// createQuickBooks() over real loopback HTTP against the emulator, with the real engine and file
// store underneath. Token-call and API counts come from the emulator, not from the library.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startDesk } from '../core/bootstrap';
import { waitForStatus } from '../server/test-support';
import { ApiError } from '../core/errors';
import { emulatorEnv } from '../emulator/app-env';
import type { TokenStatus } from '../shared/contract';
import {
  ConfigError,
  createQuickBooks,
  NotConfiguredError,
  QuickBooksApiError,
  ReauthorizationRequiredError,
  TransientError,
  type CreateQuickBooksOptions,
  type QuickBooks,
} from './index';
import { createQuickBooksWith, type InternalOptions } from './quickbooks';
import { libraryTestBed } from './testing/test-bed';

const FAST: InternalOptions = {
  manager: { retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 20, cooldownMs: 50 }, random: () => 0.5 },
};

const bed = libraryTestBed({
  prefix: 'qb-lib-test',
  emulator: { apiLatencyMs: 10 },
  // The library paces its own calls within Intuit's 10 a second (src/core/api-pacing.test.ts), but
  // each test opens a new instance, which knows nothing of the calls the test before it made in the
  // same second: lifted, so one test's calls never throttle the next's.
  eachTest: { apiLatencyMs: 10, maxRequestsPerSecondPerRealm: 1000 },
});
const { rejection, tokenCalls } = bed;

/** A library instance on the emulator and this test's store; `env` entries replace the emulator's. */
function open(
  options: CreateQuickBooksOptions & { extraEnv?: Record<string, string | undefined> } = {},
): QuickBooks {
  const { extraEnv, ...rest } = options;
  const logLines: string[] = [];
  const quickbooks = createQuickBooksWith(
    {
      env: { ...emulatorEnv(bed.emulator, bed.dataDir), ...extraEnv },
      cwd: bed.dataDir,
      log: (line) => {
        logLines.push(line);
        bed.scan.collect('log line', line);
      },
      ...rest,
    },
    FAST,
  );
  quickbooks.onStatusChanged((status) => bed.scan.collect('status event', status));
  bed.track(quickbooks);
  return quickbooks;
}

const queryPath = (statement: string) =>
  `/v3/company/${bed.emulator.realmId}/query?query=${encodeURIComponent(statement)}`;

describe('createQuickBooks: tokens', () => {
  it('does nothing until first used, then serves 50 concurrent callers from one token call', async () => {
    // Created at module level in an app: no file read, no token call until the first use.
    const quickbooks = createQuickBooksWith(
      { env: emulatorEnv(bed.emulator, bed.dataDir), cwd: bed.dataDir, clientName: 'billing-app' },
      FAST,
    );
    bed.track(quickbooks);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(tokenCalls()).toBe(0);
    expect(() => quickbooks.getStatus()).toThrow(/await quickbooks.ready\(\)/);

    const tokens = await Promise.all(Array.from({ length: 50 }, () => quickbooks.getAccessToken()));
    expect(new Set(tokens).size).toBe(1);
    expect(tokenCalls()).toBe(1);
    const status = quickbooks.getStatus();
    expect(status).toMatchObject({ state: 'valid', source: 'cached', realmId: bed.emulator.realmId });
    expect(status.accessToken?.preview).toBe(`…${tokens[0]?.slice(-4)}`);
    expect(quickbooks.clientName).toBe('billing-app');
  });

  it('reads QB_* from .env.local in the working directory, and an explicit config wins field by field', async () => {
    const env = emulatorEnv(bed.emulator, bed.dataDir);
    await writeFile(
      join(bed.dataDir, '.env.local'),
      Object.entries(env)
        .map(([name, value]) => `${name}=${value}`)
        .join('\n'),
    );
    const fromFile = createQuickBooksWith({ env: {}, cwd: bed.dataDir }, FAST);
    bed.track(fromFile);
    await expect(fromFile.getAccessToken()).resolves.toMatch(/\S{20,}/);

    // The environment points the API at a closed port; the config object's apiBaseUrl wins.
    const overridden = createQuickBooksWith(
      {
        env: { ...env, QB_API_BASE_URL: 'http://127.0.0.1:9/' },
        cwd: bed.dataDir,
        config: { apiBaseUrl: bed.emulator.apiBaseUrl, refreshSkewSeconds: 60 },
      },
      FAST,
    );
    bed.track(overridden);
    const response = await overridden.fetch(
      `/v3/company/${bed.emulator.realmId}/companyinfo/${bed.emulator.realmId}`,
    );
    expect(response.status).toBe(200);
    expect((await overridden.ready()).autoRefresh.skewSeconds).toBe(60);
  });

  it('refresh() and clear() answer with the status; clear keeps the refresh token and the next call refreshes', async () => {
    const quickbooks = open();
    const seen: TokenStatus[] = [];
    const unsubscribe = quickbooks.onStatusChanged((status) => seen.push(status));
    const refreshed = await quickbooks.refresh();
    expect(refreshed.lastRefresh).toMatchObject({ ok: true, trigger: 'manual' });
    expect(seen.some((status) => status.state === 'refreshing')).toBe(true);

    const cleared = await quickbooks.clear();
    expect(cleared.accessToken).toBeNull();
    expect(cleared.refreshToken?.preview).toBe(refreshed.refreshToken?.preview);
    expect(cleared.history[0]?.type).toBe('cleared');

    unsubscribe();
    const heard = seen.length;
    await quickbooks.getAccessToken();
    expect(tokenCalls()).toBe(2);
    expect(seen.length).toBe(heard);
  });

  it('shares the chain and its history with the desk over one store: no second token call, one for both after Clear, the app named in the desk’s history', async () => {
    const desk = await startDesk({
      env: emulatorEnv(bed.emulator, bed.dataDir),
      cwd: bed.dataDir,
      log: () => undefined,
    });
    try {
      const deskToken = await desk.desk.getAccessToken();
      const callsAfterDesk = tokenCalls();
      const quickbooks = open({ clientName: 'shared-app' });
      // The library finds the desk's access token in the store instead of refreshing.
      expect(await quickbooks.getAccessToken()).toBe(deskToken);
      expect(tokenCalls()).toBe(callsAfterDesk);

      await quickbooks.clear();
      await desk.manager.clear();
      const both = await Promise.all([
        ...Array.from({ length: 10 }, () => quickbooks.getAccessToken()),
        ...Array.from({ length: 10 }, () => desk.desk.getAccessToken()),
      ]);
      expect(new Set(both).size).toBe(1);
      expect(tokenCalls()).toBe(callsAfterDesk + 1);

      // A refresh the app forces shows in the desk's own status, under the app's name.
      const forced = await quickbooks.refresh();
      expect(forced.lastRefresh).toMatchObject({ ok: true, trigger: 'manual', client: 'shared-app' });
      const seenByDesk = await waitForStatus(
        desk.desk,
        (status) => status.lastRefresh?.at === forced.lastRefresh?.at,
      );
      expect(seenByDesk.lastRefresh?.client).toBe('shared-app');
      expect(seenByDesk.history.find((event) => event.type === 'refreshed')).toMatchObject({
        client: 'shared-app',
      });
      expect(seenByDesk.accessToken?.preview).toBe(forced.accessToken?.preview);
    } finally {
      await desk.close();
    }
  });
});

describe('createQuickBooks: fetch', () => {
  it('adds the bearer and Accept, resolves a /v3 path against the API base, and answers a Response', async () => {
    const quickbooks = open();
    const response = await quickbooks.fetch(queryPath('select * from Customer'));
    expect(response.ok).toBe(true);
    expect(response.headers.get('content-type')).toMatch(/application\/json/);
    const body = (await response.json()) as { QueryResponse: { Customer: { DisplayName: string }[] } };
    expect(body.QueryResponse.Customer.length).toBeGreaterThan(0);

    const company = await quickbooks.fetch(`companyinfo/${bed.emulator.realmId}`);
    expect(
      ((await company.json()) as { CompanyInfo: { CompanyName: string } }).CompanyInfo.CompanyName,
    ).toBeTruthy();

    const posted = await quickbooks.fetch('query', {
      method: 'POST',
      headers: { 'Content-Type': 'application/text' },
      body: 'select count(*) from Customer',
    });
    expect(
      ((await posted.json()) as { QueryResponse: { totalCount: number } }).QueryResponse.totalCount,
    ).toBeGreaterThan(0);
  });

  it('after a server-side revoke, 20 concurrent calls make one refresh, all succeed, never more than 10 in flight', async () => {
    const quickbooks = open();
    await quickbooks.getAccessToken();
    bed.emulator.control.resetCounters();
    bed.emulator.control.revokeAccessTokens();
    const responses = await Promise.all(
      // Paced at 10 a second (the 401s count too): 20 calls take about three seconds.
      Array.from({ length: 20 }, () => quickbooks.fetch(`companyinfo/${bed.emulator.realmId}`)),
    );
    expect(responses.every((response) => response.status === 200)).toBe(true);
    const counters = bed.emulator.control.counters();
    expect(counters.tokenCalls.refresh_token).toBe(1);
    expect(counters.api401s).toBeGreaterThanOrEqual(1);
    expect(counters.api429s).toBe(0);
    expect(counters.maxApiInFlightByRealm[bed.emulator.realmId]).toBeLessThanOrEqual(10);
    expect(quickbooks.getStatus().stats.retriedOn401).toBe(1);
  });

  it('an error answer rejects with QuickBooksApiError: status, Intuit fault code, intuit_tid; a second 401 is not retried again', async () => {
    const quickbooks = open();
    const notFound = await rejection(quickbooks.fetch('customer/999999'));
    expect(notFound).toBeInstanceOf(QuickBooksApiError);
    expect(notFound).toBeInstanceOf(ApiError);
    expect(notFound).toMatchObject({
      name: 'QuickBooksApiError',
      status: 400,
      faultCode: '610',
      transient: false,
    });
    expect((notFound as QuickBooksApiError).intuitTid).toMatch(/\S+/);

    bed.emulator.control.injectApiFault({ kind: 'status', status: 403 });
    expect(await rejection(quickbooks.fetch(`companyinfo/${bed.emulator.realmId}`))).toMatchObject({
      status: 403,
      faultCode: '3100',
      code: 'forbidden',
    });

    bed.emulator.control.injectApiFault({ kind: 'status', status: 503 });
    expect(await rejection(quickbooks.fetch(`companyinfo/${bed.emulator.realmId}`))).toMatchObject({
      status: 503,
      transient: true,
    });

    const before = tokenCalls();
    bed.emulator.control.injectApiFault({ kind: 'status', status: 401 }, 2);
    const unauthorized = await rejection(quickbooks.fetch(`companyinfo/${bed.emulator.realmId}`));
    expect(unauthorized).toMatchObject({ status: 401, faultCode: '3200' });
    expect(tokenCalls()).toBe(before + 1);
  });
});

describe('createQuickBooks: typed errors', () => {
  it('NotConfiguredError without keys or tokens; the status says not_configured', async () => {
    const quickbooks = createQuickBooksWith({ env: { QB_DATA_DIR: bed.dataDir }, cwd: bed.dataDir }, FAST);
    bed.track(quickbooks);
    expect(await rejection(quickbooks.getAccessToken())).toBeInstanceOf(NotConfiguredError);
    expect(quickbooks.getStatus()).toMatchObject({ state: 'not_configured', demo: false });
    expect(await rejection(quickbooks.fetch('companyinfo/1'))).toBeInstanceOf(NotConfiguredError);
  });

  it('NotConfiguredError when Intuit refuses the keys (invalid_client), with Intuit\u2019s explanation', async () => {
    const quickbooks = open();
    bed.emulator.control.injectTokenFault({ kind: 'invalid_client' });
    const error = await rejection(quickbooks.getAccessToken());
    expect(error).toBeInstanceOf(NotConfiguredError);
    expect(error.message).toMatch(/QB_CLIENT_ID/);
  });

  it('ReauthorizationRequiredError when the refresh token is refused (invalid_grant)', async () => {
    const quickbooks = open();
    bed.emulator.control.injectTokenFault({ kind: 'invalid_grant' });
    const error = await rejection(quickbooks.getAccessToken());
    expect(error).toBeInstanceOf(ReauthorizationRequiredError);
    expect(quickbooks.getStatus().state).toBe('reauthorization_required');
    expect(await rejection(quickbooks.fetch('companyinfo/1'))).toBeInstanceOf(ReauthorizationRequiredError);
  });

  it('TransientError when Intuit keeps failing or the API cannot be reached; the refresh token is kept', async () => {
    const quickbooks = open();
    bed.emulator.control.injectTokenFault({ kind: 'status', status: 503 }, 5);
    const error = await rejection(quickbooks.getAccessToken());
    expect(error).toBeInstanceOf(TransientError);
    expect(error).toMatchObject({ kind: 'server' });
    expect((error as TransientError).intuitTid).toMatch(/\S+/);
    bed.emulator.control.clearFaults();
    await expect(quickbooks.getAccessToken()).resolves.toMatch(/\S{20,}/);

    const unreachable = open({ config: { apiBaseUrl: 'http://127.0.0.1:9' } });
    expect(await rejection(unreachable.fetch('companyinfo/1'))).toMatchObject({
      name: 'TransientError',
      kind: 'network',
    });
  });

  it('ConfigError naming the variable or option: a bad QB_* value, QB_DEMO, a bad clientName or config field', async () => {
    const badEnvironment = open({ extraEnv: { QB_ENVIRONMENT: 'staging' } });
    const error = await rejection(badEnvironment.getAccessToken());
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ variable: 'QB_ENVIRONMENT' });
    expect(error.message).toMatch(/QB_ENVIRONMENT must be "sandbox" or "production"/);

    await writeFile(join(bed.dataDir, '.env'), 'QB_DEMO=1\n');
    const demo = await rejection(open().ready());
    expect(demo).toMatchObject({ name: 'ConfigError', variable: 'QB_DEMO' });
    expect(demo.message).toMatch(/\(from \.env\)/);

    expect(() => createQuickBooks({ clientName: 'two\nlines' })).toThrow(
      /clientName must be 1 to 64 printable/,
    );
    const inherited = await rejection(
      open({ config: { toString: 'x' } as unknown as CreateQuickBooksOptions['config'] }).ready(),
    );
    expect(inherited.message).toMatch(/config\.toString is not a setting/);
    const unknown = await rejection(
      open({ config: { clientSecrets: 'x' } as unknown as CreateQuickBooksOptions['config'] }).ready(),
    );
    expect(unknown.message).toMatch(/config\.clientSecrets is not a setting/);
  });

  it('close() waits for the engine, then every call rejects', async () => {
    const quickbooks = open();
    await quickbooks.getAccessToken();
    await quickbooks.close();
    await expect(quickbooks.getAccessToken()).rejects.toThrow(/is closed/);
    expect(() => quickbooks.getStatus()).toThrow(/is closed/);
  });
});
