// The refresh coordination against the emulator over real loopback HTTP: the schedule, the single
// flight, the back-off loop, the 401 path, and a leak scan of everything each test produced. One
// attempt inside the lock (rotation, faults, an interrupted refresh) is refresh-attempt.test.ts; the
// start and other processes' writes, record-sync.test.ts; Connect / Clear / Disconnect,
// connection-changes.test.ts; QB_ACCESS_TOKEN, environment-fallback.test.ts; time-driven status
// events, status-broadcast.test.ts; the shared record across processes, token-manager-shared.test.ts;
// a store that fails, token-manager-store.test.ts.
import { describe, expect, it } from 'vitest';
import type { TokenStatus } from '../shared/contract';
import { QuickBooksClient } from './quickbooks-client';
import { harnessPerTest, type EngineHarness } from './testing/engine-harness';
import { ManualClock, waitFor } from './testing/manual-clock';

const setup = harnessPerTest();
const refreshCalls = (h: EngineHarness) => h.emulator.control.counters().tokenCalls.refresh_token;

describe('schedule', () => {
  it('refreshes ahead of expiry by the skew, on its one timer', async () => {
    const h = await setup();
    const clock = new ManualClock();
    const manager = await h.manager({ now: clock.now, timers: clock.timers, refreshOnStart: true });
    // Nothing usable yet: the start-up refresh is due at once.
    expect(clock.nextDue()).toBe(clock.now());
    clock.advance(0);
    await waitFor(() => manager.getStatus().stats.refreshes === 1, 'the start-up refresh');
    await manager.whenIdle();
    const first = manager.getStatus();
    expect(first.state).toBe('valid');
    const expiresAt = Date.parse(first.accessToken?.expiresAt ?? '');
    expect(Date.parse(first.autoRefresh.nextRefreshAt ?? '')).toBe(expiresAt - 300_000);
    expect(clock.pendingCount).toBe(1);

    // One millisecond before the skew window: no token call.
    clock.advance(expiresAt - 300_000 - clock.now() - 1);
    expect(refreshCalls(h)).toBe(1);
    expect(manager.getStatus().state).toBe('valid');

    clock.advance(1);
    expect(manager.getStatus().state).toBe('refreshing');
    await waitFor(() => manager.getStatus().stats.refreshes === 2, 'the scheduled refresh');
    await manager.whenIdle();
    const second = manager.getStatus();
    expect(refreshCalls(h)).toBe(2);
    expect(second.lastRefresh?.trigger).toBe('scheduled');
    expect(second.accessToken?.preview).not.toBe(first.accessToken?.preview);
    // The old token had not expired when it was replaced.
    expect(clock.now()).toBeLessThan(expiresAt);
  });

  it('reports expiring inside the skew window and expired after, and dispose stops the timer', async () => {
    const h = await setup();
    const clock = new ManualClock();
    const manager = await h.manager({ now: clock.now, timers: clock.timers });
    await manager.getAccessToken();
    const expiresAt = Date.parse(manager.getStatus().accessToken?.expiresAt ?? '');
    await manager.dispose();
    expect(clock.pendingCount).toBe(0);
    clock.advance(expiresAt - 100_000 - clock.now());
    expect(manager.getStatus().state).toBe('expiring');
    clock.advance(200_000);
    expect(manager.getStatus().state).toBe('expired');
    expect(refreshCalls(h)).toBe(1);
  });
});

describe('single flight', () => {
  it('1,000 concurrent callers at expiry cause exactly one token call', async () => {
    const h = await setup();
    const clock = new ManualClock();
    const manager = await h.manager({ now: clock.now, timers: clock.timers });
    const before = await manager.getAccessToken();
    // Wake up past expiry (on both clocks) before the timer had a chance to fire.
    clock.jump(3601_000);
    h.emulator.control.advanceClock(3601);
    expect(manager.getStatus().state).toBe('expired');
    h.emulator.control.resetCounters();
    const tokens = await Promise.all(Array.from({ length: 1000 }, () => manager.getAccessToken()));
    expect(h.emulator.control.counters().tokenCalls.refresh_token).toBe(1);
    expect(new Set(tokens).size).toBe(1);
    expect(tokens[0]).not.toBe(before);
    expect(manager.getStatus().stats.refreshes).toBe(2);
  });

  it('concurrent manual refreshes and 401 retries share one call', async () => {
    const h = await setup();
    const manager = await h.manager();
    const stale = await manager.getAccessToken();
    h.emulator.control.resetCounters();
    h.emulator.control.injectTokenFault({ kind: 'delay', ms: 100 });
    const results = await Promise.all([
      manager.refresh('manual'),
      manager.refresh('manual'),
      manager.refreshAfter401(stale),
      manager.refreshAfter401(stale),
      manager.getAccessToken(),
    ]);
    expect(refreshCalls(h)).toBe(1);
    const fresh = results[2];
    expect(fresh).not.toBe(stale);
    expect(results[3]).toBe(fresh);
    // A 401 for a token that has already been replaced needs no refresh at all.
    expect(await manager.refreshAfter401(stale)).toBe(fresh);
    expect(refreshCalls(h)).toBe(1);
  });
});

describe('failures', () => {
  it('retries transient failures with back-off and the same refresh token, and says so', async () => {
    const h = await setup();
    const manager = await h.manager({ retry: { maxAttempts: 4, baseDelayMs: 20 } });
    await manager.getAccessToken();
    const seen: Array<TokenStatus['autoRefresh']['retrying']> = [];
    manager.onStatusChanged((status) => seen.push(status.autoRefresh.retrying));
    h.emulator.control.resetCounters();
    h.emulator.control.injectTokenFault({ kind: 'status', status: 503 }, 2);
    const status = await manager.refresh('manual');
    expect(refreshCalls(h)).toBe(3);
    expect(status.lastRefresh?.ok).toBe(true);
    expect(status.stats.failures).toBe(2);
    expect(status.autoRefresh.retrying).toBeNull();
    expect(seen).toContainEqual({ attempt: 2, maxAttempts: 4 });
    expect(seen).toContainEqual({ attempt: 3, maxAttempts: 4 });
  });

  it('shows when a back-off retry will happen as the next refresh time', async () => {
    const h = await setup();
    const manager = await h.manager({ retry: { maxAttempts: 2, baseDelayMs: 400 } });
    await manager.getAccessToken();
    const during: Array<{ retrying: boolean; next: string | null }> = [];
    manager.onStatusChanged((status) =>
      during.push({ retrying: status.autoRefresh.retrying !== null, next: status.autoRefresh.nextRefreshAt }),
    );
    h.emulator.control.injectTokenFault({ kind: 'status', status: 503 }, 1);
    const startedAt = Date.now();
    await manager.refresh('manual');
    const retryTimes = during.filter((s) => s.retrying).map((s) => s.next);
    expect(retryTimes.length).toBeGreaterThan(0);
    for (const at of retryTimes) {
      expect(at).not.toBeNull();
      expect(Date.parse(at ?? '')).toBeGreaterThanOrEqual(startedAt);
    }
  });

  it('refreshes once after a 401 and counts it', async () => {
    const h = await setup();
    const manager = await h.manager();
    const client = new QuickBooksClient({
      tokens: manager,
      apiBaseUrl: h.emulator.apiBaseUrl,
      realmId: h.emulator.realmId,
    });
    await client.getCompanyInfo();
    h.emulator.control.revokeAccessTokens();
    h.emulator.control.resetCounters();
    await Promise.all(Array.from({ length: 5 }, () => client.getCompanyInfo()));
    expect(refreshCalls(h)).toBe(1);
    const status = manager.getStatus();
    expect(status.stats.retriedOn401).toBe(1);
    expect(status.history.map((event) => event.type)).toContain('retried_after_401');
  });
});

describe('not configured', () => {
  it('is not_configured without any token, and says why', async () => {
    const h = await setup();
    const manager = await h.manager({ env: { refreshToken: null } });
    expect(manager.getStatus().state).toBe('not_configured');
    const error = await manager.getAccessToken().catch((err: unknown) => err);
    h.scan.collect('error', error);
    expect((error as Error).message).toMatch(/QB_REFRESH_TOKEN/);
  });
});

describe('history and events', () => {
  it('keeps the last 50 events, newest first, and emits a status on every change', async () => {
    // Rotation on every refresh: two events per refresh, 60 in all.
    const h = await setup({ rotateAfterSeconds: 0 });
    const manager = await h.manager();
    const events: TokenStatus[] = [];
    manager.onStatusChanged((status) => events.push(status));
    for (let i = 0; i < 30; i += 1) await manager.refresh('manual');
    const status = manager.getStatus();
    expect(status.stats.refreshes).toBe(30);
    expect(status.history).toHaveLength(50);
    expect(Date.parse(status.history[0]?.at ?? '')).toBeGreaterThanOrEqual(
      Date.parse(status.history[49]?.at ?? ''),
    );
    // Each refresh shows as refreshing, then as its outcome.
    expect(events.filter((event) => event.state === 'refreshing')).toHaveLength(30);
    expect(events.at(-1)?.state).toBe('valid');
  });
});

describe('expiry warnings', () => {
  it('warns when the refresh token or the 5-year cap is under 14 days away, with absolute times', async () => {
    const h = await setup({ refreshTokenTtlSeconds: 10 * 86_400, refreshTokenHardTtlSeconds: 12 * 86_400 });
    const manager = await h.manager();
    await manager.getAccessToken();
    const status = manager.getStatus();
    const warnings = status.warnings.join(' ');
    expect(warnings).toContain(`The refresh token expires on ${status.refreshToken?.expiresAt}`);
    expect(warnings).toContain(`5-year limit on ${status.refreshToken?.hardExpiresAt}`);
    expect(warnings).toMatch(/reconnect/i);
  });
});
