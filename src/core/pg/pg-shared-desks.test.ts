// Several desks (startDesk, as every adapter starts one) over one PostgreSQL database, each with its
// own pool and LISTEN connection, against a real server this file starts: shared health, changes
// pushed to every desk, and the faults of issue 11 item 6 as a user of the desk sees them.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_CONNECTION_ID, type TokenStatus } from '../../shared/contract';
import { startDesk, type StartedDesk } from '../bootstrap';
import type { ConnectionStore } from '../connection-store';
import { FileConnectionStore } from '../file-connection-store';
import { holdableReads, holdableSaves } from '../testing/store-wrapper';
import { PgConnectionStore } from './pg-connection-store';
import { LeakScan } from '../testing/leak-scan';
import { postgresForFile } from '../testing/postgres-for-file';
import { startEmulator } from '../../emulator';
import { emulatorEnv } from '../../emulator/app-env';
import type { EmulatorHandle, EmulatorOptions } from '../../emulator/types';
import { CONNECTIONS_TABLE, REFRESH_NOTES_TABLE } from './schema';
import { fingerprintToken } from '../token-store';

const KEY = 'shared desks key, 16+ characters';
const pg = postgresForFile();
let emulator: EmulatorHandle | null = null;
let desks: StartedDesk[] = [];
const scan = new LeakScan();

afterEach(async () => {
  for (const desk of desks) {
    scan.collect('final status', desk.desk.getStatus());
    await desk.close();
  }
  desks = [];
  if (emulator) {
    scan.addEmulator(emulator);
    scan.assertClean();
    await emulator.close();
  }
  emulator = null;
});

interface Setup {
  env: NodeJS.ProcessEnv;
  url: string;
  database: string;
  emulator: EmulatorHandle;
}

async function setup(options: EmulatorOptions = {}): Promise<Setup> {
  emulator = await startEmulator(options);
  const url = await pg().createDatabase();
  const env = {
    ...emulatorEnv(emulator),
    QB_STORE_URL: url,
    QB_STORE_KEY: KEY,
    QB_DATA_DIR: '/nonexistent-qbtd',
  };
  return { env, url, database: new URL(url).pathname.slice(1), emulator };
}

async function desk(env: NodeJS.ProcessEnv, store?: () => ConnectionStore): Promise<StartedDesk> {
  const started = await startDesk({
    env,
    ...(store ? { store } : {}),
    log: (line) => scan.collect('log line', line),
    manager: { refreshOnStart: false },
  });
  started.desk.onStatusChanged((status) => scan.collect('status event', status));
  desks.push(started);
  return started;
}

/** The next status `desk` pushes that satisfies `test` (its current one counts). */
function statusWhere(started: StartedDesk, test: (status: TokenStatus) => boolean, timeoutMs = 10_000) {
  return new Promise<TokenStatus>((resolve, reject) => {
    if (test(started.desk.getStatus())) return resolve(started.desk.getStatus());
    const timer = setTimeout(() => {
      off();
      reject(
        new Error(`no such status within ${timeoutMs} ms; last: ${JSON.stringify(started.desk.getStatus())}`),
      );
    }, timeoutMs);
    const off = started.desk.onStatusChanged((status) => {
      if (!test(status)) return;
      clearTimeout(timer);
      off();
      resolve(status);
    });
  });
}

describe('one connection, several desks, one PostgreSQL', () => {
  it('the status names the PostgreSQL store (host:port/database, never the password)', async () => {
    const { env, database } = await setup();
    const a = await desk(env);
    expect(a.desk.getStatus().store).toEqual({
      kind: 'postgres',
      location: `127.0.0.1:${pg().port}/${database}`,
      encrypted: true,
      reachable: true,
      misconfigured: false,
      problem: null,
    });
    expect(JSON.stringify(a.desk.getStatus())).not.toContain(pg().password);
  });

  it("QB_STORE_URL wins over an adapter's own store (the desktop app passes its encrypted store)", async () => {
    const { env } = await setup();
    let adapterStoreMade = false;
    const started = await startDesk({
      env,
      log: (line) => scan.collect('log line', line),
      manager: { refreshOnStart: false },
      store: (config) => {
        adapterStoreMade = true;
        return new FileConnectionStore({
          dataDir: '/nonexistent-qbtd',
          storeKey: config.storeKey,
          environment: config.environment,
        });
      },
    });
    desks.push(started);
    expect(started.desk.getStatus().store?.kind).toBe('postgres');
    expect(adapterStoreMade).toBe(false);
  });

  it('a refresh on one desk reaches the other at once (LISTEN/NOTIFY), and it adopts the chain', async () => {
    const { env } = await setup({ rotateAfterSeconds: 0 });
    const a = await desk(env);
    const b = await desk(env);
    const latencies: number[] = [];
    for (let i = 0; i < 10; i += 1) {
      const before = b.desk.getStatus().lastRefresh?.at;
      const seen = statusWhere(
        b,
        (status) => status.lastRefresh?.at !== before && status.lastRefresh?.ok === true,
      );
      const started = performance.now();
      await a.desk.refresh('manual');
      await seen;
      latencies.push(performance.now() - started);
    }
    latencies.sort((x, y) => x - y);
    console.log(
      `[pg-desks] refresh on desk A shown by desk B: p50 ${latencies[5]?.toFixed(1)} ms, max ${latencies.at(-1)?.toFixed(1)} ms (10 refreshes, rotating every time)`,
    );
    // B uses A's rotated chain: its token is A's, with no token call of its own.
    const calls = emulator?.control.counters().tokenCalls.refresh_token;
    expect(await b.desk.getAccessToken()).toBe(await a.desk.getAccessToken());
    expect(emulator?.control.counters().tokenCalls.refresh_token).toBe(calls);
  });

  it('invalid_grant seen by one desk is reported by every other one', async () => {
    const { env, emulator: intuit } = await setup();
    const a = await desk(env);
    const b = await desk(env);
    await a.desk.getAccessToken();
    intuit.control.injectTokenFault({ kind: 'invalid_grant' });
    await expect(a.desk.refresh('manual')).rejects.toThrow(/invalid_grant|rejected/);
    const seen = await statusWhere(b, (status) => status.state === 'reauthorization_required');
    expect(seen.lastRefresh?.error?.kind).toBe('invalid_grant');
    // A desk started later reads the same truth from the record.
    const c = await desk(env);
    expect(c.desk.getStatus().state).toBe('reauthorization_required');
  });

  it('a change that arrives while the previous one is still being read is read too (no lost update)', async () => {
    const { env, url, emulator: intuit } = await setup();
    const a = await desk(env);
    await a.desk.getAccessToken();
    // B's reads can be held after they have read, so a newer change lands while an older read is in flight.
    const reads = holdableReads(new PgConnectionStore({ url, storeKey: KEY }));
    const b = await desk({ ...env, QB_STORE_URL: undefined }, () => reads.store);
    await statusWhere(b, (status) => status.lastRefresh?.ok === true);
    reads.hold();
    const before = reads.readsDone();
    await a.desk.refresh('manual');
    await until(() => reads.readsDone() > before); // B has read A's refresh and is held there
    const seen = reads.changes.length;
    intuit.control.injectTokenFault({ kind: 'invalid_grant' });
    await expect(a.desk.refresh('manual')).rejects.toThrow(/invalid_grant|rejected/);
    await until(() => reads.changes.length > seen); // the rejection reached B while its older read is held
    reads.release();
    await statusWhere(b, (status) => status.state === 'reauthorization_required');
  });

  it('a desk started while another is mid-refresh: a later invalid_grant (revoked elsewhere) keeps the plain message', async () => {
    // Its note, read at B's start, passed for a stopped process's (refresh-attempt.test.ts: the file store).
    const { env, url } = await setup();
    const saves = holdableSaves();
    const a = await desk({ ...env, QB_STORE_URL: undefined }, () =>
      saves.wrap(new PgConnectionStore({ url, storeKey: KEY })),
    );
    saves.hold();
    const refreshing = a.desk.refresh('manual');
    await saves.saveAsked(); // A's note is in the table, Intuit has answered, the save waits
    expect(await a.store.interruptedRefresh?.(DEFAULT_CONNECTION_ID)).not.toBeNull();
    const b = await desk(env);
    saves.release();
    await refreshing;
    expect(await b.store.interruptedRefresh?.(DEFAULT_CONNECTION_ID)).toBeNull();
    const { record } = await b.store.load(DEFAULT_CONNECTION_ID);
    expect(await a.oauth?.revoke(record?.tokens?.refreshToken ?? '')).toMatchObject({ outcome: 'revoked' });

    await expect(b.desk.refresh('manual')).rejects.toThrow(/invalid_grant/);
    const status = b.desk.getStatus();
    expect(status.lastRefresh?.error?.kind).toBe('invalid_grant');
    expect(status.lastRefresh?.error?.message).toMatch(/^HTTP 400 invalid_grant: .*reconnect to QuickBooks/);
    expect(status.warnings).toContain(
      'QuickBooks no longer accepts the refresh token: reconnect to QuickBooks.',
    );
    expect(JSON.stringify(status)).not.toMatch(/stopped during a refresh/);
  });

  it('a note left by a process stopped mid-refresh is found under the lock: the refusal that follows says so', async () => {
    const { env, url } = await setup({ rotateAfterSeconds: 0 });
    const a = await desk(env);
    await a.desk.getAccessToken();
    const { record } = await a.store.load(DEFAULT_CONNECTION_ID);
    const sent = record?.tokens?.refreshToken ?? '';
    // What a process killed during its token call leaves: its note, and a token Intuit rotated away.
    const stopped = new PgConnectionStore({ url, storeKey: KEY });
    stopped.beginRefresh(DEFAULT_CONNECTION_ID, {
      startedAt: Date.parse('2026-11-27T10:00:00Z'),
      refreshTokenSha256: fingerprintToken(sent),
    });
    await expect.poll(() => stopped.interruptedRefresh(DEFAULT_CONNECTION_ID)).not.toBeNull();
    await stopped.close();
    await a.oauth?.refresh(sent);

    const b = await desk(env);
    await expect(b.desk.refresh('manual')).rejects.toThrow(/stopped during a refresh/);
    expect(b.desk.getStatus().warnings.join(' ')).toMatch(
      /stopped during a refresh \(started 2026-11-27T10:00:00.000Z\).*Reconnect to QuickBooks/,
    );
  });

  it('a refresh note that cannot be read (its table renamed away) does not fail the refresh', async () => {
    const { env, database } = await setup();
    const a = await desk(env);
    await a.desk.getAccessToken();
    await pg().query(`ALTER TABLE ${REFRESH_NOTES_TABLE} RENAME TO unreadable_notes`, [], database);
    await a.desk.refresh('manual');
    expect(a.desk.getStatus().lastRefresh?.ok).toBe(true);
    expect(a.desk.getStatus().warnings).toEqual([]);
  });

  it('PostgreSQL stopped mid-run: the valid token is served from memory, no refresh without the lock, and it resumes by itself', async () => {
    const { env, emulator: intuit } = await setup();
    const a = await desk(env);
    const token = await a.desk.getAccessToken();
    await pg().stop();
    expect(await a.desk.getAccessToken()).toBe(token);
    const calls = intuit.control.counters().tokenCalls.refresh_token;
    await expect(a.desk.refresh('manual')).rejects.toThrow(/QB_STORE_URL/);
    expect(intuit.control.counters().tokenCalls.refresh_token).toBe(calls);
    const down = await statusWhere(a, (status) => status.store?.reachable === false);
    expect(JSON.stringify(down)).not.toContain(pg().password);
    await pg().restart();
    await statusWhere(a, (status) => status.store?.reachable === true, 20_000);
    await a.desk.refresh('manual');
    expect(intuit.control.counters().tokenCalls.refresh_token).toBe(calls + 1);
  });

  it("restarted between Intuit's answer and the write: the rotated chain is kept in memory and written on reconnect", async () => {
    // Intuit kills the old refresh token as soon as it issues the new one: losing the answer would brick the connection.
    const { env, emulator: intuit } = await setup({
      rotateAfterSeconds: 0,
      oldRefreshTokenPolicy: 'immediate',
    });
    // The save outlasts the store's retry bound, so the chain also goes to a rescue file: to a
    // directory of this test's own, not the user's home (pg-save-rescue.test.ts covers that file).
    const rescueDir = await mkdtemp(join(tmpdir(), 'qbtd-desks-rescue-'));
    const { QB_STORE_URL: url = '', ...withoutUrl } = env;
    const a = await desk(
      withoutUrl,
      () => new PgConnectionStore({ url, storeKey: KEY, rescueDirs: [rescueDir] }),
    );
    await a.desk.getAccessToken();
    intuit.control.injectTokenFault({ kind: 'delay_after_processing', ms: 600 });
    const refreshCalls = () => intuit.control.counters().tokenCalls.refresh_token;
    const callsBefore = refreshCalls();
    const refreshing = a.desk.refresh('manual').catch((err: unknown) => err);
    // Intuit has the refresh (it rotates at once, then holds its answer 600 ms): the store goes away meanwhile.
    while (refreshCalls() === callsBefore) await new Promise((resolve) => setTimeout(resolve, 5));
    await pg().stop();
    await refreshing;
    // Intuit's answer arrived while the store was down: the new chain lives in memory only, and says so.
    expect(a.desk.getStatus().warnings.join(' ')).toMatch(/kept in memory/);
    await pg().restart();
    // Written by itself once the store is back; then a second desk reads a chain Intuit still accepts.
    const rows = async () =>
      (
        await pg().query<{ revision: string }>(
          `SELECT revision FROM ${CONNECTIONS_TABLE}`,
          [],
          new URL(env.QB_STORE_URL ?? '').pathname.slice(1),
        )
      ).rows;
    const before = Number((await rows())[0]?.revision);
    await statusWhere(
      a,
      (status) => status.store?.reachable === true && !status.warnings.some((w) => /kept in memory/.test(w)),
      30_000,
    );
    expect(Number((await rows())[0]?.revision)).toBeGreaterThan(before);
    expect(await readdir(rescueDir)).toEqual([]);
    await rm(rescueDir, { recursive: true });
    const b = await desk(env);
    const calls = intuit.control.counters().tokenCalls.refresh_token;
    await b.desk.refresh('manual');
    expect(intuit.control.counters().tokenCalls.refresh_token).toBe(calls + 1);
    expect(b.desk.getStatus().state).toBe('valid');
  });

  it("the lock's session lost during the token call: the rotated chain is still written, and another process goes on from it", async () => {
    const {
      env,
      database,
      emulator: intuit,
    } = await setup({
      rotateAfterSeconds: 0,
      oldRefreshTokenPolicy: 'immediate',
    });
    const a = await desk(env);
    await a.desk.getAccessToken();
    intuit.control.injectTokenFault({ kind: 'delay_after_processing', ms: 300 });
    const refreshCalls = () => intuit.control.counters().tokenCalls.refresh_token;
    const callsBefore = refreshCalls();
    const refreshing = a.desk.refresh('manual');
    // Intuit has rotated the chain and holds its answer: the lock's session is cut meanwhile.
    while (refreshCalls() === callsBefore) await new Promise((resolve) => setTimeout(resolve, 5));
    const { rows } = await pg().query(
      `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [],
      database,
    );
    expect(rows).toHaveLength(1);
    await refreshing;
    expect(a.desk.getStatus().warnings.join(' ')).not.toMatch(/kept in memory/);
    // A process started now (a CLI run) reads the rotated chain, which Intuit accepts.
    await a.close();
    desks = desks.filter((each) => each !== a);
    const b = await desk(env);
    await b.desk.refresh('manual');
    expect(b.desk.getStatus().state).toBe('valid');
  });

  it('a row edited by hand into garbage: the status explains, nothing crashes, the row is not overwritten', async () => {
    const { env, database } = await setup();
    const a = await desk(env);
    await a.desk.getAccessToken();
    await a.close();
    desks = desks.filter((d) => d !== a);
    await pg().query(`UPDATE ${CONNECTIONS_TABLE} SET tokens = '"garbage"'`, [], database);
    const before = (await pg().query(`SELECT revision, tokens::text FROM ${CONNECTIONS_TABLE}`, [], database))
      .rows;
    const b = await desk(env);
    expect(b.desk.getStatus().warnings.join(' ')).toMatch(/could not be read .* left as it is/);
    await b.desk.refresh('manual').catch(() => undefined);
    expect(
      (await pg().query(`SELECT revision, tokens::text FROM ${CONNECTIONS_TABLE}`, [], database)).rows,
    ).toEqual(before);
  });

  it('with QB_STORE_KEY no token value is in a table dump', async () => {
    const { env, database } = await setup({ rotateAfterSeconds: 0 });
    const a = await desk(env);
    await a.desk.refresh('manual');
    await a.desk.refresh('manual');
    scan.collect('pg_dump', pg().dump(database));
  });
});

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
