// The engine when its store fails: a record that cannot be parsed (moved aside and explained), a
// wrong QB_STORE_KEY (a configuration error: nothing refreshed, nothing overwritten), a write that
// fails (the rotated chain is kept in memory and written before anything is handed out), and a
// store that stops answering (a valid access token keeps being served, nothing is refreshed without
// the lock, the status says so, and everything resumes by itself once the store answers again).
// The store is the real file store; failures are injected by a wrapper in front of it.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ConnectionStore } from './connection-store';
import { StoreKeyError, StoreUnavailableError } from './errors';
import { harnessPerTest, type EngineHarness } from './testing/engine-harness';
import { ManualClock, waitFor } from './testing/manual-clock';
import { switchableStore, wrapStore } from './testing/store-wrapper';

const setup = harnessPerTest();

const refreshCalls = (h: EngineHarness) => h.emulator.control.counters().tokenCalls.refresh_token;

describe('store recovery', () => {
  it('moves a corrupt record aside and carries on from the environment token', async () => {
    const h = await setup();
    await mkdir(dirname(h.storePath), { recursive: true });
    await writeFile(h.storePath, '{"format": "qb-token-desk/connection-v2", "record": {', { mode: 0o600 });
    const manager = await h.manager();
    const status = manager.getStatus();
    expect(status.warnings.join(' ')).toMatch(/moved aside/);
    expect(status.history[0]?.type).toBe('store_recovered');
    expect(status.refreshToken?.source).toBe('environment');
    const files = await readdir(dirname(h.storePath));
    const aside = files.find((name) => /\.corrupt-/.test(name)) ?? '';
    expect(await readFile(join(dirname(h.storePath), aside), 'utf8')).toMatch(/^\{"format"/);
    await manager.getAccessToken();
    expect(manager.getStatus().state).toBe('valid');
  });

  it('a wrong QB_STORE_KEY stops the start with an error naming it; nothing is refreshed or moved', async () => {
    const h = await setup();
    const first = await h.manager({ storeKey: 'the-first-key-0123456789' });
    await first.getAccessToken();
    await first.dispose();
    const raw = await h.rawStoreFile();
    expect(raw).not.toContain(h.emulator.refreshToken);
    h.emulator.control.resetCounters();
    for (const storeKey of ['a-different-key-0123456789', null]) {
      const error = await h.manager({ storeKey }).catch((err: unknown) => err);
      h.scan.collect('error', error);
      expect(error).toBeInstanceOf(StoreKeyError);
      expect((error as Error).message).toMatch(/QB_STORE_KEY/);
    }
    expect(refreshCalls(h)).toBe(0);
    expect(await h.rawStoreFile()).toBe(raw);
    expect((await readdir(dirname(h.storePath))).filter((name) => /corrupt/.test(name))).toEqual([]);
    // With the right key the chain is all there.
    const again = await h.manager({ storeKey: 'the-first-key-0123456789' });
    expect(again.getStatus()).toMatchObject({ state: 'valid', refreshToken: { source: 'stored' } });
  });
});

describe('a store that cannot be written', () => {
  it('keeps the new chain in memory, says so, hands nothing out until it is saved', async () => {
    const h = await setup({ rotateAfterSeconds: 0 });
    const manager = await h.managerFailingNextSave();
    const error = await manager.refresh('manual').catch((err: unknown) => err);
    h.scan.collect('error', error);
    expect((error as Error).message).toMatch(/could not be saved/);
    expect(manager.getStatus().warnings.join(' ')).toMatch(/could not be saved/);
    // The rotated token lives only in memory now; the next call saves it before handing anything out.
    const token = await manager.getAccessToken();
    const stored = await h.readStoredTokens();
    expect(stored?.accessToken).toBe(token);
    expect(h.emulator.control.isRefreshTokenValid(stored?.refreshToken ?? '')).toBe(true);
    expect(manager.getStatus().warnings.join(' ')).not.toMatch(/could not be saved/);
  });

  it('a pending save that waited for the lock does not write back the chain a refresh rotated past', async () => {
    const h = await setup({ rotateAfterSeconds: 0 });
    const manager = await h.managerFailingNextSave();
    await manager.refresh('manual').catch(() => undefined);
    // The refresh takes the lock first; the caller's pending save waits behind it.
    const refreshed = manager.refresh('manual');
    const token = manager.getAccessToken();
    await Promise.all([refreshed, token]);
    const stored = await h.readStoredTokens();
    expect(h.emulator.control.isRefreshTokenValid(stored?.refreshToken ?? '')).toBe(true);
  });
});

describe('a store that stops answering', () => {
  it('keeps serving a valid access token, refreshes nothing without the lock, says so, and resumes by itself', async () => {
    const h = await setup();
    const clock = new ManualClock();
    const state = { down: false };
    const manager = await h.manager({
      now: clock.now,
      timers: clock.timers,
      storeRetryMs: 5_000,
      wrapStore: (inner) => switchableStore(inner, state),
    });
    const token = await manager.getAccessToken();
    const expiresAt = Date.parse(manager.getStatus().accessToken?.expiresAt ?? '');
    state.down = true;
    h.emulator.control.resetCounters();
    // The schedule comes due while the store is down: the refresh needs the lock, so it does not run.
    clock.advance(expiresAt - 300_000 - clock.now());
    await waitFor(
      () => manager.getStatus().store?.reachable === false,
      'the store to be reported unreachable',
    );
    await manager.whenIdle();
    expect(refreshCalls(h)).toBe(0);
    const down = manager.getStatus();
    expect(down.store).toMatchObject({ reachable: false });
    expect(down.warnings.join(' ')).toMatch(
      /token store cannot be reached .*db\.example.*served from memory/,
    );
    expect(down.state).toBe('expiring');
    // Callers keep getting the still-valid token from memory.
    expect(await manager.getAccessToken()).toBe(token);
    // The store answers again: at the next retry the engine takes it back and refreshes.
    state.down = false;
    clock.advance(5_000);
    await waitFor(() => manager.getStatus().store?.reachable === true, 'the store to be reachable again');
    // The schedule is set again, due now.
    clock.advance(0);
    await waitFor(() => refreshCalls(h) === 1, 'the refresh that was due');
    await manager.whenIdle();
    const up = manager.getStatus();
    expect(up.state).toBe('valid');
    expect(up.warnings.join(' ')).not.toMatch(/cannot be reached/);
    expect((await h.readStoredTokens())?.accessToken).toBe(await manager.getAccessToken());
  });

  it('a rotated chain the store could not take is kept in memory and written when it answers again', async () => {
    const h = await setup({ rotateAfterSeconds: 0 });
    const state = { down: false };
    const manager = await h.manager({
      storeRetryMs: 20,
      wrapStore: (inner) => switchableStore(inner, state),
    });
    await manager.getAccessToken();
    const before = await h.readStoredTokens();
    // The store goes away between Intuit's answer and the write: the lock was held, the save fails.
    let armed = true;
    const stopAtSave = (store: ConnectionStore): ConnectionStore =>
      wrapStore(store, {
        save: (record) => {
          if (armed && record.tokens?.refreshToken !== before?.refreshToken) {
            armed = false;
            state.down = true;
          }
          return store.save(record);
        },
      });
    const second = await h.manager({
      storeRetryMs: 20,
      wrapStore: (store) => stopAtSave(switchableStore(store, state)),
    });
    await manager.dispose();
    const error = await second.refresh('manual').catch((err: unknown) => err);
    h.scan.collect('error', error);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    // Intuit rotated: the stored token is dead now, the only live one is in memory.
    expect(h.emulator.control.isRefreshTokenValid(before?.refreshToken ?? '')).toBe(false);
    expect(second.getStatus().warnings.join(' ')).toMatch(/could not be saved to the token store/);
    state.down = false;
    await waitFor(() => second.getStatus().store?.reachable === true, 'the store to answer again');
    await waitFor(
      () => !second.getStatus().warnings.join(' ').includes('could not be saved'),
      'the unsaved chain to be written',
    );
    const after = await h.readStoredTokens();
    expect(after?.refreshToken).not.toBe(before?.refreshToken);
    expect(h.emulator.control.isRefreshTokenValid(after?.refreshToken ?? '')).toBe(true);
    // And the record says what happened while the store was away.
    expect((await h.readRecord())?.health.stats.refreshes).toBe(2);
  });

  it('a key another process wrote with (a different QB_STORE_KEY) stops refreshing and names QB_STORE_KEY', async () => {
    const h = await setup();
    const manager = await h.manager({ storeKey: 'the-first-key-0123456789', retry: { maxAttempts: 1 } });
    await manager.getAccessToken();
    // Someone rewrote the record with another key (a second deployment with another QB_STORE_KEY).
    const foreign = h.store('a-different-key-0123456789');
    const { record } = await h.store('the-first-key-0123456789').load('default');
    if (!record) throw new Error('no record');
    await foreign.withLock('default', () => foreign.save({ ...record, revision: record.revision + 1 }));
    const raw = await h.rawStoreFile();
    h.emulator.control.resetCounters();
    const error = await manager.refresh('manual').catch((err: unknown) => err);
    h.scan.collect('error', error);
    expect(error).toBeInstanceOf(StoreKeyError);
    expect(refreshCalls(h)).toBe(0);
    const status = manager.getStatus();
    expect(status.warnings.join(' ')).toMatch(/QB_STORE_KEY/);
    expect(status.autoRefresh.enabled).toBe(false);
    expect(await h.rawStoreFile()).toBe(raw);
  });
});
