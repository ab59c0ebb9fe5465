// Several companies over one PostgreSQL database (QB_STORE_URL), between two desks that each have
// their own pool and LISTEN connection, against a real server this file starts: a company one desk
// adds appears in the other by itself (NOTIFY), refreshes there on its own row and lock, an
// invalid_grant in it shows in both desks and nowhere else, and its removal reaches the other desk (and
// holds there even when that desk's refresh was waiting for the lock).
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator } from '../../emulator';
import { emulatorEnv } from '../../emulator/app-env';
import type { EmulatorHandle } from '../../emulator/types';
import { DEFAULT_CONNECTION_ID } from '../../shared/contract';
import { startDesk, type StartedDesk } from '../bootstrap';
import type { ConnectionStore } from '../connection-store';
import { UnknownConnectionError } from '../errors';
import { addAuthorizedCompany } from '../testing/add-company';
import { heldStore } from '../testing/held-store';
import { LeakScan } from '../testing/leak-scan';
import { postgresForFile } from '../testing/postgres-for-file';
import { PgConnectionStore } from './pg-connection-store';

const KEY = 'several companies key, 16+ chars';
const REALM = '5550701';
const pg = postgresForFile();
let emulator: EmulatorHandle | null = null;
const desks: StartedDesk[] = [];
const scan = new LeakScan();

afterEach(async () => {
  for (const started of desks.splice(0)) {
    scan.collect('list', started.connections.list());
    await started.close();
  }
  if (emulator) {
    scan.addEmulator(emulator);
    scan.assertClean();
    await emulator.close();
  }
  emulator = null;
});

async function desk(env: NodeJS.ProcessEnv, store?: ConnectionStore): Promise<StartedDesk> {
  const started = await startDesk({
    env,
    ...(store ? { store: () => store } : {}),
    log: (line) => scan.collect('log line', line),
    manager: { refreshOnStart: false },
  });
  desks.push(started);
  return started;
}

/** The emulator and a fresh database: the QB_* environment of a desk on it. */
async function setup(): Promise<{ env: NodeJS.ProcessEnv; url: string; emulator: EmulatorHandle }> {
  const started = await startEmulator({});
  emulator = started;
  const url = await pg().createDatabase();
  const env = {
    ...emulatorEnv(started),
    QB_STORE_URL: url,
    QB_STORE_KEY: KEY,
    QB_DATA_DIR: '/nonexistent-qbtd',
  };
  return { env, url, emulator: started };
}

/** Company REALM, added by `started` with a fresh authorization at the emulator. */
async function addAlphaBooks(started: StartedDesk, intuit: EmulatorHandle): Promise<void> {
  await addAuthorizedCompany(started.connections, intuit, { name: 'Alpha Books', realmId: REALM });
}

describe('several companies over PostgreSQL', () => {
  it('a company added by one desk appears in the other, shares its health, and its removal reaches it', async () => {
    const { env, emulator: intuit } = await setup();
    const a = await desk(env);
    const b = await desk(env);
    expect(a.store.description.kind).toBe('postgres');

    await addAlphaBooks(a, intuit);
    await expect.poll(() => b.connections.has(REALM), { timeout: 10_000 }).toBe(true);
    expect(b.connections.list().map((c) => [c.id, c.name])).toEqual([
      [DEFAULT_CONNECTION_ID, 'QuickBooks sandbox'],
      [REALM, 'Alpha Books'],
    ]);

    // B refreshes it (its own row and lock); A sees the result through NOTIFY.
    intuit.control.resetCounters();
    await b.connections.desk(REALM).refresh('manual');
    expect(intuit.control.counters().tokenCalls.refresh_token).toBe(1);
    await expect
      .poll(() => a.connections.desk(REALM).getStatus().lastRefresh?.ok, { timeout: 10_000 })
      .toBe(true);

    // Intuit refuses it: both desks say so for that company only.
    intuit.control.injectTokenFault({ kind: 'invalid_grant' });
    await expect(a.connections.desk(REALM).refresh('manual')).rejects.toMatchObject({
      kind: 'invalid_grant',
    });
    await expect
      .poll(() => b.connections.desk(REALM).getStatus().state, { timeout: 10_000 })
      .toBe('reauthorization_required');
    for (const started of [a, b]) expect(started.desk.getStatus().state).not.toBe('reauthorization_required');

    await b.connections.remove(REALM, { force: true });
    await expect.poll(() => a.connections.has(REALM), { timeout: 10_000 }).toBe(false);
    expect(a.connections.list().map((c) => c.id)).toEqual([DEFAULT_CONNECTION_ID]);
  });

  it('a company removed by one desk while the other’s refresh waits for its lock stays removed: no token call, no row written back', async () => {
    const { env, url, emulator: intuit } = await setup();
    // The serving desk's own store (its own pool and LISTEN), whose lock and change feed the test holds.
    const held = heldStore(new PgConnectionStore({ url, storeKey: KEY }));
    const serving = await desk({ ...env, QB_STORE_URL: undefined }, held.store);
    const other = await desk(env);
    await addAlphaBooks(other, intuit);
    await other.connections.desk(REALM).refresh('manual');
    await expect
      .poll(
        () => serving.connections.has(REALM) && serving.connections.desk(REALM).getStatus().lastRefresh?.ok,
        {
          timeout: 10_000,
        },
      )
      .toBe(true);

    held.holdChanges();
    held.holdLock(REALM);
    const refreshing = serving.connections.desk(REALM).refresh('manual');
    refreshing.catch(() => undefined);
    await held.lockAsked();
    intuit.control.resetCounters();
    await other.connections.remove(REALM);
    held.releaseLock();

    await expect(refreshing).rejects.toBeInstanceOf(UnknownConnectionError);
    expect(intuit.control.counters().tokenCalls.refresh_token).toBe(0);
    expect((await other.store.load(REALM)).record).toBeNull();
    expect(await other.store.list()).not.toContain(REALM);
    await expect.poll(() => serving.connections.has(REALM), { timeout: 10_000 }).toBe(false);
    held.releaseChanges();
    expect(serving.connections.list().map((c) => c.id)).toEqual([DEFAULT_CONNECTION_ID]);
    expect(other.connections.list().map((c) => c.id)).toEqual([DEFAULT_CONNECTION_ID]);
  });

  it('more companies refreshing at once than the pool has connections all refresh: each lock has a connection of its own', async () => {
    const { env, url, emulator: intuit } = await setup();
    // Two pooled connections, and a short wait for one, so a lock holding a pooled connection would starve the rest.
    const store = new PgConnectionStore({ url, storeKey: KEY, poolSize: 2, connectTimeoutMs: 300 });
    const started = await desk({ ...env, QB_STORE_URL: undefined }, store);
    const realms = ['5550801', '5550802', '5550803', '5550804', '5550805'];
    for (const [i, realmId] of realms.entries()) {
      await addAuthorizedCompany(started.connections, intuit, { name: `Company ${i + 1}`, realmId });
    }
    intuit.control.resetCounters();
    // Every token call is held at Intuit well past the pool's wait, all of them at once.
    intuit.control.injectTokenFault({ kind: 'delay', ms: 1500 }, realms.length);
    const results = await Promise.allSettled(
      realms.map((realmId) => started.connections.desk(realmId).refresh('manual')),
    );
    expect(results.map((result) => (result.status === 'rejected' ? String(result.reason) : 'ok'))).toEqual(
      realms.map(() => 'ok'),
    );
    expect(intuit.control.counters().tokenSuccesses).toBe(realms.length);
    for (const realmId of realms) {
      const status = started.connections.desk(realmId).getStatus();
      expect(status.store?.reachable).toBe(true);
      expect(status.lastRefresh?.ok).toBe(true);
    }
  });
});
