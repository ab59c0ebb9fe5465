// Several companies over the headless API, for real: the engine against the emulator serving three
// realms, the server on a free port. The list, the per-connection paths (the original paths keep
// acting on the default connection), remove, and SSE events that name their connection.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileConnectionStore } from '../core/file-connection-store';
import { LeakScan } from '../core/testing/leak-scan';
import { connectionPath } from '../shared/connections';
import {
  DEFAULT_CONNECTION_ID,
  HTTP_PATHS,
  type ConnectionSummary,
  type ConnectionTestResult,
  type TokenStatus,
} from '../shared/contract';
import { registerConnectRoutes } from './connect-routes';
import { startStack, type Stack } from './test-support';

const REALM_A = '5550201';
const REALM_B = '5550202';

let stack: Stack;
const scan = new LeakScan();

beforeAll(async () => {
  stack = await startStack();
  scan.addEmulator(stack.emulator);
  // As `npm run serve` does: Connect, Disconnect (per connection too).
  registerConnectRoutes(stack.server.router, { flow: stack.connections.connectFlow, redirectUri: null });
  for (const [realm, name] of [
    [REALM_A, 'Alpha Books'],
    [REALM_B, 'Beta Bikes'],
  ] as const) {
    const issued = stack.emulator.control.issueAuthorization(realm);
    await stack.connections.add({
      name,
      realmId: realm,
      environment: 'sandbox',
      refreshToken: issued.refreshToken,
    });
  }
});

afterAll(async () => {
  await stack.close();
  scan.assertClean();
});

async function api<T>(path: string, init?: RequestInit) {
  const answer = await stack.json<T>(path, init);
  scan.collect(`${init?.method ?? 'GET'} ${path}`, answer.text);
  return answer;
}

function value<T>(answer: { body: { ok: boolean; value?: T } }): T {
  if (!answer.body.ok) throw new Error(`expected ok, got ${JSON.stringify(answer.body)}`);
  return answer.body.value as T;
}

/** Reads SSE blocks (event name + parsed data) until `enough` says so. */
async function readEvents(
  response: Response,
  enough: (events: Array<{ event: string; data: unknown }>) => boolean,
): Promise<Array<{ event: string; data: unknown }>> {
  const events: Array<{ event: string; data: unknown }> = [];
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      scan.collect('sse', block);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (event && data) events.push({ event, data: JSON.parse(data) });
      if (enough(events)) return events;
    }
  }
  return events;
}

describe('connections over HTTP', () => {
  it('GET /connect for a connection the desk does not have: 404 naming it, nothing begun', async () => {
    const response = await stack.call(`${HTTP_PATHS.connect}?connection=4242`, { redirect: 'manual' });
    const page = await response.text();
    scan.collect('GET /connect?connection=4242', page);
    expect(response.status).toBe(404);
    expect(page).toContain('There is no connection');
    expect(response.headers.get('location')).toBeNull();
  });

  it('GET /connections lists the default connection first, then each company', async () => {
    const answer = await api<ConnectionSummary[]>(HTTP_PATHS.connections);
    expect(answer.status).toBe(200);
    expect(value(answer).map((c) => [c.id, c.name, c.realmId, c.isDefault])).toEqual([
      [DEFAULT_CONNECTION_ID, 'QuickBooks sandbox', stack.emulator.realmId, true],
      [REALM_A, 'Alpha Books', REALM_A, false],
      [REALM_B, 'Beta Bikes', REALM_B, false],
    ]);
  });

  it('POST /connections/{id}/refresh-token refreshes that connection only; the original path keeps the default', async () => {
    stack.emulator.control.resetCounters();
    const refreshed = value(
      await api<TokenStatus>(connectionPath(REALM_A, 'refreshToken'), { method: 'POST' }),
    );
    expect(refreshed.connection.id).toBe(REALM_A);
    expect(refreshed.state).toBe('valid');
    expect(stack.emulator.control.counters().tokenCalls.refresh_token).toBe(1);
    const b = value(await api<TokenStatus>(connectionPath(REALM_B, 'refreshToken')));
    expect(b.connection.id).toBe(REALM_B);
    expect(b.lastRefresh).toBeNull();
    const original = value(await api<TokenStatus>(HTTP_PATHS.refreshToken));
    expect(original.connection.id).toBe(DEFAULT_CONNECTION_ID);
    expect(original.realmId).toBe(stack.emulator.realmId);
  });

  it('DELETE clears the cached access token of that connection; company-info reads its own company', async () => {
    const cleared = value(
      await api<TokenStatus>(connectionPath(REALM_A, 'refreshToken'), { method: 'DELETE' }),
    );
    expect(cleared.connection.id).toBe(REALM_A);
    expect(cleared.accessToken).toBeNull();
    expect(cleared.refreshToken).not.toBeNull();
    expect(value(await api<TokenStatus>(HTTP_PATHS.refreshToken)).accessToken).not.toBeNull();
    const info = value(await api<ConnectionTestResult>(connectionPath(REALM_B, 'companyInfo')));
    expect(info.realmId).toBe(REALM_B);
    const list = value(await api<ConnectionSummary[]>(HTTP_PATHS.connections));
    expect(list.find((c) => c.id === REALM_B)?.companyName).toBe(info.companyName);
  });

  it('an unknown connection is a 404 naming it; a bad body is a 400', async () => {
    const unknown = await api<TokenStatus>(connectionPath('9999', 'refreshToken'));
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ ok: false, error: { code: 'unknown_connection' } });
    expect(unknown.text).toContain('9999');
    const removeUnknown = await api(connectionPath('9999'), { method: 'DELETE' });
    expect(removeUnknown.status).toBe(404);
    const bad = await api(connectionPath(REALM_A, 'refreshToken'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"force":true}',
    });
    expect(bad.status).toBe(400);
    expect((await api(`${HTTP_PATHS.connections}/${REALM_A}/nothing-here`)).status).toBe(404);
  });

  it('the default connection cannot be removed (400)', async () => {
    const refused = await api(connectionPath(DEFAULT_CONNECTION_ID), { method: 'DELETE' });
    expect(refused.status).toBe(400);
    expect(refused.text).toMatch(/cannot be removed/);
  });

  it('SSE: the list and every connection’s status on connect, then events that name their connection', async () => {
    const abort = new AbortController();
    const response = await stack.call(HTTP_PATHS.events, { signal: abort.signal });
    const reading = readEvents(response, (events) =>
      events.some(
        (e) =>
          e.event === 'status' &&
          (e.data as TokenStatus).connection.id === REALM_B &&
          (e.data as TokenStatus).lastRefresh?.trigger === 'manual',
      ),
    );
    // Let the opening burst arrive, then refresh B.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await api(connectionPath(REALM_B, 'refreshToken'), { method: 'POST' });
    const events = await reading;
    abort.abort();
    expect(events[0].event).toBe('connections');
    expect((events[0].data as ConnectionSummary[]).map((c) => c.id)).toEqual([
      DEFAULT_CONNECTION_ID,
      REALM_A,
      REALM_B,
    ]);
    const opening = events.slice(1, 4).map((e) => (e.data as TokenStatus).connection.id);
    expect(opening).toEqual([DEFAULT_CONNECTION_ID, REALM_A, REALM_B]);
    const later = events.slice(4).map((e) => (e.data as TokenStatus).connection.id);
    expect(new Set(later)).toEqual(new Set([REALM_B]));
  });

  it('DELETE /connections/{id} revokes at Intuit, removes it, and the stream announces the new list', async () => {
    const abort = new AbortController();
    const response = await stack.call(HTTP_PATHS.events, { signal: abort.signal });
    const reading = readEvents(
      response,
      (events) => events.filter((e) => e.event === 'connections').length >= 2,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const store = new FileConnectionStore({ dataDir: stack.dataDir, storeKey: null });
    const token = (await store.load(REALM_A)).record?.tokens?.refreshToken ?? '';
    await store.close();
    const answer = await api<ConnectionSummary[]>(connectionPath(REALM_A), { method: 'DELETE' });
    expect(answer.status).toBe(200);
    expect(value(answer).map((c) => c.id)).toEqual([DEFAULT_CONNECTION_ID, REALM_B]);
    expect(stack.emulator.control.isRefreshTokenValid(token)).toBe(false);
    const events = await reading;
    abort.abort();
    const lists = events
      .filter((e) => e.event === 'connections')
      .map((e) => (e.data as ConnectionSummary[]).length);
    expect(lists).toEqual([3, 2]);
    expect((await api(connectionPath(REALM_A, 'refreshToken'))).status).toBe(404);
  });

  it('POST /connections/{id}/disconnect revokes and forgets that connection only; it stays listed', async () => {
    const answer = await api<TokenStatus>(connectionPath(REALM_B, 'disconnect'), { method: 'POST' });
    expect(answer.status).toBe(200);
    const status = value(answer);
    expect(status.connection.id).toBe(REALM_B);
    expect(status.state).toBe('not_configured');
    expect(status.history[0].type).toBe('disconnected');
    expect(value(await api<TokenStatus>(HTTP_PATHS.refreshToken)).state).toBe('valid');
    const list = value(await api<ConnectionSummary[]>(HTTP_PATHS.connections));
    expect(list.map((c) => [c.id, c.state])).toEqual([
      [DEFAULT_CONNECTION_ID, 'valid'],
      [REALM_B, 'not_configured'],
    ]);
  });
});
