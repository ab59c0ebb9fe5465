// Disconnect and `connections remove` read the refresh token to revoke, revoke it and forget the
// tokens while holding the connection's lock, on the file store two desks share (as two processes on
// one QB_DATA_DIR do): a refresh by the other desk cannot rotate the token between the revoke and the
// forget, which would leave the rotated one live at Intuit ("nobody in" is then false). The emulator
// retires a rotated-away refresh token at once (its default policy), as Intuit may: revoking that
// one is answered 400 and ends nothing. The same race on PostgreSQL: pg/pg-disconnect-lock.test.ts.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator } from '../emulator';
import { emulatorEnv } from '../emulator/app-env';
import type { EmulatorHandle } from '../emulator/types';
import { DEFAULT_CONNECTION_ID } from '../shared/contract';
import { previewToken } from '../shared/preview';
import { startDesk, type StartedDesk } from './bootstrap';
import type { ConnectionStore } from './connection-store';
import { StoreLockTimeoutError, toResultError } from './errors';
import { FileConnectionStore } from './file-connection-store';
import { addAuthorizedCompany } from './testing/add-company';
import { disconnectDuringOtherRefresh, liveRefreshTokens } from './testing/disconnect-race';
import { holdLock } from './testing/held-lock';
import { heldStore } from './testing/held-store';
import { LeakScan } from './testing/leak-scan';
import { holdableSaves } from './testing/store-wrapper';

const REALM_A = '5550101';
const REVOKED = 'Disconnected: Intuit revoked the refresh token, and the stored tokens were forgotten.';

let emulator: EmulatorHandle;
let dir: string;
const desks: StartedDesk[] = [];
const scan = new LeakScan();

beforeEach(async () => {
  // Every refresh rotates, and the emulator's default policy retires the old refresh token at once.
  emulator = await startEmulator({ rotateAfterSeconds: 0 });
  dir = await mkdtemp(join(tmpdir(), 'qbtd-disconnect-lock-'));
});

afterEach(async () => {
  for (const started of desks.splice(0)) {
    scan.collect('final statuses', started.connections.statuses());
    await started.close();
  }
  scan.addEmulator(emulator);
  scan.assertClean();
  await emulator.close();
  await rm(dir, { recursive: true, force: true });
});

function fileStore(): FileConnectionStore {
  return new FileConnectionStore({ dataDir: dir, storeKey: null, environment: 'sandbox' });
}

/** A desk (a process) on the file store in `dir`, on `store` when given. */
async function desk(store?: ConnectionStore, lockWaitMs?: number): Promise<StartedDesk> {
  const started = await startDesk({
    env: emulatorEnv(emulator, dir),
    cwd: dir,
    log: (line) => scan.collect('log line', line),
    manager: { refreshOnStart: false, retry: { maxAttempts: 1 }, ...(lockWaitMs ? { lockWaitMs } : {}) },
    ...(store ? { store: () => store } : {}),
  });
  started.connections.onStatusChanged((status) => scan.collect('status event', status));
  desks.push(started);
  return started;
}

/** Company A added by `adder`, and known to `knower` (through the store's change feed). */
async function addAlphaBooks(adder: StartedDesk, knower: StartedDesk): Promise<void> {
  await addAuthorizedCompany(adder.connections, emulator, { name: 'Alpha Books', realmId: REALM_A });
  await expect.poll(() => knower.connections.has(REALM_A), { timeout: 10_000 }).toBe(true);
}

describe('Disconnect while another process refreshes the connection', () => {
  it.each([
    [
      'Disconnect of the default connection (its chain still the QB_REFRESH_TOKEN one here)',
      DEFAULT_CONNECTION_ID,
      'disconnect',
    ],
    ['`connections remove` of an added company', REALM_A, 'remove'],
  ] as const)(
    '%s: the token revoked is the one the other process rotated to, and Intuit accepts none of the chain',
    async (_label, id, how) => {
      const servingLock = heldStore(fileStore());
      const serving = await desk(servingLock.store);
      const otherSaves = holdableSaves();
      const other = await desk(otherSaves.wrap(fileStore()));
      // The default connection's chain (QB_REFRESH_TOKEN) stays live when company A goes.
      const otherChains = new Set(id === DEFAULT_CONNECTION_ID ? [] : emulator.control.issuedTokenValues());
      if (id === REALM_A) await addAlphaBooks(other, serving);
      emulator.control.resetCounters();

      const status = await disconnectDuringOtherRefresh({ serving, servingLock, other, otherSaves, id, how });
      scan.collect('disconnect answer', status);

      // What "disconnected" must mean: Intuit accepts no refresh token of the chain any more.
      expect(liveRefreshTokens(emulator, otherChains)).toEqual([]);
      expect(emulator.control.counters().revokeCalls).toBe(1);
      expect(status.state).toBe('not_configured');
      expect(status.history[0]?.message).toBe(REVOKED);
      if (how === 'remove') {
        expect(existsSync(join(dir, 'connections', `${id}.json`))).toBe(false);
        await expect.poll(() => other.connections.has(id), { timeout: 10_000 }).toBe(false);
      } else {
        expect((await other.store.load(id)).record?.tokens).toBeNull();
        await expect
          .poll(() => other.connections.desk(id).getStatus().state, { timeout: 10_000 })
          .toBe('not_configured');
      }
      if (otherChains.size > 0)
        expect(liveRefreshTokens(emulator, new Set())).toEqual([previewToken(emulator.refreshToken)]);
    },
  );
});

describe('Disconnect while the lock is held longer than it waits', () => {
  it('a transient store_busy error: nothing revoked at Intuit, nothing forgotten; it works once the lock is free', async () => {
    const serving = await desk(undefined, 300);
    await serving.desk.refresh('manual');
    const stored = (await serving.store.load(DEFAULT_CONNECTION_ID)).record?.tokens?.refreshToken ?? '';
    const holder = fileStore();
    const held = await holdLock(holder, DEFAULT_CONNECTION_ID);
    emulator.control.resetCounters();

    const failed = await serving.connectFlow.disconnect().catch((err: unknown) => err);
    await held.release();
    await holder.close();
    scan.collect('disconnect error', failed);
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

    const done = await serving.connectFlow.disconnect();
    expect(done.history[0]?.message).toBe(REVOKED);
    expect(emulator.control.isRefreshTokenValid(stored)).toBe(false);
  });
});
