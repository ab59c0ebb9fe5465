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
import { emulatorEnv } from '../emulator/app-env';
import type { EmulatorHandle } from '../emulator/types';
import { DEFAULT_CONNECTION_ID } from '../shared/contract';
import type { StartedDesk } from './bootstrap';
import type { ConnectionStore } from './connection-store';
import { FileConnectionStore } from './file-connection-store';
import {
  disconnectDuringOtherRefresh,
  disconnectWhileLockHeld,
  liveRefreshTokens,
  raceDesksPerTest,
  REVOKED,
} from './testing/disconnect-race';
import { LeakScan } from './testing/leak-scan';

const REALM_A = '5550101';
const scan = new LeakScan();
let emulator: EmulatorHandle;
let dir: string;

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});
// After-each hooks run last-registered first: the desks are closed before their directory goes.
const race = raceDesksPerTest(scan);

beforeEach(async () => {
  emulator = await race.emulator();
  dir = await mkdtemp(join(tmpdir(), 'qbtd-disconnect-lock-'));
});

function fileStore(): FileConnectionStore {
  return new FileConnectionStore({ dataDir: dir, storeKey: null, environment: 'sandbox' });
}

function desk(store: ConnectionStore = fileStore(), lockWaitMs?: number): Promise<StartedDesk> {
  return race.desk(emulatorEnv(emulator, dir), store, lockWaitMs);
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
      const { status, other } = await disconnectDuringOtherRefresh({
        emulator,
        store: fileStore,
        desk: (store) => desk(store),
        id,
        how,
      });
      scan.collect('disconnect answer', status);
      // The other process hears of it and lets the connection go as well.
      if (how === 'remove') {
        expect(existsSync(join(dir, 'connections', `${id}.json`))).toBe(false);
        await expect.poll(() => other.connections.has(id), { timeout: 10_000 }).toBe(false);
      } else {
        await expect
          .poll(() => other.connections.desk(id).getStatus().state, { timeout: 10_000 })
          .toBe('not_configured');
      }
    },
  );
});

describe('Disconnect while the lock is held longer than it waits', () => {
  it('a transient store_busy error: nothing revoked at Intuit, nothing forgotten; it works once the lock is free', async () => {
    const serving = await desk(fileStore(), 300);
    const failed = await disconnectWhileLockHeld(serving, fileStore(), emulator);
    scan.collect('disconnect error', failed);

    const done = await serving.connectFlow.disconnect();
    expect(done.history[0]?.message).toBe(REVOKED);
    expect(liveRefreshTokens(emulator, new Set())).toEqual([]);
  });
});
