// Disconnect and `connections remove` on PostgreSQL (a real server this file starts): the refresh
// token to revoke is read, revoked and forgotten while holding the connection's advisory lock, so a
// refresh by another desk on the same database cannot rotate it in between and leave the rotated one
// live at Intuit. The file store's version, and why the emulator retires rotated tokens at once:
// ../disconnect-lock.test.ts.
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator } from '../../emulator';
import { emulatorEnv } from '../../emulator/app-env';
import type { EmulatorHandle } from '../../emulator/types';
import { DEFAULT_CONNECTION_ID } from '../../shared/contract';
import { previewToken } from '../../shared/preview';
import { startDesk, type StartedDesk } from '../bootstrap';
import type { ConnectionStore } from '../connection-store';
import { StoreLockTimeoutError, toResultError } from '../errors';
import { addAuthorizedCompany } from '../testing/add-company';
import { disconnectDuringOtherRefresh, liveRefreshTokens } from '../testing/disconnect-race';
import { holdLock } from '../testing/held-lock';
import { heldStore } from '../testing/held-store';
import { LeakScan } from '../testing/leak-scan';
import { postgresForFile } from '../testing/postgres-for-file';
import { holdableSaves } from '../testing/store-wrapper';
import { PgConnectionStore } from './pg-connection-store';

const KEY = 'disconnect lock key, 16+ characters';
const REALM_A = '5550101';
const REVOKED = 'Disconnected: Intuit revoked the refresh token, and the stored tokens were forgotten.';
const pg = postgresForFile();
let emulator: EmulatorHandle | null = null;
const desks: StartedDesk[] = [];
const scan = new LeakScan();

afterEach(async () => {
  for (const started of desks.splice(0)) {
    scan.collect('final statuses', started.connections.statuses());
    await started.close();
  }
  if (emulator) {
    scan.addEmulator(emulator);
    scan.assertClean();
    await emulator.close();
  }
  emulator = null;
});

/** The emulator (every refresh rotates; the old token is retired at once) and a fresh database. */
async function setup(): Promise<{ emulator: EmulatorHandle; pgStore: () => PgConnectionStore }> {
  const started = (emulator = await startEmulator({ rotateAfterSeconds: 0 }));
  const url = await pg().createDatabase();
  return { emulator: started, pgStore: () => new PgConnectionStore({ url, storeKey: KEY }) };
}

/** A desk (a process) on `store`, its own store instance on the shared database. */
async function desk(store: ConnectionStore, lockWaitMs?: number): Promise<StartedDesk> {
  if (!emulator) throw new Error('setup() first');
  const started = await startDesk({
    env: { ...emulatorEnv(emulator), QB_STORE_KEY: KEY, QB_DATA_DIR: '/nonexistent-qbtd' },
    store: () => store,
    log: (line) => scan.collect('log line', line),
    manager: { refreshOnStart: false, retry: { maxAttempts: 1 }, ...(lockWaitMs ? { lockWaitMs } : {}) },
  });
  started.connections.onStatusChanged((status) => scan.collect('status event', status));
  desks.push(started);
  return started;
}

describe('Disconnect while another desk on the same PostgreSQL refreshes the connection', () => {
  it.each([
    ['Disconnect of the default connection', DEFAULT_CONNECTION_ID, 'disconnect'],
    ['`connections remove` of an added company', REALM_A, 'remove'],
  ] as const)(
    '%s: the token revoked is the newest, and Intuit accepts none of the chain',
    async (_label, id, how) => {
      const { emulator: intuit, pgStore } = await setup();
      const servingLock = heldStore(pgStore());
      const serving = await desk(servingLock.store);
      const otherSaves = holdableSaves();
      const other = await desk(otherSaves.wrap(pgStore()));
      const otherChains = new Set(id === DEFAULT_CONNECTION_ID ? [] : intuit.control.issuedTokenValues());
      if (id === REALM_A) {
        await addAuthorizedCompany(other.connections, intuit, { name: 'Alpha Books', realmId: REALM_A });
        await expect.poll(() => serving.connections.has(REALM_A), { timeout: 10_000 }).toBe(true);
      }
      intuit.control.resetCounters();

      const status = await disconnectDuringOtherRefresh({ serving, servingLock, other, otherSaves, id, how });
      scan.collect('disconnect answer', status);

      expect(liveRefreshTokens(intuit, otherChains)).toEqual([]);
      expect(intuit.control.counters().revokeCalls).toBe(1);
      expect(status.history[0]?.message).toBe(REVOKED);
      const { record } = await other.store.load(id);
      if (how === 'remove') expect(record).toBeNull();
      else expect(record?.tokens).toBeNull();
      if (otherChains.size > 0)
        expect(liveRefreshTokens(intuit, new Set())).toEqual([previewToken(intuit.refreshToken)]);
    },
  );

  it('the advisory lock held past the wait: store_busy, nothing revoked, nothing forgotten', async () => {
    const { emulator: intuit, pgStore } = await setup();
    const serving = await desk(pgStore(), 300);
    await serving.desk.refresh('manual');
    const stored = (await serving.store.load(DEFAULT_CONNECTION_ID)).record?.tokens?.refreshToken ?? '';
    const holder = pgStore();
    const held = await holdLock(holder, DEFAULT_CONNECTION_ID);
    intuit.control.resetCounters();

    const failed = await serving.connectFlow.disconnect().catch((err: unknown) => err);
    await held.release();
    await holder.close();
    scan.collect('disconnect error', failed);
    expect(intuit.control.counters().revokeCalls).toBe(0);
    expect(intuit.control.isRefreshTokenValid(stored)).toBe(true);
    const kept = (await serving.store.load(DEFAULT_CONNECTION_ID)).record?.tokens?.refreshToken;
    expect(kept === stored, 'the stored refresh token is kept').toBe(true);
    expect(failed).toBeInstanceOf(StoreLockTimeoutError);
    expect(toResultError(failed)).toMatchObject({
      code: 'store_busy',
      message: expect.stringMatching(/nothing was revoked at Intuit and the tokens are kept/),
    });
  });
});
