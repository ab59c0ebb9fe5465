// Disconnect and `connections remove` on PostgreSQL (a real server this file starts): the refresh
// token to revoke is read, revoked and forgotten while holding the connection's advisory lock, so a
// refresh by another desk on the same database cannot rotate it in between and leave the rotated one
// live at Intuit. The file store's version, and why the emulator retires rotated tokens at once:
// ../disconnect-lock.test.ts.
import { describe, it } from 'vitest';
import { emulatorEnv } from '../../emulator/app-env';
import type { EmulatorHandle } from '../../emulator/types';
import { DEFAULT_CONNECTION_ID } from '../../shared/contract';
import type { StartedDesk } from '../bootstrap';
import type { ConnectionStore } from '../connection-store';
import {
  disconnectDuringOtherRefresh,
  disconnectWhileLockHeld,
  raceDesksPerTest,
} from '../testing/disconnect-race';
import { LeakScan } from '../testing/leak-scan';
import { postgresForFile } from '../testing/postgres-for-file';
import { PgConnectionStore } from './pg-connection-store';

const KEY = 'disconnect lock key, 16+ characters';
const REALM_A = '5550101';
const pg = postgresForFile();
const scan = new LeakScan();
const race = raceDesksPerTest(scan);

/** This test's emulator, a fresh database, and desks (processes) on it, each with its own store instance. */
async function setup() {
  const emulator: EmulatorHandle = await race.emulator();
  const url = await pg().createDatabase();
  const pgStore = () => new PgConnectionStore({ url, storeKey: KEY });
  const env = { ...emulatorEnv(emulator), QB_STORE_KEY: KEY, QB_DATA_DIR: '/nonexistent-qbtd' };
  const desk = (store: ConnectionStore = pgStore(), lockWaitMs?: number): Promise<StartedDesk> =>
    race.desk(env, store, lockWaitMs);
  return { emulator, pgStore, desk };
}

describe('Disconnect while another desk on the same PostgreSQL refreshes the connection', () => {
  it.each([
    ['Disconnect of the default connection', DEFAULT_CONNECTION_ID, 'disconnect'],
    ['`connections remove` of an added company', REALM_A, 'remove'],
  ] as const)(
    '%s: the token revoked is the newest, and Intuit accepts none of the chain',
    async (_label, id, how) => {
      const { emulator, pgStore, desk } = await setup();
      const { status } = await disconnectDuringOtherRefresh({ emulator, store: pgStore, desk, id, how });
      scan.collect('disconnect answer', status);
    },
  );

  it('the advisory lock held past the wait: store_busy, nothing revoked, nothing forgotten', async () => {
    const { emulator, pgStore, desk } = await setup();
    const serving = await desk(pgStore(), 300);
    scan.collect('disconnect error', await disconnectWhileLockHeld(serving, pgStore(), emulator));
  });
});
