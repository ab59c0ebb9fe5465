// What the store holds, taken in: the start's choice of chain (DESIGN rule 6: the stored chain, unless
// QB_REFRESH_TOKEN changed), and what another process writes, pushed to this one's listeners through
// the store's watch (a rejection, a refresh), including a change that lands while an older one is
// still being read. Real emulator over loopback, real file store, one data directory.
import { describe, expect, it } from 'vitest';
import type { TokenStatus } from '../shared/contract';
import { ReauthorizationRequiredError, StoreUnavailableError, TokenError } from './errors';
import { harnessPerTest, type EngineHarness } from './testing/engine-harness';
import { waitFor } from './testing/manual-clock';
import { holdableReads, switchableStore, wrapStore } from './testing/store-wrapper';
import { systemTimers } from './refresh-timing';

const setup = harnessPerTest();
const refreshCalls = (h: EngineHarness) => h.emulator.control.counters().tokenCalls.refresh_token;

/** Resolves with the first status a manager pushes that passes `check`. */
function nextStatus(
  manager: { onStatusChanged(listener: (status: TokenStatus) => void): () => void },
  check: (status: TokenStatus) => boolean,
): Promise<TokenStatus> {
  return new Promise((resolve) => {
    const off = manager.onStatusChanged((status) => {
      if (!check(status)) return;
      off();
      resolve(status);
    });
  });
}

describe('the start: which chain (rule 6)', () => {
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
});

describe("another process's writes (the store's watch)", () => {
  it('invalid_grant seen by one process: the others say reauthorization_required and make no token call', async () => {
    const h = await setup();
    const a = await h.manager({ clientName: 'process-a' });
    await a.getAccessToken();
    const b = await h.manager({ clientName: 'process-b' });
    expect(b.getStatus().state).toBe('valid');
    // Really revoked at the emulator: the next refresh with it is refused.
    await h.oauth().revoke((await h.readStoredTokens())?.refreshToken ?? '');
    const seenByB = nextStatus(b, (status) => status.state === 'reauthorization_required');
    const error = await a.refresh('manual').catch((err: unknown) => err);
    h.scan.collect('error', error);
    expect((error as TokenError).kind).toBe('invalid_grant');
    // B hears it through the store's watch, without asking Intuit.
    const status = await seenByB;
    expect(status.refreshToken?.rejectedAt).not.toBeNull();
    expect(status.lastRefresh).toMatchObject({
      ok: false,
      client: 'process-a',
      error: { kind: 'invalid_grant' },
    });
    expect(status.stats).toMatchObject({ failures: 1, consecutiveFailures: 1 });
    expect(status.autoRefresh.enabled).toBe(false);
    // A process started later says the same, and callers get the reconnect error without a token call.
    h.emulator.control.resetCounters();
    const c = await h.manager({ clientName: 'process-c' });
    expect(c.getStatus()).toMatchObject({
      state: 'reauthorization_required',
      refreshToken: { rejectedAt: status.refreshToken?.rejectedAt },
    });
    const callerError = await c.getAccessToken().then(
      () => null,
      (err: unknown) => err,
    );
    // The access token from before is still valid, so it is served; past its expiry, the caller is told.
    expect(callerError).toBeNull();
    await c.clear();
    const afterClear = await c.getAccessToken().catch((err: unknown) => err);
    h.scan.collect('error', afterClear);
    expect(afterClear).toBeInstanceOf(ReauthorizationRequiredError);
    expect(refreshCalls(h)).toBe(0);
  });

  it("a refresh one process makes reaches another process's status listeners (the dashboard's push)", async () => {
    const h = await setup({ rotateAfterSeconds: 0 });
    const a = await h.manager({ clientName: 'qb-token' });
    const server = await h.manager({ clientName: 'qb-token serve' });
    await server.getAccessToken();
    const before = server.getStatus();
    const pushed = nextStatus(server, (status) => status.lastRefresh?.client === 'qb-token');
    await a.refresh('manual');
    const status = await pushed;
    expect(status.accessToken?.preview).toBe(a.getStatus().accessToken?.preview);
    expect(status.accessToken?.preview).not.toBe(before.accessToken?.preview);
    expect(status.refreshToken?.preview).toBe(a.getStatus().refreshToken?.preview);
    expect(status.stats.refreshes).toBe(2);
    expect(status.history.slice(0, 2).map((event) => [event.type, event.client])).toEqual([
      ['refreshed', 'qb-token'],
      ['rotated', 'qb-token'],
    ]);
    // The server took the rotated chain in: its own next call needs no token call and no lock wait.
    h.emulator.control.resetCounters();
    expect(await server.getAccessToken()).toBe(await a.getAccessToken());
    expect(refreshCalls(h)).toBe(0);
  });

  it('a change that arrives while the previous one is still being read is read too (no lost update)', async () => {
    const h = await setup();
    const a = await h.manager();
    await a.getAccessToken();
    // B's reads can be held after they have read, so a newer change lands while an older read is in flight.
    let reads!: ReturnType<typeof holdableReads>;
    const b = await h.manager({ wrapStore: (inner) => (reads = holdableReads(inner)).store });
    reads.hold();
    const before = reads.readsDone();
    await a.refresh('manual');
    await waitFor(() => reads.readsDone() > before, "B's read of A's refresh");
    const seen = reads.changes.length;
    h.emulator.control.injectTokenFault({ kind: 'invalid_grant' });
    const error = await a.refresh('manual').catch((err: unknown) => err);
    h.scan.collect('error', error);
    expect((error as TokenError).kind).toBe('invalid_grant');
    await waitFor(() => reads.changes.length > seen, 'the rejection to reach B while its older read is held');
    reads.release();
    await waitFor(() => b.getStatus().state === 'reauthorization_required', "B's view of the rejection");
  });
});

describe('a store unreachable at start', () => {
  it('a store unreachable at start: the process starts, says so, refreshes nothing, and catches up once it answers', async () => {
    const h = await setup();
    const seed = await h.manager();
    await seed.getAccessToken();
    await seed.dispose();
    const state = { down: true };
    h.emulator.control.resetCounters();
    const manager = await h.manager({
      storeRetryMs: 20,
      wrapStore: (inner) => switchableStore(inner, state),
    });
    const status = manager.getStatus();
    expect(status.store?.reachable).toBe(false);
    expect(status.state).toBe('no_token');
    const error = await manager.getAccessToken().catch((err: unknown) => err);
    h.scan.collect('error', error);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(refreshCalls(h)).toBe(0);
    state.down = false;
    await waitFor(() => manager.getStatus().store?.reachable === true, 'the store to answer');
    // It took the stored chain (and its valid access token): still no token call.
    expect(manager.getStatus()).toMatchObject({ state: 'valid', refreshToken: { source: 'stored' } });
    await manager.getAccessToken();
    expect(refreshCalls(h)).toBe(0);
  });

  it('a refresh under the lock before the store’s retry, then a failed save: the retry keeps the rotated chain, not the start’s choice', async () => {
    const h = await setup({ rotateEveryRefreshes: 1 });
    const state = { down: true };
    const failures = { remaining: 0 };
    // The store's retry timer fires only when the test says (ms = STORE_RETRY_MS).
    const STORE_RETRY_MS = 777_777;
    const retries: Array<() => void> = [];
    const timers = {
      setTimeout: (fn: () => void, ms: number) => {
        if (ms === STORE_RETRY_MS) {
          retries.push(fn);
          return { retry: retries.length };
        }
        return systemTimers.setTimeout(fn, ms);
      },
      clearTimeout: (handle: unknown) => {
        if (typeof handle === 'object' && handle !== null && 'retry' in handle) return;
        systemTimers.clearTimeout(handle);
      },
    };
    const manager = await h.manager({
      storeRetryMs: STORE_RETRY_MS,
      timers,
      retry: { maxAttempts: 1 },
      // The save of Intuit's answer meets the database gone again (the lock's session dropped).
      wrapStore: (inner) => {
        const switchable = switchableStore(inner, state);
        return wrapStore(switchable, {
          save: (record) => {
            if (failures.remaining > 0) {
              failures.remaining -= 1;
              return Promise.reject(new StoreUnavailableError('the database went away during the save'));
            }
            return switchable.save(record);
          },
        });
      },
    });
    expect(manager.getStatus().store?.reachable).toBe(false);
    // The store answers first inside a refresh: Intuit rotates, and the answer cannot be saved.
    state.down = false;
    failures.remaining = 1;
    retries.length = 0;
    await expect(manager.refresh('manual')).rejects.toThrow();
    const rotated = h.emulator.control.counters().tokenCalls.refresh_token;
    expect(rotated).toBe(1);
    expect(h.emulator.control.isRefreshTokenValid(h.emulator.refreshToken)).toBe(false);
    // The store's retry: it writes the chain it holds, which must be the rotated one.
    expect(retries.length).toBeGreaterThan(0);
    for (const retry of retries.splice(0)) retry();
    let stored = await h.readStoredTokens();
    for (let tries = 0; !stored && tries < 400; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      stored = await h.readStoredTokens();
    }
    // Compared as a fact, so a failure prints no token value.
    expect(stored?.refreshToken === h.emulator.refreshToken).toBe(false);
    expect(h.emulator.control.isRefreshTokenValid(stored?.refreshToken ?? '')).toBe(true);
    await expect(manager.refresh('manual')).resolves.toBeDefined();
  });
});
