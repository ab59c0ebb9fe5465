// Several companies through the library, over real loopback HTTP against the emulator (which serves
// several realms and refuses a token issued for another company), with the real engine and file
// store underneath. Companies are added as the desk adds them (ConnectionRegistry.add, what
// `qb-token connections add` runs). Token-call and in-flight counts come from the emulator.
import { beforeEach, describe, expect, it } from 'vitest';
import { startDesk, type StartedDesk } from '../core/bootstrap';
import { UnknownConnectionError as EngineUnknownConnectionError } from '../core/errors';
import { emulatorEnv } from '../emulator/app-env';
import { waitForStatus } from '../server/test-support';
import type { ConnectionSummary, Result, TokenStatus } from '../shared/contract';
import {
  ConfigError,
  createQuickBooks,
  QuickBooksApiError,
  ReauthorizationRequiredError,
  UnknownConnectionError,
  type CreateQuickBooksOptions,
  type QuickBooks,
} from './index';
import {
  createConnectionListHandler,
  createConnectionRouteHandlers,
  type AuthorizeTarget,
  type ConnectionRouteHandlers,
} from './next';
import { createQuickBooksWith, type InternalOptions } from './quickbooks';
import { libraryTestBed } from './testing/test-bed';

const REALM_A = '5550101';
const REALM_B = '5550102';
const COMPANIES = [
  [REALM_A, 'Alpha Books'],
  [REALM_B, 'Beta Bikes'],
] as const;
const SESSION = 'Bearer app-session-for-tests';

const FAST: InternalOptions = {
  manager: { retry: { maxAttempts: 1, baseDelayMs: 5, maxDelayMs: 20, cooldownMs: 50 }, random: () => 0.5 },
};

const desks: StartedDesk[] = [];
const bed = libraryTestBed({
  prefix: 'qb-lib-companies',
  emulator: { apiLatencyMs: 10, maxRequestsPerSecondPerRealm: 1000 },
  eachTest: { apiLatencyMs: 10, maxConcurrentPerRealm: 10 },
  cleanup: async () => {
    for (const started of desks.splice(0)) await started.close();
  },
});
const { rejection, tokenCalls } = bed;
/** One log function per test: handles with the same settings and log share an engine, as in an app. */
let log: (line: string) => void;
beforeEach(() => {
  log = (line) => bed.scan.collect('log line', line);
});

/** A library handle on the emulator and this test's store. */
function open(options: CreateQuickBooksOptions = {}): QuickBooks {
  const quickbooks = createQuickBooksWith(
    {
      env: emulatorEnv(bed.emulator, bed.dataDir),
      cwd: bed.dataDir,
      clientName: 'billing-app',
      log,
      ...options,
    },
    FAST,
  );
  bed.track(quickbooks);
  return quickbooks;
}

/** A desk process's engine (in this process) on the same store. */
async function desk(): Promise<StartedDesk> {
  const started = await startDesk({
    env: emulatorEnv(bed.emulator, bed.dataDir),
    cwd: bed.dataDir,
    log: (line) => bed.scan.collect('desk log', line),
  });
  desks.push(started);
  await started.manager.whenIdle();
  return started;
}

/** The default connection plus two companies, each refreshed once and stored, as the desk adds them. */
async function addCompanies(
  started: StartedDesk,
  companies: ReadonlyArray<readonly [string, string]> = COMPANIES,
): Promise<void> {
  for (const [realmId, name] of companies) {
    const issued = bed.emulator.control.issueAuthorization(realmId);
    await started.connections.add({
      name,
      realmId,
      environment: 'sandbox',
      refreshToken: issued.refreshToken,
    });
    await started.connections.desk(realmId).refresh('manual');
  }
}

async function storeWithCompanies(): Promise<void> {
  const started = await desk();
  await addCompanies(started);
  await started.close();
  desks.splice(desks.indexOf(started), 1);
  bed.emulator.control.resetCounters();
}

describe('a handle per company', () => {
  it('createQuickBooks({ connection }) by realm id or connection id serves that company: its token, its API company, its name; no option is the default connection', async () => {
    await storeWithCompanies();
    const byDefault = open();
    const alpha = open({ connection: REALM_A });
    const beta = open({ connection: REALM_B });

    expect((await byDefault.ready()).connection.id).toBe('default');
    expect(byDefault.getStatus().realmId).toBe(bed.emulator.realmId);
    expect(await alpha.ready()).toMatchObject({
      connection: { id: REALM_A, name: 'Alpha Books' },
      realmId: REALM_A,
      state: 'valid',
    });
    expect(() => beta.getStatus()).toThrow(/before the engine started/);
    const tokens = await Promise.all([byDefault, alpha, beta].map((handle) => handle.getAccessToken()));
    expect(new Set(tokens).size).toBe(3);
    // Every token came from the store the desk wrote: no token call.
    expect(tokenCalls()).toBe(0);

    // The default connection by its realm id (QB_REALM_ID's, or its record's when that is unset) or its id.
    expect((await open({ connection: bed.emulator.realmId }).ready()).connection.id).toBe('default');
    const { QB_REALM_ID: _unset, ...withoutRealm } = emulatorEnv(bed.emulator, bed.dataDir);
    const byRecord = open({ env: withoutRealm, connection: bed.emulator.realmId });
    expect(await byRecord.getAccessToken()).toBe(tokens[0]);
    expect((await open({ connection: 'default' }).ready()).connection.id).toBe('default');

    // Relative paths go to the handle's own company; the emulator refuses a token issued for another.
    const info = await alpha.fetch(`companyinfo/${REALM_A}`);
    expect(info.status).toBe(200);
    const crossed = await rejection(beta.fetch(`/v3/company/${REALM_A}/companyinfo/${REALM_A}`));
    expect(crossed).toBeInstanceOf(QuickBooksApiError);
    expect(crossed).toMatchObject({ status: 403 });
    const ok = await beta.fetch(
      `/v3/company/${REALM_B}/query?query=${encodeURIComponent('select * from Customer')}`,
    );
    expect(ok.status).toBe(200);
  });

  it('handles of one company share its engine in the process: one token call for all of them, one 10-in-flight queue', async () => {
    await storeWithCompanies();
    const byDefault = open();
    const first = open({ connection: REALM_A });
    const second = open({ connection: REALM_A });
    const given = byDefault.connection(REALM_A);
    expect(byDefault.connection(REALM_A)).toBe(given);
    expect(byDefault.connection('default')).toBe(byDefault);
    const handles = [first, second, given];

    await first.clear();
    const tokens = await Promise.all(
      Array.from({ length: 30 }, (_, i) => (handles[i % 3] ?? first).getAccessToken()),
    );
    expect(new Set(tokens).size).toBe(1);
    expect(tokenCalls()).toBe(1);

    bed.emulator.control.resetCounters();
    bed.emulator.control.revokeAccessTokens();
    // The company's calls are paced at 10 a second (the 401s count too): 21 take about three seconds.
    // Slow answers keep a burst in flight together, and Intuit's own ceiling is lifted, so the count
    // shows how many the handles together sent at once (one queue per handle would send 21).
    bed.emulator.control.configure({ apiLatencyMs: 200, maxConcurrentPerRealm: 100 });
    const responses = await Promise.all(
      Array.from({ length: 21 }, (_, i) => (handles[i % 3] ?? first).fetch(`companyinfo/${REALM_A}`)),
    );
    expect(responses.every((response) => response.status === 200)).toBe(true);
    const counters = bed.emulator.control.counters();
    expect(counters.tokenCalls.refresh_token).toBe(1);
    // Three handles, one company: at most 10 of its requests in flight, not 10 per handle.
    expect(counters.maxApiInFlightByRealm[REALM_A]).toBe(10);
    expect(counters.api429s).toBe(0);
    expect(counters.maxApiInFlightByRealm[bed.emulator.realmId]).toBeUndefined();

    // Closing one handle leaves the company running for the others.
    await second.close();
    await expect(first.getAccessToken()).resolves.toBe(await given.getAccessToken());
    // Closing the handle that gave connection(id) closes what it gave.
    await byDefault.close();
    await expect(given.getAccessToken()).rejects.toThrow(/connection 5550101\) is closed/);
    expect(() => byDefault.connection(REALM_B)).toThrow(/is closed/);
  });

  it('a refresh the app makes for a company shows in the desk’s status and history of that company only, under the app’s name', async () => {
    const started = await desk();
    await addCompanies(started);
    const defaultHistory = started.desk.getStatus().history;
    bed.emulator.control.resetCounters();

    const alpha = open({ connection: REALM_A });
    const forced = await alpha.refresh();
    expect(forced.lastRefresh).toMatchObject({ ok: true, trigger: 'manual', client: 'billing-app' });
    expect(tokenCalls()).toBe(1);
    const seen = await waitForStatus(
      started.connections.desk(REALM_A),
      (status) => status.lastRefresh?.at === forced.lastRefresh?.at,
    );
    expect(seen.history[0]).toMatchObject({ type: 'refreshed', client: 'billing-app' });
    expect(seen.accessToken?.preview).toBe(forced.accessToken?.preview);
    expect(started.desk.getStatus().history).toEqual(defaultHistory);
    expect(
      started.connections
        .desk(REALM_B)
        .getStatus()
        .history.some((event) => event.client === 'billing-app'),
    ).toBe(false);
  });
});

describe('listing the companies', () => {
  it('listConnections() gives every connection in the store as the desk lists it, and starts none', async () => {
    const started = await desk();
    await addCompanies(started);
    const deskList = started.connections.list();
    await started.close();
    desks.splice(0);
    bed.emulator.control.resetCounters();

    const quickbooks = open();
    const list = await quickbooks.listConnections();
    bed.scan.collect('list', list);
    expect(list.map((summary) => [summary.id, summary.name, summary.realmId, summary.isDefault])).toEqual([
      ['default', 'QuickBooks sandbox', bed.emulator.realmId, true],
      [REALM_A, 'Alpha Books', REALM_A, false],
      [REALM_B, 'Beta Bikes', REALM_B, false],
    ]);
    expect(list).toEqual(deskList);
    // Nothing started: no token call, no handle running.
    expect(tokenCalls()).toBe(0);
    expect(() => quickbooks.getStatus()).toThrow(/before the engine started/);

    // A company Intuit no longer accepts is listed so, from its record; the others are untouched.
    const beta = quickbooks.connection(REALM_B);
    await beta.clear();
    bed.emulator.control.injectTokenFault({ kind: 'invalid_grant' });
    expect(await rejection(beta.getAccessToken())).toBeInstanceOf(ReauthorizationRequiredError);
    const after = await quickbooks.listConnections();
    expect(after.map((summary: ConnectionSummary) => [summary.id, summary.state])).toEqual([
      ['default', 'valid'],
      [REALM_A, 'valid'],
      [REALM_B, 'reauthorization_required'],
    ]);
  });
});

describe('unknown and removed companies', () => {
  it('an id the store does not hold rejects with UnknownConnectionError naming it; a malformed one is a ConfigError; once the company is added the same handle serves it', async () => {
    expect(() => createQuickBooks({ connection: 'acme ltd' })).toThrow(ConfigError);
    expect(() => createQuickBooks({ connection: 'acme ltd' })).toThrow(
      /connection must be a connection id or a company's realm id .* got "acme ltd"/,
    );
    expect(() => open().connection('../etc')).toThrow(/connection\(id\) must be a connection id/);

    const ghost = open({ connection: '4242' });
    const error = await rejection(ghost.ready());
    expect(error).toBeInstanceOf(UnknownConnectionError);
    expect(error).toBeInstanceOf(EngineUnknownConnectionError);
    expect(error).toMatchObject({ name: 'UnknownConnectionError', connectionId: '4242' });
    expect(error.message).toMatch(
      /^There is no connection "4242" in the file store at .*, by id or realm id/,
    );
    expect(error.message).toMatch(/listConnections\(\)/);
    expect(await rejection(ghost.fetch('companyinfo/4242'))).toBeInstanceOf(UnknownConnectionError);
    expect(tokenCalls()).toBe(0);

    const started = await desk();
    await addCompanies(started, [['4242', 'Late Arrivals Ltd']]);
    await expect(ghost.ready()).resolves.toMatchObject({
      connection: { id: '4242', name: 'Late Arrivals Ltd' },
    });
  });

  it('a company the desk removes is let go: calls answer UnknownConnectionError, and its record is not written back', async () => {
    const started = await desk();
    await addCompanies(started);
    const beta = open({ connection: REALM_B });
    await beta.getAccessToken();

    await started.connections.remove(REALM_B);
    // The app hears of it from the store and stops serving the company, token in memory or not.
    await expect
      .poll(
        () =>
          beta.getAccessToken().then(
            () => 'served',
            (error: Error) => error.message,
          ),
        { timeout: 5_000 },
      )
      .toMatch(/^The connection "5550102" was removed in the file store/);
    const calls = tokenCalls();
    expect(await rejection(beta.refresh())).toBeInstanceOf(UnknownConnectionError);
    expect(await rejection(beta.fetch(`companyinfo/${REALM_B}`))).toMatchObject({ connectionId: REALM_B });
    expect(tokenCalls()).toBe(calls);
    expect(await started.store.list()).not.toContain(REALM_B);
    expect((await open().listConnections()).map((summary) => summary.id)).toEqual(['default', REALM_A]);
  });
});

describe('qb-token-desk/next for a chosen company', () => {
  const url = (path: string) => `http://localhost:3000/api/integrations/quickbooks/connections${path}`;

  async function call<T>(
    handler: (request: Request, context: { params: Promise<{ id: string }> }) => Promise<Response>,
    method: string,
    id: string,
    authorization: string | null = SESSION,
  ): Promise<{ status: number; body: Result<T> }> {
    const headers = new Headers(authorization ? { authorization } : {});
    const response = await handler(new Request(url(`/${id}/refresh-token`), { method, headers }), {
      params: Promise.resolve({ id }),
    });
    const text = await response.text();
    bed.scan.collect(`${method} ${id}`, text);
    expect(response.headers.get('cache-control')).toBe('no-store');
    return { status: response.status, body: JSON.parse(text) as Result<T> };
  }

  it('the desk’s /connections/{id}/refresh-token: status, refresh and clear of that company; 404 unknown_connection for an id the store lacks', async () => {
    await storeWithCompanies();
    const quickbooks = open();
    const targets: AuthorizeTarget[] = [];
    const handlers: ConnectionRouteHandlers = createConnectionRouteHandlers({
      quickbooks,
      authorize: (request, target) => {
        targets.push(target);
        return request.headers.get('authorization') === SESSION;
      },
    });

    const got = await call<TokenStatus>(handlers.GET, 'GET', REALM_A);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ ok: true, value: { connection: { id: REALM_A }, realmId: REALM_A } });
    expect(targets.at(-1)).toEqual({ connectionId: REALM_A });

    const [first, second] = await Promise.all([
      call<TokenStatus>(handlers.POST, 'POST', REALM_B),
      call<TokenStatus>(handlers.POST, 'POST', REALM_B),
    ]);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(tokenCalls()).toBe(1);
    expect(first.body).toMatchObject({
      ok: true,
      value: { connection: { id: REALM_B }, lastRefresh: { ok: true } },
    });

    const cleared = await call<TokenStatus>(handlers.DELETE, 'DELETE', REALM_B);
    expect(cleared.body).toMatchObject({
      ok: true,
      value: { connection: { id: REALM_B }, accessToken: null },
    });
    // The other companies are as they were.
    expect((await quickbooks.ready()).accessToken).not.toBeNull();
    expect((await quickbooks.connection(REALM_A).ready()).lastRefresh?.client).not.toBe('billing-app');

    for (const id of ['4242', '..%2Fetc', 'a b']) {
      const unknown = await call<TokenStatus>(handlers.GET, 'GET', id);
      expect(unknown.status).toBe(404);
      expect(unknown.body).toMatchObject({ ok: false, error: { code: 'unknown_connection' } });
      if (!unknown.body.ok) expect(unknown.body.error.message).toContain(`"${id}"`);
    }
    expect(tokenCalls()).toBe(1);
  });

  it('closed unless authorize says true, for known and unknown ids alike; authorize sees the company asked for', async () => {
    await storeWithCompanies();
    const quickbooks = open();
    const none = createConnectionRouteHandlers({ quickbooks } as unknown as Parameters<
      typeof createConnectionRouteHandlers
    >[0]);
    const onlyAlpha = createConnectionRouteHandlers({
      quickbooks,
      authorize: (request, { connectionId }) =>
        request.headers.get('authorization') === SESSION && connectionId === REALM_A,
    });
    for (const method of ['GET', 'POST', 'DELETE'] as const) {
      for (const id of [REALM_A, '4242']) {
        const refused = await call<TokenStatus>(none[method], method, id);
        expect(refused.status).toBe(401);
        expect(refused.body).toMatchObject({ ok: false, error: { code: 'unauthorized' } });
        expect((await call<TokenStatus>(onlyAlpha[method], method, id, 'Bearer someone-else')).status).toBe(
          401,
        );
      }
      expect((await call<TokenStatus>(onlyAlpha[method], method, REALM_B)).status).toBe(401);
    }
    expect(tokenCalls()).toBe(0);
    // Nothing was started for a refused caller.
    expect(() => quickbooks.connection(REALM_B).getStatus()).toThrow(/before the engine started/);
    expect((await call<TokenStatus>(onlyAlpha.GET, 'GET', REALM_A)).status).toBe(200);
  });

  it('the desk’s /connections list: every company, behind authorize', async () => {
    await storeWithCompanies();
    const quickbooks = open();
    const list = createConnectionListHandler({
      quickbooks,
      authorize: (request) => request.headers.get('authorization') === SESSION,
    });
    const request = (authorization: string | null) =>
      new Request(url(''), { headers: new Headers(authorization ? { authorization } : {}) });
    const refused = await list.GET(request(null));
    expect(refused.status).toBe(401);
    const answered = await list.GET(request(SESSION));
    const text = await answered.text();
    bed.scan.collect('list body', text);
    expect(answered.status).toBe(200);
    const body = JSON.parse(text) as Result<ConnectionSummary[]>;
    if (!body.ok) throw new Error(body.error.message);
    expect(body.value.map((summary) => [summary.id, summary.name, summary.state])).toEqual([
      ['default', 'QuickBooks sandbox', 'valid'],
      [REALM_A, 'Alpha Books', 'valid'],
      [REALM_B, 'Beta Bikes', 'valid'],
    ]);
  });
});
