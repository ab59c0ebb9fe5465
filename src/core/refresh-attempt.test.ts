// One refresh attempt inside the lock, against the emulator over real loopback HTTP: the rotated chain
// is durable before the access token is handed out (and in place the moment Intuit's answer is in, so
// a kill -9 has no event-loop turn to land in), another process's newer result is taken without a
// token call, every fault kind is classified and recorded without losing the chain, and a refresh a
// stopped process left in flight is explained. The back-off loop around attempts is
// token-manager.test.ts's.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { TokenFault } from '../emulator/types';
import type { RefreshErrorKind } from '../shared/contract';
import type { ConnectionStore } from './connection-store';
import { ReauthorizationRequiredError, TokenError } from './errors';
import { REFRESHING_NOTE_SUFFIX } from './file-connection-store';
import { QuickBooksClient } from './quickbooks-client';
import { harnessPerTest, type EngineHarness } from './testing/engine-harness';
import { ManualClock } from './testing/manual-clock';
import { failingSaves, holdableSaves, wrapStore } from './testing/store-wrapper';
import { fingerprintToken } from './token-store';

const setup = harnessPerTest();
const refreshCalls = (h: EngineHarness) => h.emulator.control.counters().tokenCalls.refresh_token;

describe("the save on Intuit's answer (rule 3)", () => {
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

  it("puts the rotated chain in place before the engine's answer callback returns (no turn for a kill -9)", async () => {
    const h = await setup({ rotateAfterSeconds: 0 });
    const seen: Array<{ answered: string; onDisk: string }> = [];
    const manager = await h.manager({
      wrapOAuth: (oauth) => ({
        refresh: (refreshToken, options) =>
          oauth.refresh(refreshToken, {
            ...options,
            onAnswer: (answer) => {
              options?.onAnswer?.(answer);
              // Synchronously, as the engine's callback returns: the record file holds the new chain.
              let onDisk: string;
              try {
                onDisk = readFileSync(h.storePath, 'utf8');
              } catch (err) {
                onDisk = `unreadable (${(err as NodeJS.ErrnoException).code})`;
              }
              seen.push({ answered: answer.refreshToken, onDisk });
            },
          }),
      }),
    });
    await manager.getAccessToken();
    await manager.refresh('manual');
    expect(seen).toHaveLength(2);
    for (const { answered, onDisk } of seen) expect(onDisk).toContain(`"refreshToken":"${answered}"`);
    // The second answer replaced the first answer's refresh token, which Intuit retired at once.
    expect(seen[1]?.onDisk).not.toContain(`"refreshToken":"${seen[0]?.answered}"`);
  });
});

describe('another process refreshed meanwhile', () => {
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

describe("a live process's note is not a stopped process's", () => {
  it('a process started while another is mid-refresh: a later invalid_grant (revoked elsewhere) keeps the plain message', async () => {
    const h = await setup(); // default rotation: the refresh keeps its refresh token, as Intuit does within a day
    const saves = holdableSaves();
    const a = await h.manager({ wrapStore: saves.wrap });
    // A's refresh: its note left, Intuit has answered, its save waits.
    saves.hold();
    const refreshing = a.refresh('manual');
    await saves.saveAsked();
    expect(existsSync(h.storePath + REFRESHING_NOTE_SUFFIX)).toBe(true);
    const b = await h.manager();
    saves.release();
    await refreshing;
    expect(existsSync(h.storePath + REFRESHING_NOTE_SUFFIX)).toBe(false);
    // The authorization is revoked elsewhere (the company disconnected the app in QuickBooks).
    const stored = await h.readStoredTokens();
    expect(await h.oauth().revoke(stored?.refreshToken ?? '')).toMatchObject({ outcome: 'revoked' });

    await expect(b.refresh('manual')).rejects.toThrow(/invalid_grant/);
    const status = b.getStatus();
    expect(status.state).toBe('reauthorization_required');
    expect(status.lastRefresh?.error?.kind).toBe('invalid_grant');
    expect(status.lastRefresh?.error?.message).toMatch(
      /^HTTP 400 invalid_grant: the refresh token expired, was revoked, or was rotated away .*reconnect to QuickBooks/,
    );
    expect(status.warnings).toContain(
      'QuickBooks no longer accepts the refresh token: reconnect to QuickBooks.',
    );
    expect(JSON.stringify(status)).not.toMatch(/stopped during a refresh/);
  });

  it('the note kept while a refreshed chain could not be saved is dropped once it is: a later refusal keeps the plain message', async () => {
    const h = await setup(); // default rotation: the refresh keeps its refresh token, as Intuit does within a day
    const failures = { remaining: 0 };
    const manager = await h.manager({
      wrapStore: (store) => failingSaves(store, failures),
      retry: { maxAttempts: 1 },
      storeRetryMs: 600_000, // no save retried behind the test's back
    });
    await manager.getAccessToken();
    failures.remaining = 1;
    await expect(manager.refresh('manual')).rejects.toThrow(/could not be saved/);
    expect(existsSync(h.storePath + REFRESHING_NOTE_SUFFIX)).toBe(true);
    // The authorization is revoked elsewhere; the next refresh saves the kept chain first, then is refused.
    const stored = await h.readStoredTokens();
    await h.oauth().revoke(stored?.refreshToken ?? '');
    await expect(manager.refresh('manual')).rejects.toThrow(/invalid_grant/);
    const status = manager.getStatus();
    expect(status.lastRefresh?.error?.kind).toBe('invalid_grant');
    expect(status.lastRefresh?.error?.message).not.toMatch(/stopped during a refresh/);
    expect(status.warnings.join(' ')).not.toMatch(/stopped during a refresh/);
    expect(existsSync(h.storePath + REFRESHING_NOTE_SUFFIX)).toBe(false);
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
