// Test helper: the race Disconnect must win when several processes share a store. Another process
// ("other", a desk on its own store instance) refreshes the connection while this one ("serving")
// disconnects it or removes it: the
// other's refresh holds the lock and Intuit has already rotated the refresh token (the one the store
// still holds is retired), its save of the new one not done yet. Serving's Disconnect is then started
// and let through to the real lock. Whatever Disconnect revokes must be the newest token, or the
// rotated one stays live at Intuit after the user was told the company is disconnected.
import { afterEach, expect } from 'vitest';
import { startEmulator } from '../../emulator';
import type { EmulatorHandle } from '../../emulator/types';
import { DEFAULT_CONNECTION_ID, type ConnectionId, type TokenStatus } from '../../shared/contract';
import { previewToken } from '../../shared/preview';
import { startDesk, type StartedDesk } from '../bootstrap';
import type { ConnectionStore } from '../connection-store';
import { StoreLockTimeoutError, toResultError } from '../errors';
import { addAuthorizedCompany } from './add-company';
import { holdLock } from './held-lock';
import { heldStore } from './held-store';
import { LeakScan } from './leak-scan';
import { holdableSaves } from './store-wrapper';

/** The history's line for a Disconnect whose revoke Intuit took. */
export const REVOKED =
  'Disconnected: Intuit revoked the refresh token, and the stored tokens were forgotten.';

export interface RaceDesks {
  /** This test's emulator: every refresh rotates, and its default policy retires the old token at once. */
  emulator(): Promise<EmulatorHandle>;
  /** A desk (a process) with `env` on `store` (its own instance on the shared directory or database). */
  desk(env: NodeJS.ProcessEnv, store: ConnectionStore, lockWaitMs?: number): Promise<StartedDesk>;
}

/**
 * For a test file: each test's desks are closed after it and their logs, statuses and answers (and
 * what the test collects in `scan`) are scanned for the emulator's token values.
 */
export function raceDesksPerTest(scan: LeakScan = new LeakScan()): RaceDesks {
  let emulator: EmulatorHandle | null = null;
  const desks: StartedDesk[] = [];
  afterEach(async () => {
    for (const started of desks.splice(0)) {
      scan.collect('final statuses', started.connections.statuses());
      await started.close();
    }
    if (emulator) scan.addEmulator(emulator).assertClean();
    await emulator?.close();
    emulator = null;
  });
  return {
    emulator: async () => (emulator = await startEmulator({ rotateAfterSeconds: 0 })),
    async desk(env, store, lockWaitMs) {
      const started = await startDesk({
        env,
        store: () => store,
        log: (line) => scan.collect('log line', line),
        manager: { refreshOnStart: false, retry: { maxAttempts: 1 }, ...(lockWaitMs ? { lockWaitMs } : {}) },
      });
      started.connections.onStatusChanged((status) => scan.collect('status event', status));
      desks.push(started);
      return started;
    },
  };
}

export interface DisconnectRace {
  emulator: EmulatorHandle;
  /** A new store instance on the shared directory or database (one per process). */
  store: () => ConnectionStore;
  /** A desk (a process) on `store`. */
  desk: (store: ConnectionStore) => Promise<StartedDesk>;
  id: ConnectionId;
  /** Disconnect (the connection stays, without tokens) or `connections remove` (its record goes too). */
  how: 'disconnect' | 'remove';
}

/**
 * Runs the race (company `id` added by the other first, unless it is the default connection) and
 * checks what must hold after it: the revoke Intuit took was of the newest refresh token, so Intuit
 * accepts none of the chain (another company's stays live), and the store holds no tokens for it.
 * Resolves with what serving's Disconnect answered, and both desks.
 */
export async function disconnectDuringOtherRefresh(
  race: DisconnectRace,
): Promise<{ status: TokenStatus; serving: StartedDesk; other: StartedDesk }> {
  const { id, emulator } = race;
  const servingLock = heldStore(race.store());
  const serving = await race.desk(servingLock.store);
  const otherSaves = holdableSaves();
  const other = await race.desk(otherSaves.wrap(race.store()));
  // The default connection's chain (QB_REFRESH_TOKEN) stays live when an added company goes.
  const otherChains = new Set(id === DEFAULT_CONNECTION_ID ? [] : emulator.control.issuedTokenValues());
  if (id !== DEFAULT_CONNECTION_ID) {
    await addAuthorizedCompany(other.connections, emulator, { name: 'Alpha Books', realmId: id });
    await expect.poll(() => serving.connections.has(id), { timeout: 10_000 }).toBe(true);
  }
  emulator.control.resetCounters();
  otherSaves.hold();
  const refreshing = other.connections.desk(id).refresh('manual');
  // Intuit has answered the other's refresh: the stored refresh token is retired, the new one unsaved.
  await otherSaves.saveAsked();
  servingLock.holdLock(id);
  const disconnecting =
    race.how === 'remove'
      ? serving.connections.removeReporting(id).then((done) => done.disconnected)
      : serving.connectFlow.disconnect({ connectionId: id });
  disconnecting.catch(() => undefined);
  // Serving asks for the lock: before it reads the token to revoke, or (if it read it outside the lock)
  // after revoking that one. Then it waits behind the other's refresh, which saves and lets go.
  await servingLock.lockAsked();
  servingLock.releaseLock();
  otherSaves.release();
  await refreshing;
  const status = await disconnecting;

  // What "disconnected" must mean: Intuit accepts no refresh token of the chain any more.
  expect(liveRefreshTokens(emulator, otherChains)).toEqual([]);
  expect(emulator.control.counters().revokeCalls).toBe(1);
  expect(status.state).toBe('not_configured');
  expect(status.history[0]?.message).toBe(REVOKED);
  const { record } = await other.store.load(id);
  if (race.how === 'remove') expect(record).toBeNull();
  else expect(record?.tokens).toBeNull();
  if (otherChains.size > 0)
    expect(liveRefreshTokens(emulator, new Set())).toEqual([previewToken(emulator.refreshToken)]);
  return { status, serving, other };
}

/**
 * Previews of the refresh tokens Intuit would still accept among what the emulator issued, except
 * `excluded` (previews: a failing assertion prints them).
 */
export function liveRefreshTokens(emulator: EmulatorHandle, excluded: ReadonlySet<string>): string[] {
  return emulator.control
    .issuedTokenValues()
    .filter((value) => !excluded.has(value) && emulator.control.isRefreshTokenValid(value))
    .map(previewToken);
}

/**
 * Disconnect of the default connection while `holder` (another process's store) keeps its lock past
 * serving's wait: a transient store_busy error, and nothing revoked at Intuit nor forgotten.
 */
export async function disconnectWhileLockHeld(
  serving: StartedDesk,
  holder: ConnectionStore,
  emulator: EmulatorHandle,
): Promise<unknown> {
  await serving.desk.refresh('manual');
  const stored = (await serving.store.load(DEFAULT_CONNECTION_ID)).record?.tokens?.refreshToken ?? '';
  const held = await holdLock(holder, DEFAULT_CONNECTION_ID);
  emulator.control.resetCounters();

  const failed = await serving.connectFlow.disconnect().catch((err: unknown) => err);
  await held.release();
  await holder.close();
  expect(emulator.control.counters().revokeCalls).toBe(0);
  expect(emulator.control.isRefreshTokenValid(stored)).toBe(true);
  const kept = (await serving.store.load(DEFAULT_CONNECTION_ID)).record?.tokens?.refreshToken;
  expect(kept === stored, 'the stored refresh token is kept').toBe(true);
  expect(failed).toBeInstanceOf(StoreLockTimeoutError);
  expect(toResultError(failed)).toEqual({
    code: 'store_busy',
    message: expect.stringMatching(
      /^Disconnect gave up waiting for the connection's lock .*: nothing was revoked at Intuit and the tokens are kept; try again\./,
    ),
  });
  expect(serving.desk.getStatus().state).toBe('valid');
  return failed;
}
