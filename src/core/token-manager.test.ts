// The token engine against the emulator over real loopback HTTP: schedule, single-flight,
// durability of rotation, restarts, the environment's token, every fault kind, fallback, and a
// leak scan of everything each test produced. The shared record across processes is
// token-manager-shared.test.ts; a store that fails, token-manager-store.test.ts.
import { afterEach, describe, expect, it } from 'vitest';
import type { TokenFault } from '../emulator/types';
import type { RefreshErrorKind, TokenStatus } from '../shared/contract';
import { ReauthorizationRequiredError, TokenError } from './errors';
import { QuickBooksClient } from './quickbooks-client';
import { EngineHarness } from './testing/engine-harness';
import { ManualClock, waitFor } from './testing/manual-clock';
import { existsSync } from 'node:fs';
import { REFRESHING_NOTE_SUFFIX } from './file-connection-store';
import type { ConnectionStore } from './connection-store';
import { wrapStore } from './testing/store-wrapper';
import { fingerprintToken } from './token-store';

let harness: EngineHarness | null = null;

async function setup(options: Parameters<typeof EngineHarness.start>[0] = {}): Promise<EngineHarness> {
  harness = await EngineHarness.start(options);
  return harness;
}

afterEach(async () => {
  if (!harness) return;
  const current = harness;
  harness = null;
  try {
    current.assertNoLeaks();
  } finally {
    await current.close();
  }
});

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

describe('rotation and restarts', () => {
  it('stores the rotated refresh token durably before the access token is returned', async () => {
    const h = await setup({ rotateAfterSeconds: 0 });
    const order: string[] = [];
    const observe = (store: ConnectionStore): ConnectionStore =>
      wrapStore(store, {
        async save(record) {
          await store.save(record);
          order.push(`saved ${record.tokens?.refreshToken}`);
        },
      });
    const manager = await h.manager({ wrapStore: observe });
    const original = h.emulator.refreshToken;
    const token = await manager.getAccessToken().then((value) => {
      order.push('returned');
      return value;
    });
    const onDisk = await h.readStoredTokens();
    expect(onDisk?.refreshToken).not.toBe(original);
    expect(onDisk?.accessToken).toBe(token);
    expect(order).toEqual([`saved ${onDisk?.refreshToken}`, 'returned']);
    // Rotation kills the old value at once ('immediate'): only the stored one works now.
    expect(h.emulator.control.isRefreshTokenValid(original)).toBe(false);
    expect(h.emulator.control.isRefreshTokenValid(onDisk?.refreshToken ?? '')).toBe(true);
    const status = manager.getStatus();
    expect(status.refreshToken?.source).toBe('stored');
    expect(status.refreshToken?.lastRotatedAt).not.toBeNull();
    expect(status.history.map((event) => event.type)).toEqual(['refreshed', 'rotated']);
    // The store file is mode 0600.
    const { stat } = await import('node:fs/promises');
    expect((await stat(h.storePath)).mode & 0o777).toBe(0o600);
  });

  it('a fresh manager over the same store uses the rotated token, not the stale environment one', async () => {
    const h = await setup({ rotateAfterSeconds: 0 });
    const first = await h.manager();
    await first.getAccessToken();
    await first.dispose();
    const rotated = (await h.readStoredTokens())?.refreshToken ?? '';
    // Same environment (its QB_REFRESH_TOKEN is now dead at Intuit).
    const second = await h.manager();
    expect(second.getStatus().refreshToken?.preview).toBe(`…${rotated.slice(-4)}`);
    expect(second.getStatus().refreshToken?.source).toBe('stored');
    await second.refresh('manual');
    expect(second.getStatus().lastRefresh?.ok).toBe(true);
    expect(second.getStatus().state).toBe('valid');
  });

  it('restarts without a token call while the stored access token is valid', async () => {
    const h = await setup();
    const first = await h.manager();
    const token = await first.getAccessToken();
    await first.dispose();
    h.emulator.control.resetCounters();
    const second = await h.manager({ refreshOnStart: true });
    expect(await second.getAccessToken()).toBe(token);
    expect(second.getStatus().source).toBe('cached');
    expect(refreshCalls(h)).toBe(0);
  });

  it('a changed environment token wins over the stored chain (the user reconnected)', async () => {
    const h = await setup({ rotateAfterSeconds: 0 });
    const first = await h.manager();
    await first.getAccessToken();
    await first.dispose();
    const reconnected = h.emulator.control.issueAuthorization();
    h.scan.addSecrets(reconnected.accessToken, reconnected.refreshToken);
    const second = await h.manager({ env: { refreshToken: reconnected.refreshToken } });
    const status = second.getStatus();
    expect(status.refreshToken?.preview).toBe(`…${reconnected.refreshToken.slice(-4)}`);
    expect(status.refreshToken?.source).toBe('environment');
    expect(status.history[0]?.type).toBe('environment_token_adopted');
    await second.getAccessToken();
    const onDisk = await h.readStoredTokens();
    expect(h.emulator.control.isRefreshTokenValid(onDisk?.refreshToken ?? '')).toBe(true);
    await second.dispose();
    // And from now on the stored chain (started from the new value) wins again.
    const third = await h.manager({ env: { refreshToken: reconnected.refreshToken } });
    expect(third.getStatus().refreshToken?.source).toBe('stored');
    expect(third.getStatus().refreshToken?.preview).toBe(`…${onDisk?.refreshToken.slice(-4)}`);
  });

  it('another process that already refreshed is adopted inside the lock, without a token call', async () => {
    const h = await setup({ rotateAfterSeconds: 0 });
    const clock = new ManualClock();
    const a = await h.manager({ now: clock.now, timers: clock.timers });
    const b = await h.manager({ now: clock.now, timers: clock.timers });
    const fromA = await a.getAccessToken();
    // B started before A refreshed: its memory still holds the environment chain. It must not
    // refresh with the (now rotated-away) environment token.
    h.emulator.control.resetCounters();
    expect(await b.getAccessToken()).toBe(fromA);
    expect(refreshCalls(h)).toBe(0);
    // Both wake up past expiry at the same time: one token call between them.
    clock.jump(3601_000);
    h.emulator.control.advanceClock(3601);
    const [x, y] = await Promise.all([a.getAccessToken(), b.getAccessToken()]);
    expect(x).toBe(y);
    expect(refreshCalls(h)).toBe(1);
    expect(a.getStatus().state).toBe('valid');
    expect(b.getStatus().state).toBe('valid');
  });
});

describe('a refresh interrupted by a stop (kill -9 between Intuit answering and the save)', () => {
  /** A stored chain, then what a process killed mid-refresh leaves: the in-flight note, and (optionally) a token Intuit retired. */
  async function interruptedChain(h: EngineHarness, options: { answered: boolean; noteFor?: string }) {
    const first = await h.manager();
    await first.getAccessToken();
    await first.dispose();
    const stored = await h.readStoredTokens();
    if (!stored) throw new Error('no stored chain');
    h.store().beginRefresh('default', {
      startedAt: Date.parse('2026-11-27T10:00:00Z'),
      refreshTokenSha256: fingerprintToken(options.noteFor ?? stored.refreshToken),
    });
    // Intuit processed the call and rotated the token; its answer died with the process.
    if (options.answered) await h.oauth().refresh(stored.refreshToken);
    return stored;
  }

  it('says the app was stopped mid-refresh when the next refresh is refused (kind still invalid_grant)', async () => {
    const h = await setup({ rotateAfterSeconds: 0 });
    await interruptedChain(h, { answered: true });
    const manager = await h.manager();
    await expect(manager.refresh('manual')).rejects.toThrow(/stopped during a refresh/);
    const status = manager.getStatus();
    expect(status.state).toBe('reauthorization_required');
    expect(status.lastRefresh?.error?.kind).toBe('invalid_grant');
    expect(status.lastRefresh?.error?.message).toMatch(
      /stopped during a refresh \(started 2026-11-27T10:00:00.000Z\) after Intuit had issued a new refresh token, before it could be saved.*Reconnect to QuickBooks/,
    );
    expect(status.warnings.join(' ')).toMatch(/stopped during a refresh.*Reconnect to QuickBooks/);
    expect(status.history[0]).toMatchObject({ type: 'failed' });
    expect(status.history[0].message).toMatch(/stopped during a refresh/);
  });

  it('keeps the plain invalid_grant message when the note is about another refresh token', async () => {
    const h = await setup({ rotateAfterSeconds: 0 });
    await interruptedChain(h, { answered: true, noteFor: 'some-other-refresh-token-value' });
    const manager = await h.manager();
    await expect(manager.refresh('manual')).rejects.toThrow(/invalid_grant/);
    const status = manager.getStatus();
    expect(status.lastRefresh?.error?.kind).toBe('invalid_grant');
    expect(status.lastRefresh?.error?.message).not.toMatch(/stopped during a refresh/);
    expect(status.warnings.join(' ')).not.toMatch(/stopped during a refresh/);
  });

  it('a stop before Intuit processed the call costs nothing: the refresh works and the note is gone', async () => {
    const h = await setup({ rotateAfterSeconds: 0 });
    await interruptedChain(h, { answered: false });
    expect(existsSync(h.storePath + REFRESHING_NOTE_SUFFIX)).toBe(true);
    const manager = await h.manager();
    await manager.refresh('manual');
    expect(manager.getStatus().lastRefresh?.ok).toBe(true);
    expect(existsSync(h.storePath + REFRESHING_NOTE_SUFFIX)).toBe(false);
    expect(manager.getStatus().warnings.join(' ')).not.toMatch(/stopped during a refresh/);
  });
});

describe('failures', () => {
  const cases: Array<{ fault: TokenFault; kind: RefreshErrorKind; tid: boolean }> = [
    { fault: { kind: 'status', status: 500 }, kind: 'server', tid: true },
    { fault: { kind: 'status', status: 502 }, kind: 'server', tid: true },
    { fault: { kind: 'status', status: 503 }, kind: 'server', tid: true },
    { fault: { kind: 'status', status: 429, retryAfterSeconds: 0 }, kind: 'rate_limited', tid: true },
    { fault: { kind: 'html' }, kind: 'bad_response', tid: true },
    { fault: { kind: 'malformed_json' }, kind: 'bad_response', tid: true },
    { fault: { kind: 'reset' }, kind: 'network', tid: false },
    { fault: { kind: 'hang' }, kind: 'timeout', tid: false },
    { fault: { kind: 'delay', ms: 1000 }, kind: 'timeout', tid: false },
    { fault: { kind: 'hang_after_processing' }, kind: 'timeout', tid: false },
    { fault: { kind: 'invalid_client' }, kind: 'invalid_client', tid: true },
    { fault: { kind: 'invalid_grant' }, kind: 'invalid_grant', tid: true },
  ];

  for (const { fault, kind, tid } of cases) {
    it(`classifies ${JSON.stringify(fault)} as ${kind} and loses nothing`, async () => {
      const h = await setup();
      const manager = await h.manager({ retry: { maxAttempts: 1 }, timeoutMs: 300 });
      await manager.getAccessToken();
      h.emulator.control.injectTokenFault(fault);
      const error = await manager.refresh('manual').then(
        () => null,
        (err: unknown) => err,
      );
      h.scan.collect('error', error);
      expect(error).toBeInstanceOf(TokenError);
      expect((error as TokenError).kind).toBe(kind);
      const status = manager.getStatus();
      expect(status.lastRefresh?.ok).toBe(false);
      expect(status.lastRefresh?.error?.kind).toBe(kind);
      expect(status.stats.failures).toBe(1);
      if (tid) expect(status.lastRefresh?.error?.intuitTid).toMatch(/^1-/);
      else expect(status.lastRefresh?.error?.intuitTid).toBeNull();
      expect(status.history[0]).toMatchObject({ type: 'failed', trigger: 'manual' });
      const stored = await h.readStoredTokens();
      expect(h.emulator.control.isRefreshTokenValid(stored?.refreshToken ?? '')).toBe(true);
      if (kind === 'invalid_grant') {
        expect(status.state).toBe('reauthorization_required');
        expect(status.autoRefresh.enabled).toBe(false);
      } else if (kind === 'invalid_client') {
        expect(status.autoRefresh.enabled).toBe(false);
        expect(status.warnings.join(' ')).toMatch(/invalid_client/);
      } else {
        // Transient: the same refresh token works on the next try.
        await manager.refresh('manual');
        expect(manager.getStatus().lastRefresh?.ok).toBe(true);
      }
    });
  }

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

  it('after Clear, QB_ACCESS_TOKEN stands in with the environment badge until the next refresh', async () => {
    const h = await setup();
    const seeded = h.emulator.control.issueAuthorization(h.emulator.realmId);
    h.scan.addSecrets(seeded.accessToken, seeded.refreshToken);
    const manager = await h.manager({ env: { accessToken: seeded.accessToken } });
    await manager.refresh('manual');
    expect(manager.getStatus().source).toBe('cached');
    const cleared = await manager.clear();
    expect(cleared.source).toBe('environment');
    expect(cleared.accessToken?.preview).toBe(`…${seeded.accessToken.slice(-4)}`);
    expect(cleared.refreshToken?.source).toBe('stored');
    const refreshed = await manager.refresh('manual');
    expect(refreshed.source).toBe('cached');
    expect(refreshed.accessToken?.preview).not.toBe(`…${seeded.accessToken.slice(-4)}`);
  });

  it('retries a refresh whose answer never came with the same refresh token', async () => {
    const h = await setup();
    const manager = await h.manager({ timeoutMs: 300 });
    await manager.getAccessToken();
    const before = await h.readStoredTokens();
    h.emulator.control.injectTokenFault({ kind: 'hang_after_processing' });
    await manager.refresh('manual');
    const after = await h.readStoredTokens();
    expect(after?.refreshToken).toBe(before?.refreshToken);
    expect(manager.getStatus().history.map((event) => event.type)).toEqual([
      'refreshed',
      'failed',
      'refreshed',
    ]);
  });

  it('invalid_grant stops the schedule and records intuit_tid', async () => {
    const h = await setup();
    const clock = new ManualClock();
    const manager = await h.manager({ now: clock.now, timers: clock.timers });
    await manager.getAccessToken();
    expect(clock.pendingCount).toBe(1);
    // Really revoked at the emulator, not an injected answer.
    await h.oauth().revoke((await h.readStoredTokens())?.refreshToken ?? '');
    const error = await manager.refresh('manual').catch((err: unknown) => err);
    h.scan.collect('error', error);
    expect((error as TokenError).kind).toBe('invalid_grant');
    const status = manager.getStatus();
    expect(status.state).toBe('reauthorization_required');
    expect(status.autoRefresh).toMatchObject({ enabled: false, nextRefreshAt: null });
    expect(clock.pendingCount).toBe(0);
    expect(status.lastRefresh?.error?.intuitTid).toMatch(/^1-/);
    expect(status.history[0]?.intuitTid).toBe(status.lastRefresh?.error?.intuitTid);
    expect(status.lastRefresh?.error?.message).toMatch(/reconnect/i);
    // Callers get a clear error and no token call is made.
    h.emulator.control.resetCounters();
    clock.jump(3601_000);
    const callerError = await manager.getAccessToken().catch((err: unknown) => err);
    h.scan.collect('error', callerError);
    expect(callerError).toBeInstanceOf(ReauthorizationRequiredError);
    expect(refreshCalls(h)).toBe(0);
    // The refresh token is kept (never deleted), so a later Connect can replace it cleanly.
    expect(await h.readStoredTokens()).not.toBeNull();
  });

  it('falls back to QB_ACCESS_TOKEN when refreshing fails, and says so', async () => {
    const h = await setup();
    const seeded = h.emulator.control.issueAuthorization(h.emulator.realmId);
    h.scan.addSecrets(seeded.accessToken, seeded.refreshToken);
    const manager = await h.manager({ env: { accessToken: seeded.accessToken }, retry: { maxAttempts: 2 } });
    h.emulator.control.injectTokenFault({ kind: 'status', status: 503 }, 2);
    expect(await manager.getAccessToken()).toBe(seeded.accessToken);
    const status = manager.getStatus();
    expect(status.source).toBe('environment');
    expect(status.accessToken?.preview).toBe(`…${seeded.accessToken.slice(-4)}`);
    expect(status.warnings.join(' ')).toMatch(/QB_ACCESS_TOKEN/);
    expect(status.history[0]?.type).toBe('fell_back_to_environment');
    // The environment's token really works against the API.
    const client = new QuickBooksClient({
      tokens: manager,
      apiBaseUrl: h.emulator.apiBaseUrl,
      realmId: h.emulator.realmId,
    });
    expect((await client.getCompanyInfo()).realmId).toBe(h.emulator.realmId);
    // Recovery: the next refresh puts the engine back on its own tokens.
    await manager.refresh('manual');
    expect(manager.getStatus().source).toBe('cached');
    expect(manager.getStatus().warnings.join(' ')).not.toMatch(/QB_ACCESS_TOKEN/);
  });

  it('does not fall back to an environment token the API has rejected', async () => {
    const h = await setup();
    const seeded = h.emulator.control.issueAuthorization(h.emulator.realmId);
    h.scan.addSecrets(seeded.accessToken, seeded.refreshToken);
    const manager = await h.manager({ env: { accessToken: seeded.accessToken }, retry: { maxAttempts: 1 } });
    h.emulator.control.injectTokenFault({ kind: 'status', status: 503 }, 3);
    expect(await manager.getAccessToken()).toBe(seeded.accessToken);
    const error = await manager.refreshAfter401(seeded.accessToken).catch((err: unknown) => err);
    h.scan.collect('error', error);
    expect((error as TokenError).kind).toBe('server');
    expect(manager.getStatus().stats.retriedOn401).toBe(1);
    expect(await manager.getAccessToken().catch((err: unknown) => err)).toBeInstanceOf(TokenError);
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

describe('clock skew', () => {
  for (const shift of [+900, -900]) {
    it(`keeps working with the emulator's clock ${shift > 0 ? 'ahead' : 'behind'} by ${Math.abs(shift)} s`, async () => {
      const h = await setup();
      h.emulator.control.advanceClock(shift);
      const manager = await h.manager();
      const before = Date.now();
      await manager.getAccessToken();
      const after = Date.now();
      // Expiry is counted on our clock from when the request was sent: skew-proof and conservative.
      const expiresAt = Date.parse(manager.getStatus().accessToken?.expiresAt ?? '');
      expect(expiresAt).toBeGreaterThanOrEqual(before + 3600_000);
      expect(expiresAt).toBeLessThanOrEqual(after + 3600_000);
      const client = new QuickBooksClient({
        tokens: manager,
        apiBaseUrl: h.emulator.apiBaseUrl,
        realmId: h.emulator.realmId,
      });
      expect((await client.getCompanyInfo()).realmId).toBe(h.emulator.realmId);
      // Just before our computed expiry minus the skew, the token still works at the emulator.
      h.emulator.control.advanceClock(3600 - 300 - 1);
      h.emulator.control.resetCounters();
      await client.getCompanyInfo();
      expect(h.emulator.control.counters().api401s).toBe(0);
    });
  }
});

describe('clear, connect and forget', () => {
  it('clear drops only the access token; the refresh token survives', async () => {
    const h = await setup();
    const manager = await h.manager();
    await manager.getAccessToken();
    const status = await manager.clear();
    expect(status.accessToken).toBeNull();
    expect(status.refreshToken?.source).toBe('stored');
    const stored = await h.readStoredTokens();
    expect(stored?.accessToken).toBeNull();
    expect(h.emulator.control.isRefreshTokenValid(stored?.refreshToken ?? '')).toBe(true);
    await manager.getAccessToken();
    expect(manager.getStatus().state).toBe('valid');
  });

  it('adoptAuthorization stores the new chain before serving it and clears reauthorization', async () => {
    const h = await setup();
    const manager = await h.manager();
    h.emulator.control.injectTokenFault({ kind: 'invalid_grant' });
    await manager.refresh('manual').catch(() => undefined);
    expect(manager.getStatus().state).toBe('reauthorization_required');
    const fresh = h.emulator.control.issueAuthorization(h.emulator.realmId);
    h.scan.addSecrets(fresh.accessToken, fresh.refreshToken);
    await manager.adoptAuthorization({ ...fresh, expiresIn: 3600, refreshExpiresIn: 8_726_400 });
    expect((await h.readStoredTokens())?.refreshToken).toBe(fresh.refreshToken);
    expect(await manager.getAccessToken()).toBe(fresh.accessToken);
    const status = manager.getStatus();
    expect(status.state).toBe('valid');
    expect(status.history[0]?.type).toBe('connected');
    const forgotten = await manager.forget();
    expect(forgotten.state).toBe('not_configured');
    expect(await h.readStoredTokens()).toBeNull();
  });

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

describe('time-driven status events', () => {
  it('emits expiring and expired when no refresh is scheduled to act (keys rejected)', async () => {
    const h = await setup();
    const clock = new ManualClock();
    const manager = await h.manager({ now: clock.now, timers: clock.timers, retry: { maxAttempts: 1 } });
    await manager.getAccessToken();
    h.emulator.control.injectTokenFault({ kind: 'invalid_client' });
    await manager.refresh('manual').catch(() => undefined);
    const states: string[] = [];
    manager.onStatusChanged((status) => states.push(status.state));
    expect(manager.getStatus().autoRefresh.enabled).toBe(false);
    clock.advance(3600_000 - 300_000 + 1);
    expect(states).toEqual(['expiring']);
    clock.advance(300_000);
    expect(states).toEqual(['expiring', 'expired']);
    expect(clock.pendingCount).toBe(0);
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
