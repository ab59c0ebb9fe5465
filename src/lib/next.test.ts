// The App Router handlers with real Request objects, over the real library and engine, against
// the emulator. Nothing from Next.js is involved: the handlers take a Request and answer a Response.
import { beforeEach, describe, expect, it } from 'vitest';
import { FileConnectionStore } from '../core/file-connection-store';
import { holdLock } from '../core/testing/held-lock';
import { emulatorEnv } from '../emulator/app-env';
import { STORE_RETRY_AFTER_SECONDS } from '../server/error-status';
import { HTTP_PATHS, type Result, type TokenStatus } from '../shared/contract';
import { createQuickBooks, type QuickBooks } from './index';
import { createRouteHandlers, type RouteHandlerOptions, type RouteHandlers } from './next';
import { createQuickBooksWith } from './quickbooks';
import { libraryTestBed } from './testing/test-bed';

const URL_ = `http://localhost:3000${HTTP_PATHS.refreshToken}`;
const SESSION = 'Bearer app-session-for-tests';

const bed = libraryTestBed({ prefix: 'qb-lib-next' });
const { tokenCalls } = bed;
let quickbooks: QuickBooks;

function request(method: 'GET' | 'POST' | 'DELETE', authorization: string | null = SESSION): Request {
  const headers = new Headers();
  if (authorization) headers.set('authorization', authorization);
  return new Request(URL_, { method, headers });
}

async function call(
  handlers: RouteHandlers,
  method: 'GET' | 'POST' | 'DELETE',
  authorization: string | null = SESSION,
): Promise<{ status: number; body: Result<TokenStatus>; headers: Headers }> {
  const response = await handlers[method](request(method, authorization));
  const text = await response.text();
  bed.scan.collect(`${method} body`, text);
  return {
    status: response.status,
    body: JSON.parse(text) as Result<TokenStatus>,
    headers: response.headers,
  };
}

/** The app's own check: here a fixed session header. */
const bySession = (req: Request) => req.headers.get('authorization') === SESSION;

beforeEach(() => {
  quickbooks = bed.track(
    createQuickBooksWith(
      { env: emulatorEnv(bed.emulator, bed.dataDir), cwd: bed.dataDir, clientName: 'next-app' },
      { manager: { retry: { maxAttempts: 1, baseDelayMs: 5, maxDelayMs: 5, cooldownMs: 50 } } },
    ),
  );
});

describe('createRouteHandlers: closed unless the app authorizes the caller', () => {
  it('without authorize, every method answers 401 and nothing reaches the engine', async () => {
    const handlers = createRouteHandlers({ quickbooks } as unknown as RouteHandlerOptions);
    for (const method of ['GET', 'POST', 'DELETE'] as const) {
      const { status, body } = await call(handlers, method);
      expect(status).toBe(401);
      expect(body).toMatchObject({ ok: false, error: { code: 'unauthorized' } });
      if (!body.ok) expect(body.error.message).toMatch(/no authorize\(request\) function/);
    }
    expect(tokenCalls()).toBe(0);
    expect(() => quickbooks.getStatus()).toThrow(/before the engine started/);
  });

  it('when authorize says no (or anything but true), 401; when it throws, 500 without details', async () => {
    const handlers = createRouteHandlers({ quickbooks, authorize: bySession });
    for (const method of ['GET', 'POST', 'DELETE'] as const) {
      expect((await call(handlers, method, 'Bearer someone-else')).status).toBe(401);
      expect((await call(handlers, method, null)).status).toBe(401);
    }
    const truthy = createRouteHandlers({
      quickbooks,
      authorize: (() => ({ user: 'x' })) as unknown as RouteHandlerOptions['authorize'],
    });
    expect((await call(truthy, 'POST')).status).toBe(401);
    const throwing = createRouteHandlers({
      quickbooks,
      authorize: () => {
        throw new Error('session store down: secret-ish detail');
      },
    });
    const thrown = await call(throwing, 'GET');
    expect(thrown.status).toBe(500);
    expect(JSON.stringify(thrown.body)).not.toMatch(/session store down/);
    expect(tokenCalls()).toBe(0);
  });
});

describe('createRouteHandlers: the original feature’s three actions', () => {
  it('GET answers the status (previews only, no caching); POST forces one refresh; DELETE clears the access token only', async () => {
    const handlers = createRouteHandlers({ quickbooks, authorize: async (req) => bySession(req) });
    const got = await call(handlers, 'GET');
    expect(got.status).toBe(200);
    expect(got.headers.get('cache-control')).toBe('no-store');
    expect(got.headers.get('content-type')).toMatch(/application\/json/);
    if (!got.body.ok) throw new Error(got.body.error.message);
    expect(got.body.value.realmId).toBe(bed.emulator.realmId);
    expect(got.body.value.refreshToken?.preview).toMatch(/^….{4}$/);

    const before = tokenCalls();
    const [first, second] = await Promise.all([call(handlers, 'POST'), call(handlers, 'POST')]);
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(tokenCalls()).toBe(before + 1);
    if (!first.body.ok) throw new Error('POST failed');
    expect(first.body.value).toMatchObject({ state: 'valid', source: 'cached' });
    expect(first.body.value.lastRefresh).toMatchObject({ ok: true, trigger: 'manual' });

    const deleted = await call(handlers, 'DELETE');
    expect(deleted.status).toBe(200);
    if (!deleted.body.ok) throw new Error('DELETE failed');
    expect(deleted.body.value.accessToken).toBeNull();
    expect(deleted.body.value.refreshToken?.preview).toBe(first.body.value.refreshToken?.preview);
    expect(deleted.body.value.history[0]?.type).toBe('cleared');
    expect(tokenCalls()).toBe(before + 1);
  });

  it('maps failures as the headless server does: invalid_grant 409, Intuit down 502 with intuit_tid, bad config 409 naming the variable', async () => {
    const handlers = createRouteHandlers({ quickbooks, authorize: bySession });
    await call(handlers, 'GET');
    bed.emulator.control.injectTokenFault({ kind: 'status', status: 503 }, 3);
    const down = await call(handlers, 'POST');
    expect(down.status).toBe(502);
    expect(down.body).toMatchObject({ ok: false, error: { code: 'server' } });
    if (!down.body.ok) expect(down.body.error.intuitTid).toMatch(/\S+/);

    bed.emulator.control.clearFaults();
    bed.emulator.control.injectTokenFault({ kind: 'invalid_grant' });
    const refused = await call(handlers, 'POST');
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ ok: false, error: { code: 'invalid_grant' } });
    const after = await call(handlers, 'GET');
    expect(after.body).toMatchObject({ ok: true, value: { state: 'reauthorization_required' } });

    const misconfigured = createQuickBooks({
      env: { ...emulatorEnv(bed.emulator, bed.dataDir), QB_REALM_ID: 'acme' },
      cwd: bed.dataDir,
    });
    try {
      const bad = await call(createRouteHandlers({ quickbooks: misconfigured, authorize: bySession }), 'GET');
      expect(bad.status).toBe(409);
      expect(bad.body).toMatchObject({ ok: false, error: { code: 'not_configured' } });
      if (!bad.body.ok) expect(bad.body.error.message).toMatch(/QB_REALM_ID must be the numeric company id/);
    } finally {
      await misconfigured.close();
    }
  });
  it('a store whose lock another process holds past the wait: 503 store_busy with Retry-After; once it is free, the refresh goes through', async () => {
    const patient = bed.track(
      createQuickBooksWith(
        { env: emulatorEnv(bed.emulator, bed.dataDir), cwd: bed.dataDir, clientName: 'next-app' },
        {
          manager: {
            lockWaitMs: 300,
            retry: { maxAttempts: 1, baseDelayMs: 5, maxDelayMs: 5, cooldownMs: 50 },
          },
        },
      ),
    );
    const handlers = createRouteHandlers({ quickbooks: patient, authorize: bySession });
    await call(handlers, 'GET');
    // A valid token in hand: the start-up refresh (if any) is done before the count is taken.
    await patient.getAccessToken();
    const before = tokenCalls();
    // Another process on the same data directory holds the connection's lock.
    const holder = new FileConnectionStore({ dataDir: bed.dataDir, storeKey: null });
    const held = await holdLock(holder, 'default');
    try {
      const busy = await call(handlers, 'POST');
      expect(busy.status).toBe(503);
      expect(busy.headers.get('retry-after')).toBe(String(STORE_RETRY_AFTER_SECONDS));
      expect(busy.body).toMatchObject({ ok: false, error: { code: 'store_busy' } });
      expect(tokenCalls()).toBe(before);
    } finally {
      await held.release();
      await holder.close();
    }
    const retried = await call(handlers, 'POST');
    expect(retried.status).toBe(200);
    expect(retried.headers.get('retry-after')).toBeNull();
    expect(tokenCalls()).toBe(before + 1);
  });
});
