// A company removed by one process stays removed in every process sharing the store: a desk that was
// about to refresh it when the removal landed (its refresh waiting for the lock, the store's change
// feed not yet heard) makes no token call for it, writes no record for it and drops it from its list.
// The default connection (the QB_* environment's) is the exception on purpose: its record deleted by
// hand is written back by a process holding its chain, so the refresh token is never lost.
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator } from '../emulator';
import { emulatorEnv } from '../emulator/app-env';
import type { EmulatorHandle } from '../emulator/types';
import { DEFAULT_CONNECTION_ID, type ConnectionSummary } from '../shared/contract';
import { previewToken } from '../shared/preview';
import { startDesk, type StartedDesk } from './bootstrap';
import { fileStoreFor } from './engine-parts';
import { NotConfiguredError, UnknownConnectionError } from './errors';
import { FileConnectionStore } from './file-connection-store';
import { heldStore, type HeldStore } from './testing/held-store';
import { addAuthorizedCompany } from './testing/add-company';
import { LeakScan } from './testing/leak-scan';

const REALM_A = '5550101';

let emulator: EmulatorHandle;
let dir: string;
const desks: StartedDesk[] = [];
const scan = new LeakScan();

beforeEach(async () => {
  emulator = await startEmulator();
  dir = await mkdtemp(join(tmpdir(), 'qbtd-removal-'));
});

afterEach(async () => {
  for (const started of desks.splice(0)) {
    scan.collect('list', started.connections.list());
    await started.close();
  }
  scan.addEmulator(emulator);
  scan.assertClean();
  await emulator.close();
  await rm(dir, { recursive: true, force: true });
});

/** A desk on the file store in `dir`; with `held`, on that wrapper of it (this process's lock and change feed). */
async function desk(held?: HeldStore): Promise<StartedDesk> {
  const started = await startDesk({
    env: emulatorEnv(emulator, dir),
    cwd: dir,
    log: (line) => scan.collect('log line', line),
    manager: { refreshOnStart: false, retry: { maxAttempts: 1 } },
    ...(held ? { store: () => held.store } : {}),
  });
  started.connections.onStatusChanged((status) => scan.collect('status event', status));
  desks.push(started);
  return started;
}

/** Company A, added with a fresh authorization at the emulator (`qb-token connections add`). */
async function addAlphaBooks(started: StartedDesk): Promise<void> {
  await addAuthorizedCompany(started.connections, emulator, { name: 'Alpha Books', realmId: REALM_A });
}

/** This process's own file store instance on `dir`, held at will. */
function heldFileStore(): HeldStore {
  return heldStore(new FileConnectionStore({ dataDir: dir, storeKey: null, environment: 'sandbox' }));
}

/** Two desks on one store; `other` adds company A and refreshes it, `serving` has taken in the result. */
async function twoDesksWithCompany(): Promise<{ serving: StartedDesk; other: StartedDesk; held: HeldStore }> {
  const held = heldFileStore();
  const serving = await desk(held);
  const other = await desk();
  await addAlphaBooks(other);
  await other.connections.desk(REALM_A).refresh('manual');
  const refreshed = other.connections.desk(REALM_A).getStatus().accessToken?.preview;
  await expect
    .poll(
      () =>
        serving.connections.has(REALM_A) &&
        serving.connections.desk(REALM_A).getStatus().accessToken?.preview,
      {
        timeout: 10_000,
      },
    )
    .toBe(refreshed);
  return { serving, other, held };
}

describe('a company another process removes', () => {
  it.each([
    ['`connections remove` (revoked at Intuit, then dropped)', 'remove'],
    [
      'its record dropped by a third process without a revoke (the refresh token still live at Intuit)',
      'drop',
    ],
  ] as const)(
    'while this desk’s refresh waits for the lock: %s: no token call, no record written back, gone from the list',
    async (_label, how) => {
      const { serving, other, held } = await twoDesksWithCompany();
      const lists: string[][] = [];
      serving.connections.onConnectionsChanged((list: ConnectionSummary[]) =>
        lists.push(list.map((c) => c.id)),
      );
      // Serving is about to refresh A (its user pressed Refresh) and has not heard of the removal yet.
      held.holdChanges();
      held.holdLock(REALM_A);
      const refreshing = serving.connections.desk(REALM_A).refresh('manual');
      refreshing.catch(() => undefined);
      await held.lockAsked();
      emulator.control.resetCounters();

      if (how === 'remove') await other.connections.remove(REALM_A);
      else {
        const third = fileStoreFor(other.config, () => undefined);
        await third.withLock(REALM_A, () => third.remove(REALM_A));
        await third.close();
      }
      const recordFile = join(dir, 'connections', `${REALM_A}.json`);
      expect(existsSync(recordFile)).toBe(false);

      // Serving's refresh now takes the lock: the record is gone.
      held.releaseLock();
      await expect(refreshing).rejects.toBeInstanceOf(UnknownConnectionError);
      await expect(refreshing).rejects.toThrow(/removed/);
      expect(emulator.control.counters().tokenCalls.refresh_token).toBe(0);
      expect(existsSync(recordFile)).toBe(false);
      expect(await other.store.list()).not.toContain(REALM_A);

      // Serving drops A at once, without waiting for the change feed, which then changes nothing.
      await expect.poll(() => serving.connections.has(REALM_A), { timeout: 10_000 }).toBe(false);
      expect(lists).toEqual([[DEFAULT_CONNECTION_ID]]);
      held.releaseChanges();
      for (const started of [serving, other]) {
        await expect
          .poll(() => started.connections.list().map((c) => c.id), { timeout: 10_000 })
          .toEqual([DEFAULT_CONNECTION_ID]);
      }
      expect(() => serving.connections.desk(REALM_A)).toThrow(UnknownConnectionError);
      expect(lists).toEqual([[DEFAULT_CONNECTION_ID]]);
      expect(existsSync(recordFile)).toBe(false);
      expect(emulator.control.counters().tokenCalls.refresh_token).toBe(0);
    },
  );
});

describe('a connection another process disconnects', () => {
  // `connections remove` disconnects first (the record keeps no chain), then drops the record: a refresh
  // that takes the lock in between, or after a Disconnect alone, must not undo it.
  it.each([
    ['an added company', REALM_A],
    ['the default connection', DEFAULT_CONNECTION_ID],
  ])(
    'while this desk’s refresh waits for the lock: %s: no token call, the record keeps no chain',
    async (_label, id) => {
      const { serving, other, held } = await twoDesksWithCompany();
      if (id === DEFAULT_CONNECTION_ID) {
        await other.desk.refresh('manual');
        await expect.poll(() => serving.desk.getStatus().lastRefresh?.ok, { timeout: 10_000 }).toBe(true);
      }
      held.holdChanges();
      held.holdLock(id);
      const refreshing = serving.connections.desk(id).refresh('manual');
      refreshing.catch(() => undefined);
      await held.lockAsked();
      emulator.control.resetCounters();
      await other.connectFlow.disconnect({ connectionId: id });

      held.releaseLock();
      await expect(refreshing).rejects.toBeInstanceOf(NotConfiguredError);
      expect(emulator.control.counters().tokenCalls.refresh_token).toBe(0);
      const { record } = await other.store.load(id);
      expect(record?.tokens).toBeNull();
      expect(serving.connections.desk(id).getStatus().state).toBe('not_configured');
      held.releaseChanges();
    },
  );
});

describe('removing a company here that another process removed first', () => {
  it('is done: no error, no token call, no record written back', async () => {
    const { serving, other, held } = await twoDesksWithCompany();
    held.holdChanges(); // serving has not heard of the other removal yet
    await other.connections.remove(REALM_A);
    emulator.control.resetCounters();

    const { connections } = await serving.connections.removeReporting(REALM_A);
    expect(connections.map((c) => c.id)).toEqual([DEFAULT_CONNECTION_ID]);
    expect(emulator.control.counters().tokenCalls.refresh_token).toBe(0);
    expect(existsSync(join(dir, 'connections', `${REALM_A}.json`))).toBe(false);
    held.releaseChanges();
  });
});

describe('a record gone from the store that is written back', () => {
  it('the default connection’s record deleted by hand: the desk holding its chain writes it back on its next refresh', async () => {
    const serving = await desk();
    await serving.desk.refresh('manual');
    const recordFile = join(dir, 'connections', `${DEFAULT_CONNECTION_ID}.json`);
    expect(existsSync(recordFile)).toBe(true);
    await rm(recordFile);

    emulator.control.resetCounters();
    const status = await serving.desk.refresh('manual');
    expect(emulator.control.counters().tokenCalls.refresh_token).toBe(1);
    expect(status.state).toBe('valid');
    const { record } = await serving.store.load(DEFAULT_CONNECTION_ID);
    // The chain Intuit accepts now is in the store again: nothing was lost.
    expect(record?.tokens?.refreshToken).toBeTruthy();
    expect(emulator.control.isRefreshTokenValid(record?.tokens?.refreshToken ?? '')).toBe(true);
    expect(record?.tokens?.accessToken && previewToken(record.tokens.accessToken)).toBe(
      status.accessToken?.preview,
    );
    expect(serving.connections.list().map((c) => c.id)).toEqual([DEFAULT_CONNECTION_ID]);
  });

  it('an added company’s record found unreadable (moved aside) under the lock: its chain is written back, not dropped', async () => {
    const held = heldFileStore();
    const serving = await desk(held);
    await addAlphaBooks(serving);
    await serving.connections.desk(REALM_A).refresh('manual');
    // The refresh is the first to read the damaged file (the change feed, which would read it too, is late).
    held.holdChanges();
    const recordFile = join(dir, 'connections', `${REALM_A}.json`);
    await writeFile(recordFile, 'not a record');

    const status = await serving.connections.desk(REALM_A).refresh('manual');
    expect(status.state).toBe('valid');
    expect(status.warnings.some((warning) => warning.includes('moved aside'))).toBe(true);
    const { record } = await serving.store.load(REALM_A);
    expect(emulator.control.isRefreshTokenValid(record?.tokens?.refreshToken ?? '')).toBe(true);
    held.releaseChanges();
    expect(serving.connections.has(REALM_A)).toBe(true);
  });
});
