// The engine over the shared connection record: what one process learns every other process sees
// (last refresh, stats, history with its client, what it does not know itself), several connections
// on one store, and the status says what the 5-year cap, Clear and a first start really are. A
// rejection or a refresh reaching another process through the store's watch is record-sync.test.ts's.
// Real emulator over loopback, real file store, one data directory.
import { describe, expect, it } from 'vitest';
import { TokenManager } from './token-manager';
import type { EngineTelemetry } from './telemetry';
import { harnessPerTest } from './testing/engine-harness';
import { ManualClock, waitFor } from './testing/manual-clock';
import { wrapStore } from './testing/store-wrapper';

const setup = harnessPerTest();

describe('one record, every process', () => {
  it('counts failures in a row across processes, and a success by any of them ends the run', async () => {
    const h = await setup();
    const a = await h.manager({ retry: { maxAttempts: 1 } });
    const b = await h.manager({ retry: { maxAttempts: 1 } });
    await a.getAccessToken();
    h.emulator.control.injectTokenFault({ kind: 'status', status: 503 }, 3);
    await a.refresh('manual').catch(() => undefined);
    await b.refresh('manual').catch(() => undefined);
    await a.refresh('manual').catch(() => undefined);
    const failing = (await h.readRecord())?.health.stats;
    expect(failing).toMatchObject({ failures: 3, consecutiveFailures: 3 });
    expect(failing?.failingSince).not.toBeNull();
    await waitFor(() => b.getStatus().stats.consecutiveFailures === 3, "b's view of the failures");
    await b.refresh('manual');
    expect((await h.readRecord())?.health.stats).toMatchObject({
      consecutiveFailures: 0,
      failingSince: null,
      failures: 3,
    });
  });

  it('records the client name in history events and the last refresh', async () => {
    const h = await setup();
    const manager = await h.manager({ clientName: 'billing-app' });
    await manager.refresh('manual');
    const record = await h.readRecord();
    expect(record?.health.lastRefresh?.client).toBe('billing-app');
    expect(record?.health.history[0]).toMatchObject({ type: 'refreshed', client: 'billing-app' });
    expect(record?.health.history[0]?.accessTokenExpiresAt).toBe(manager.getStatus().accessToken?.expiresAt);
  });

  it("keeps what it does not know in the record's health across its own writes (the alert claim)", async () => {
    const h = await setup();
    const manager = await h.manager();
    await manager.getAccessToken();
    const store = h.store();
    const announced = {
      conditions: [
        { kind: 'refresh_failing' as const, connectionId: 'default', message: 'failing', intuitTid: null },
      ],
      at: '2026-11-30T10:00:00.000Z',
      by: 'server-1/42',
    };
    await store.withLock('default', async () => {
      const { record } = await store.load('default');
      if (!record) throw new Error('no record');
      await store.save({ ...record, revision: record.revision + 1, health: { ...record.health, announced } });
    });
    await manager.refresh('manual');
    await manager.clear();
    expect((await h.readRecord())?.health.announced).toEqual(announced);
  });
});

describe('several connections, one store and one OAuth client', () => {
  it('each connection keeps its own chain, lock and health: a failure in one shows only there', async () => {
    const h = await setup({ rotateAfterSeconds: 0 });
    const other = h.emulator.control.issueAuthorization('9130350000000042');
    h.scan.addSecrets(other.accessToken, other.refreshToken);
    const store = h.store();
    const oauth = h.oauth();
    const make = (connectionId: string, refreshToken: string, realmId: string) =>
      new TokenManager({
        config: {
          refreshToken,
          accessToken: null,
          realmId,
          environment: 'sandbox',
          refreshSkewSeconds: 300,
          demo: false,
          canConnect: true,
        },
        connectionId,
        store,
        oauth,
        refreshOnStart: false,
        retry: { maxAttempts: 1 },
        secrets: h.secrets,
      });
    const first = make('default', h.emulator.refreshToken, h.emulator.realmId);
    const second = make('9130350000000042', other.refreshToken, '9130350000000042');
    await Promise.all([first.start(), second.start()]);
    try {
      await Promise.all([first.getAccessToken(), second.getAccessToken()]);
      expect(await store.list()).toEqual(['9130350000000042', 'default']);
      // Refreshing one touches nothing of the other.
      const before = (await store.load('9130350000000042')).record;
      await first.refresh('manual');
      expect((await store.load('9130350000000042')).record).toEqual(before);
      // invalid_grant in the second shows only there.
      h.emulator.control.injectTokenFault({ kind: 'invalid_grant' });
      await second.refresh('manual').catch(() => undefined);
      expect(second.getStatus()).toMatchObject({
        state: 'reauthorization_required',
        connection: { id: '9130350000000042' },
        realmId: '9130350000000042',
      });
      expect(first.getStatus()).toMatchObject({ state: 'valid', connection: { id: 'default' } });
      expect((await store.load('default')).record?.health.rejection).toBeNull();
      await first.refresh('manual');
      expect(first.getStatus().stats).toMatchObject({ refreshes: 3, failures: 0 });
    } finally {
      await first.dispose();
      await second.dispose();
    }
  });
});

describe('what the status says', () => {
  it('no_token before any access token existed and after Clear, not expired', async () => {
    const h = await setup();
    const manager = await h.manager();
    expect(manager.getStatus()).toMatchObject({ state: 'no_token', accessToken: null, source: 'none' });
    await manager.getAccessToken();
    expect(manager.getStatus().state).toBe('valid');
    expect((await manager.clear()).state).toBe('no_token');
    // Another process reading the same store agrees.
    expect((await h.manager()).getStatus().state).toBe('no_token');
  });

  it('the 5-year cap is fixed when the chain is first issued and does not move with each refresh', async () => {
    const h = await setup({ refreshTokenHardTtlSeconds: 5 * 365 * 86_400 });
    const clock = new ManualClock();
    const manager = await h.manager({ now: clock.now, timers: clock.timers });
    await manager.refresh('manual');
    const cap = manager.getStatus().refreshToken?.hardExpiresAt;
    expect(cap).not.toBeNull();
    for (const ms of [1_300, 3_600_700, 86_400_900]) {
      clock.jump(ms);
      h.emulator.control.advanceClock(ms / 1000);
      await manager.refresh('manual');
      expect(manager.getStatus().refreshToken?.hardExpiresAt).toBe(cap);
    }
    // A new authorization starts a new cap.
    h.emulator.control.advanceClock(86_400);
    clock.jump(86_400_000);
    const fresh = h.freshAuthorization();
    const connected = await manager.adoptAuthorization({
      ...fresh,
      expiresIn: 3600,
      refreshExpiresIn: 8_726_400,
      hardExpiresIn: 5 * 365 * 86_400,
    });
    expect(Date.parse(connected.refreshToken?.hardExpiresAt ?? '')).toBeGreaterThan(Date.parse(cap ?? ''));
  });
});

describe('telemetry', () => {
  it('reports refresh attempts with outcome, trigger and duration, lock waits, and store failures', async () => {
    const h = await setup();
    const events: string[] = [];
    const telemetry: EngineTelemetry = {
      refreshAttempted: (e) =>
        events.push(`refresh ${e.connectionId} ${e.trigger} ${e.outcome} ${e.durationMs >= 0}`),
      lockWaited: (e) => events.push(`lock ${e.connectionId} ${e.waitMs >= 0}`),
      storeFailed: (e) => events.push(`store ${e.connectionId} ${e.kind}`),
      apiRequested: () => undefined,
      retriedAfter401: () => undefined,
    };
    let failWrites = false;
    const manager = await h.manager({
      telemetry,
      retry: { maxAttempts: 1 },
      wrapStore: (inner) =>
        wrapStore(inner, {
          save: (record) => (failWrites ? Promise.reject(new Error('EIO: i/o error')) : inner.save(record)),
        }),
    });
    await manager.refresh('manual');
    h.emulator.control.injectTokenFault({ kind: 'status', status: 500 });
    await manager.refresh('manual').catch(() => undefined);
    failWrites = true;
    await manager.refresh('manual').catch(() => undefined);
    expect(events).toEqual([
      'lock default true',
      'refresh default manual ok true',
      'lock default true',
      'refresh default manual server true',
      'lock default true',
      'store default write',
      'refresh default manual store_error true',
    ]);
  });
});
