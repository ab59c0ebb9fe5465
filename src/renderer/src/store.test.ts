// The store's bookkeeping around the bridge: pending flags, outcomes, adopted statuses and
// announcements. The bridge here is a stand-in with controllable answers; the real bridges are
// exercised end to end by the browser specs.
import { describe, expect, it } from 'vitest';
import type { QbTokensBridge, Result, TokenStatus } from '../../shared/contract';
import { statusAt } from '../../shared/testing/status-fixture';
import { createDashboardStore } from './store';

const T0 = Date.parse('2026-11-27T12:00:00Z');

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

function standInBridge(
  overrides: Partial<QbTokensBridge> = {},
): QbTokensBridge & { push(s: TokenStatus): void } {
  let listener: ((s: TokenStatus) => void) | null = null;
  const ok = <T>(value: T): Promise<Result<T>> => Promise.resolve({ ok: true, value });
  return {
    getStatus: () => ok(statusAt(T0)),
    refresh: () => ok(statusAt(T0)),
    clear: () => ok(statusAt(T0)),
    testConnection: () =>
      ok({ companyName: 'Sandbox Company_US_1', realmId: '1', intuitTid: null, durationMs: 12 }),
    connect: () => ok(statusAt(T0)),
    disconnect: () => ok(statusAt(T0)),
    listConnections: () => ok([]),
    removeConnection: () => ok([]),
    onStatusChanged(callback) {
      listener = callback;
      return () => (listener = null);
    },
    onConnectionsChanged: () => () => undefined,
    push: (s) => listener?.(s),
    ...overrides,
  };
}

describe('dashboard store', () => {
  it('marks an action pending until it settles, then records its outcome and status', async () => {
    const answer = deferred<Result<TokenStatus>>();
    const store = createDashboardStore(standInBridge({ refresh: () => answer.promise }), () => T0);
    const running = store.getState().refresh();
    expect(store.getState().pending.refresh).toBe(true);
    const refreshed = statusAt(T0, {
      stats: { refreshes: 2, failures: 0, retriedOn401: 0, consecutiveFailures: 0, failingSince: null },
    });
    answer.resolve({ ok: true, value: refreshed });
    await running;
    const state = store.getState();
    expect(state.pending.refresh).toBe(false);
    expect(state.status?.stats.refreshes).toBe(2);
    expect(state.outcomes.refresh).toMatchObject({ ok: true });
    expect(state.announcement).toMatch(/^Refreshed/);
  });

  it('ignores a second click while the first is in flight', async () => {
    let calls = 0;
    const answer = deferred<Result<TokenStatus>>();
    const store = createDashboardStore(
      standInBridge({
        clear: () => {
          calls += 1;
          return answer.promise;
        },
      }),
    );
    const first = store.getState().clear();
    void store.getState().clear();
    answer.resolve({ ok: true, value: statusAt(T0) });
    await first;
    expect(calls).toBe(1);
  });

  it('keeps a failed Result as an in-page error with its intuit_tid', async () => {
    const store = createDashboardStore(
      standInBridge({
        refresh: () =>
          Promise.resolve({
            ok: false,
            error: {
              code: 'invalid_grant',
              message: 'Intuit rejected the refresh token.',
              intuitTid: '1-abc',
            },
          }),
      }),
    );
    await store.getState().refresh();
    expect(store.getState().outcomes.refresh).toMatchObject({
      ok: false,
      error: { code: 'invalid_grant', intuitTid: '1-abc' },
    });
  });

  it('turns a throwing bridge into an error outcome instead of an unhandled rejection', async () => {
    const store = createDashboardStore(
      standInBridge({ testConnection: () => Promise.reject(new Error('socket hang up')) }),
    );
    await store.getState().testConnection();
    expect(store.getState().outcomes.testConnection).toMatchObject({
      ok: false,
      error: { code: 'internal' },
    });
    expect(store.getState().pending.testConnection).toBe(false);
  });

  it('remembers the company from Test connection', async () => {
    const store = createDashboardStore(standInBridge());
    await store.getState().testConnection();
    expect(store.getState().connectionTest?.companyName).toBe('Sandbox Company_US_1');
    expect(store.getState().announcement).toContain('Sandbox Company_US_1');
  });

  it('announces state changes pushed by the bridge', async () => {
    const store = createDashboardStore(standInBridge());
    await store.getState().load();
    store.getState().receiveStatus(statusAt(T0, { state: 'expiring' }));
    expect(store.getState().announcement).toBe('Access token state: Expiring.');
  });

  it('reports a status that could not be loaded', async () => {
    const store = createDashboardStore(
      standInBridge({
        getStatus: () =>
          Promise.resolve({ ok: false, error: { code: 'unauthorized', message: 'Sign in again.' } }),
      }),
    );
    await store.getState().load();
    expect(store.getState().loadError?.code).toBe('unauthorized');
    expect(store.getState().status).toBeNull();
  });

  it('passes force to disconnect only when asked', async () => {
    const seen: unknown[] = [];
    const store = createDashboardStore(
      standInBridge({
        disconnect: (options) => {
          seen.push(options);
          return Promise.resolve({ ok: true, value: statusAt(T0) });
        },
      }),
    );
    await store.getState().disconnect();
    await store.getState().disconnect(true);
    expect(seen).toEqual([undefined, { force: true }]);
  });
  it("says what Intuit did on Disconnect, in the desk's own words from the history", async () => {
    const said =
      'Disconnected: Intuit had nothing to revoke: the token was already invalid. The stored tokens were forgotten.';
    const forgotten = statusAt(T0, {
      history: [{ at: new Date(T0).toISOString(), type: 'disconnected', message: said }],
    });
    const store = createDashboardStore(
      standInBridge({ disconnect: () => Promise.resolve({ ok: true, value: forgotten }) }),
      () => T0,
    );
    await store.getState().disconnect();
    expect(store.getState().outcomes.disconnect).toMatchObject({ ok: true, message: said });
  });

  it('a timer for an older result leaves the newer result of the same action alone', async () => {
    let now = T0;
    const store = createDashboardStore(standInBridge(), () => now);
    await store.getState().refresh();
    const first = store.getState().outcomes.refresh?.at;
    now += 1000;
    await store.getState().refresh();
    store.getState().dismiss('refresh', first);
    expect(store.getState().outcomes.refresh?.at).toBe(T0 + 1000);
    store.getState().dismiss('refresh', T0 + 1000);
    expect(store.getState().outcomes.refresh).toBeUndefined();
  });

  it('keeps one revoke confirm open at a time, and closes it when another connection is shown', () => {
    const store = createDashboardStore(standInBridge(), () => T0);
    store.getState().confirm('disconnect');
    store.getState().confirm('remove');
    expect(store.getState().confirming).toBe('remove');
    store.getState().show('5550441');
    expect(store.getState().confirming).toBeNull();
  });

  it('closes the Disconnect confirm when done, but keeps it open for "Disconnect anyway" when Intuit could not revoke', async () => {
    const answers: Result<TokenStatus>[] = [
      { ok: false, error: { code: 'revoke_failed', message: 'Intuit could not revoke the token.' } },
      { ok: false, error: { code: 'internal', message: 'Boom.' } },
      { ok: true, value: statusAt(T0) },
    ];
    const store = createDashboardStore(
      standInBridge({
        disconnect: () => {
          const next = answers.shift();
          if (!next) throw new Error('the test gave no more answers');
          return Promise.resolve(next);
        },
      }),
      () => T0,
    );
    store.getState().confirm('disconnect');
    await store.getState().disconnect();
    expect(store.getState().confirming).toBe('disconnect');
    // Another failure is told beside the Disconnect button, as a closed confirm.
    await store.getState().disconnect(true);
    expect(store.getState().confirming).toBeNull();
    store.getState().confirm('disconnect');
    await store.getState().disconnect();
    expect(store.getState().confirming).toBeNull();
  });

  it("a Disconnect that ends after another connection was chosen leaves that connection's confirm alone", async () => {
    const answer = deferred<Result<TokenStatus>>();
    const store = createDashboardStore(standInBridge({ disconnect: () => answer.promise }), () => T0);
    store.getState().confirm('disconnect');
    const running = store.getState().disconnect();
    store.getState().show('5550441');
    store.getState().confirm('disconnect');
    answer.resolve({ ok: true, value: statusAt(T0) });
    await running;
    expect(store.getState().confirming).toBe('disconnect');
  });

  it("keeps each company's running actions its own: switching away and back mid-refresh, one answer never frees the other's button", async () => {
    const answers: Array<ReturnType<typeof deferred<Result<TokenStatus>>>> = [];
    const refresh = () => {
      const answer = deferred<Result<TokenStatus>>();
      answers.push(answer);
      return answer.promise;
    };
    const store = createDashboardStore(standInBridge({ refresh }), () => T0);
    const onDefault = store.getState().refresh();
    store.getState().show('5550441');
    expect(store.getState().pending.refresh).toBe(false);
    const onOther = store.getState().refresh();
    expect(store.getState().pending.refresh).toBe(true);
    // The default company's answer comes first: the other company's refresh is still running.
    answers[0]?.resolve({ ok: true, value: statusAt(T0) });
    await onDefault;
    expect(store.getState().pending.refresh).toBe(true);
    await store.getState().refresh(); // a second click is still ignored
    expect(answers).toHaveLength(2);
    // Back on the default company while the other's refresh runs: its own button is free again.
    store.getState().show('default');
    expect(store.getState().pending.refresh).toBe(false);
    store.getState().show('5550441');
    expect(store.getState().pending.refresh).toBe(true);
    answers[1]?.resolve({ ok: true, value: statusAt(T0) });
    await onOther;
    expect(store.getState().pending.refresh).toBe(false);
  });

  it('a status read answered after a newer push does not replace it (a read sent before a refresh failed stays behind the failure); an action’s answer is shown', async () => {
    const reauth = statusAt(T0, {
      connection: { id: '5550412', name: 'Beta', companyName: null },
      state: 'reauthorization_required',
    });
    const valid = statusAt(T0, { connection: { id: '5550412', name: 'Beta', companyName: null } });
    const read = deferred<Result<TokenStatus>>();
    const refreshed = deferred<Result<TokenStatus>>();
    const bridge = standInBridge({ getStatus: () => read.promise, refresh: () => refreshed.promise });
    const store = createDashboardStore(bridge, () => T0);
    bridge.onStatusChanged((status) => store.getState().receiveStatus(status));
    store.getState().show('5550412'); // reads the company's status
    // The failure's push comes over the event stream before the earlier read's answer.
    bridge.push(reauth);
    read.resolve({ ok: true, value: valid });
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(store.getState().status?.state).toBe('reauthorization_required');
    // An action's answer is taken when the action ends, after the pushes it caused: it is shown.
    const running = store.getState().refresh();
    bridge.push(reauth);
    refreshed.resolve({ ok: true, value: valid });
    await running;
    expect(store.getState().status?.state).toBe('valid');
  });

  it('names the action that failed when it announces the failure', async () => {
    const store = createDashboardStore(
      standInBridge({
        clear: () => Promise.resolve({ ok: false, error: { code: 'internal', message: 'Boom.' } }),
      }),
      () => T0,
    );
    await store.getState().clear();
    expect(store.getState().announcement).toBe('Clear cache failed: Boom.');
  });
});
