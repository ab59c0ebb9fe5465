// The shared record alone: its schema (what a newer version adds survives, what is broken is
// refused) and the pure changes the engine applies to it under the lock.
import { describe, expect, it } from 'vitest';
import { HISTORY_LIMIT, type HistoryEvent, type RefreshErrorInfo } from '../shared/contract';
import {
  appendHistory,
  applyHealthChange,
  applyHealthChanges,
  checkRecordForSave,
  emptyHealth,
  historyEvent,
  newConnectionRecord,
  nextRevision,
  parseConnectionRecord,
  rejectionOf,
  withTokens,
  defaultProfile,
  type ConnectionRecord,
  type HealthChange,
} from './connection-record';
import { fingerprintToken, type StoredTokens } from './token-store';

const T0 = Date.parse('2026-11-30T10:00:00.000Z');

const chain = (refreshToken = 'RT-record-test-0000-aaaa'): StoredTokens => ({
  version: 1,
  refreshToken,
  refreshTokenIssuedAt: T0,
  lastRotatedAt: null,
  refreshTokenExpiresAt: T0 + 100 * 86_400_000,
  refreshTokenHardExpiresAt: null,
  accessToken: 'AT-record-test-0000-bbbb',
  accessTokenExpiresAt: T0 + 3_600_000,
  refreshedAt: T0,
  realmId: '9130350000000042',
  origin: { envRefreshTokenSha256: null },
});

const record = (tokens: StoredTokens | null = chain()): ConnectionRecord =>
  newConnectionRecord('default', defaultProfile('sandbox', null), tokens);

const invalidGrant: RefreshErrorInfo = { kind: 'invalid_grant', message: 'refused', intuitTid: '1-abc' };
const attempt = (at = T0, client?: string) => ({ at, trigger: 'manual' as const, durationMs: 12, client });
const event = (at: number, message = 'x'): HistoryEvent => historyEvent(at, 'refreshed', message);

describe('a new record', () => {
  it('has revision 0, empty health and the default profile; its first write is revision 1', () => {
    const fresh = record();
    expect(fresh).toMatchObject({ version: 2, id: 'default', revision: 0 });
    expect(fresh.profile).toEqual({
      name: 'QuickBooks sandbox',
      environment: 'sandbox',
      realmId: null,
      companyName: null,
    });
    expect(fresh.health).toEqual(emptyHealth());
    expect(nextRevision(fresh, null).revision).toBe(1);
    expect(nextRevision(fresh, { ...fresh, revision: 41 }).revision).toBe(42);
  });
});

describe('the schema', () => {
  const written = () => JSON.parse(JSON.stringify(nextRevision(record(), null))) as Record<string, unknown>;

  it('round-trips a record', () => {
    const original = nextRevision(record(), null);
    expect(parseConnectionRecord(JSON.parse(JSON.stringify(original)))).toEqual(original);
  });

  it('keeps keys a newer version added inside profile, health and history events', () => {
    const raw = written() as { profile: object; health: object };
    raw.profile = { ...raw.profile, color: 'teal' };
    raw.health = { ...raw.health, webhooks: { ok: true }, history: [{ ...event(T0), by: 'admin' }] };
    const parsed = parseConnectionRecord(raw);
    expect(parsed.profile).toMatchObject({ color: 'teal' });
    expect(parsed.health).toMatchObject({ webhooks: { ok: true } });
    expect(parsed.health.history[0]).toMatchObject({ by: 'admin' });
    // And the changes the engine applies carry them through.
    const changed = applyHealthChanges(withTokens(parsed, chain('RT-rotated-0000-cccc')), [
      { type: 'refresh_succeeded', attempt: attempt(), events: [event(T0 + 1)] },
    ]);
    expect(changed.profile).toMatchObject({ color: 'teal' });
    expect(changed.health).toMatchObject({ webhooks: { ok: true } });
  });

  it('keeps the alert claim (health.announced), and reads a garbled one as none instead of refusing the record', () => {
    const raw = written() as { health: Record<string, unknown> };
    const announced = {
      conditions: [{ kind: 'refresh_failing', connectionId: 'default', message: 'failing', intuitTid: null }],
      at: '2026-11-30T10:00:00.000Z',
      by: 'host-a/123',
    };
    expect(parseConnectionRecord({ ...raw, health: { ...raw.health, announced } }).health.announced).toEqual(
      announced,
    );
    expect(
      parseConnectionRecord({ ...raw, health: { ...raw.health, announced: { conditions: 'garbage' } } })
        .health.announced,
    ).toBeUndefined();
  });

  it('a history event of a type this version does not know is kept; a broken one is dropped; at most HISTORY_LIMIT', () => {
    const raw = written() as { health: Record<string, unknown> };
    const history = [{ at: '2026-11-30T10:00:00.000Z', type: 'renamed', message: 'Renamed.' }, { type: 7 }];
    expect(parseConnectionRecord({ ...raw, health: { ...raw.health, history } }).health.history).toEqual([
      history[0],
    ]);
    const long = Array.from({ length: HISTORY_LIMIT + 5 }, (_, i) => event(T0 - i));
    expect(
      parseConnectionRecord({ ...raw, health: { ...raw.health, history: long } }).health.history,
    ).toHaveLength(HISTORY_LIMIT);
  });

  it.each([
    ['an id with a path in it', { id: '../x' }],
    ['another layout version', { version: 3 }],
    ['a negative revision', { revision: -1 }],
    ['a chain without its refresh token', { tokens: { ...chain(), refreshToken: '' } }],
    ['stats that are not counts', { health: { ...emptyHealth(), stats: { refreshes: 'many' } } }],
  ])('refuses %s', (_label, override) => {
    expect(() => parseConnectionRecord({ ...written(), ...override })).toThrow();
  });

  it('checkRecordForSave refuses a broken chain, a bad id or a revision below 1, cheaply', () => {
    expect(() => checkRecordForSave(nextRevision(record(), null))).not.toThrow();
    expect(() => checkRecordForSave(record())).toThrow(/revision of 1 or more/);
    expect(() => checkRecordForSave({ ...nextRevision(record(), null), id: 'a/b' })).toThrow();
    expect(() => checkRecordForSave(nextRevision(record({ ...chain(), accessToken: '' }), null))).toThrow();
  });
});

describe('history', () => {
  it('puts the newest first and keeps the newest HISTORY_LIMIT', () => {
    let history: HistoryEvent[] = [];
    for (let i = 0; i < HISTORY_LIMIT + 10; i += 1)
      history = appendHistory(history, [event(T0 + i, `e${i}`)]);
    expect(history).toHaveLength(HISTORY_LIMIT);
    expect(history[0].message).toBe(`e${HISTORY_LIMIT + 9}`);
    expect(history.at(-1)?.message).toBe('e10');
  });

  it('events given together (oldest first) land newest first', () => {
    expect(
      appendHistory([event(T0, 'old')], [event(T0 + 1, 'rotated'), event(T0 + 2, 'refreshed')]).map(
        (e) => e.message,
      ),
    ).toEqual(['refreshed', 'rotated', 'old']);
  });
});

describe('refresh outcomes', () => {
  it('a failure counts, starts the failing run, and becomes the last refresh with its client', () => {
    const failed = applyHealthChange(emptyHealth(), {
      type: 'refresh_failed',
      attempt: attempt(T0, 'qb-token'),
      error: { kind: 'server', message: '503', intuitTid: '1-x' },
      refreshTokenSha256: fingerprintToken('RT-record-test-0000-aaaa'),
      events: [],
    });
    expect(failed.stats).toMatchObject({
      failures: 1,
      consecutiveFailures: 1,
      failingSince: '2026-11-30T10:00:00.000Z',
    });
    expect(failed.lastRefresh).toEqual({
      at: '2026-11-30T10:00:00.000Z',
      ok: false,
      trigger: 'manual',
      durationMs: 12,
      error: { kind: 'server', message: '503', intuitTid: '1-x' },
      client: 'qb-token',
    });
    expect(failed.rejection).toBeNull();
    const again = applyHealthChange(failed, {
      type: 'refresh_failed',
      attempt: attempt(T0 + 60_000),
      error: { kind: 'timeout', message: 't', intuitTid: null },
      refreshTokenSha256: 'a'.repeat(64),
      events: [],
    });
    // The run began with the first failure.
    expect(again.stats).toMatchObject({
      failures: 2,
      consecutiveFailures: 2,
      failingSince: '2026-11-30T10:00:00.000Z',
    });
  });

  it('a success ends the failing run and any rejection', () => {
    const failing: HealthChange = {
      type: 'refresh_failed',
      attempt: attempt(),
      error: invalidGrant,
      refreshTokenSha256: fingerprintToken('RT-record-test-0000-aaaa'),
      events: [],
    };
    const ok = applyHealthChanges(record(), [
      failing,
      { type: 'refresh_succeeded', attempt: attempt(T0 + 5), events: [] },
    ]).health;
    expect(ok.stats).toMatchObject({ refreshes: 1, failures: 1, consecutiveFailures: 0, failingSince: null });
    expect(ok.rejection).toBeNull();
    expect(ok.lastRefresh).toMatchObject({ ok: true });
    expect(ok.lastRefresh?.error).toBeUndefined();
  });

  it('invalid_grant rejects exactly the refresh token that was sent; a chain that moved on is not rejected', () => {
    const rejected = applyHealthChanges(record(), [
      {
        type: 'refresh_failed',
        attempt: attempt(),
        error: invalidGrant,
        refreshTokenSha256: fingerprintToken('RT-record-test-0000-aaaa'),
        cause: 'interrupted_refresh',
        events: [],
      },
    ]);
    expect(rejectionOf(rejected)).toEqual({
      refreshTokenSha256: fingerprintToken('RT-record-test-0000-aaaa'),
      at: T0,
      error: invalidGrant,
      cause: 'interrupted_refresh',
    });
    // Another process had rotated to a new token meanwhile: the rejection is not about it.
    expect(rejectionOf({ ...rejected, tokens: chain('RT-newer-0000-dddd') })).toBeNull();
    // withTokens drops it outright when the chain changes, keeps it when the refresh token is the same.
    expect(withTokens(rejected, chain('RT-newer-0000-dddd')).health.rejection).toBeNull();
    expect(withTokens(rejected, { ...chain(), accessToken: null }).health.rejection).not.toBeNull();
    expect(rejectionOf(withTokens(rejected, null))).toBeNull();
  });

  it('a 401 retry counts; a new chain (Connect) ends the failing run; plain events only add history', () => {
    let health = applyHealthChange(emptyHealth(), { type: 'retried_after_401', events: [event(T0)] });
    expect(health.stats.retriedOn401).toBe(1);
    health = applyHealthChange(health, {
      type: 'refresh_failed',
      attempt: attempt(),
      error: invalidGrant,
      refreshTokenSha256: 'b'.repeat(64),
      events: [],
    });
    health = applyHealthChange(health, {
      type: 'chain_replaced',
      events: [historyEvent(T0 + 1, 'connected', 'Connected.')],
    });
    expect(health.stats).toMatchObject({ consecutiveFailures: 0, failingSince: null, failures: 1 });
    expect(health.rejection).toBeNull();
    const before = health.stats;
    health = applyHealthChange(health, {
      type: 'events',
      events: [historyEvent(T0 + 2, 'cleared', 'Cleared.')],
    });
    expect(health.stats).toEqual(before);
    expect(health.history.map((e) => e.type)).toEqual(['cleared', 'connected', 'refreshed']);
  });

  it('changes are values: the same pending changes applied to a newer record count once there', () => {
    const pending: HealthChange[] = [{ type: 'retried_after_401', events: [event(T0)] }];
    const newer = applyHealthChanges(record(), [
      { type: 'refresh_succeeded', attempt: attempt(), events: [] },
    ]);
    const merged = applyHealthChanges(newer, pending);
    expect(merged.health.stats).toMatchObject({ refreshes: 1, retriedOn401: 1 });
    // The input records are untouched.
    expect(newer.health.stats.retriedOn401).toBe(0);
  });
});

describe('withTokens', () => {
  it('takes the realm from the chain when it has one', () => {
    expect(withTokens(record(null), chain()).profile.realmId).toBe('9130350000000042');
    expect(withTokens(record(null), { ...chain(), realmId: null }).profile.realmId).toBeNull();
  });
});
