// The PostgreSQL store against a real PostgreSQL server (one per file, a fresh database per test):
// schema and migrations, records and their encryption, the lock across instances and dead holders,
// LISTEN/NOTIFY, and the faults of issue 11 item 6 at the store's level.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { ConnectionRecord } from '../connection-record';
import { emptyHealth } from '../connection-record';
import type { RecordChange } from '../connection-store';
import {
  StoreConfigError,
  StoreError,
  StoreKeyError,
  StoreLockTimeoutError,
  StoreUnavailableError,
} from '../errors';
import { StoreSaveRescuedError } from '../fs/save-rescue';
import { LeakScan } from '../testing/leak-scan';
import { postgresForFile } from '../testing/postgres-for-file';
import { freeLoopbackPort } from '../testing/postgres-server';
import type { StoredTokens } from '../token-store';
import { PgConnectionStore, type PgConnectionStoreOptions } from './pg-connection-store';
import { CONNECTIONS_TABLE, SCHEMA } from './schema';

const KEY = 'the store key, sixteen+ chars';
// TLS on: the sslmode test needs it; every other test connects without sslmode (no TLS).
const pg = postgresForFile({ tls: true });
let stores: PgConnectionStore[] = [];
// A write the server does not take goes here, not to the user's home (pg-save-rescue.test.ts tests it).
const rescueDir = mkdtempSync(join(tmpdir(), 'qbtd-pg-store-rescue-'));

afterEach(async () => {
  await Promise.all(stores.map((store) => store.close()));
  stores = [];
});

afterAll(async () => {
  await rm(rescueDir, { recursive: true, force: true });
});

function store(url: string, options: Partial<PgConnectionStoreOptions> = {}): PgConnectionStore {
  const created = new PgConnectionStore({
    url,
    storeKey: KEY,
    lockWaitMs: 5000,
    rescueDirs: [rescueDir],
    ...options,
  });
  stores.push(created);
  return created;
}

let serial = 0;
function tokens(overrides: Partial<StoredTokens> = {}): StoredTokens {
  serial += 1;
  return {
    version: 1,
    refreshToken: `RT-secret-value-${serial}-${Math.random().toString(36).slice(2)}`,
    refreshTokenIssuedAt: 1_700_000_000_000,
    lastRotatedAt: null,
    refreshTokenExpiresAt: 1_708_640_000_000,
    refreshTokenHardExpiresAt: null,
    accessToken: `AT-secret-value-${serial}-${Math.random().toString(36).slice(2)}`,
    accessTokenExpiresAt: 1_700_003_600_000,
    refreshedAt: 1_700_000_000_000,
    realmId: '9130350000000001',
    origin: { envRefreshTokenSha256: null },
    ...overrides,
  };
}

function record(id: string, revision: number, chain: StoredTokens | null = tokens()): ConnectionRecord {
  return {
    version: 2,
    id,
    revision,
    profile: {
      name: 'QuickBooks sandbox',
      environment: 'sandbox',
      realmId: '9130350000000001',
      companyName: null,
    },
    tokens: chain,
    health: {
      ...emptyHealth(),
      lastRefresh: { at: '2026-11-30T10:00:00.000Z', ok: true, trigger: 'scheduled', durationMs: 120 },
    },
  };
}

const dbName = (url: string) => new URL(url).pathname.slice(1);

async function rawRow(url: string, id: string): Promise<Record<string, unknown> | undefined> {
  const { rows } = await pg().query(
    `SELECT revision, tokens::text AS tokens, health::text AS health FROM ${CONNECTIONS_TABLE} WHERE id = $1`,
    [id],
    dbName(url),
  );
  return rows[0];
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('schema', () => {
  it('is created on open, idempotently, by several instances starting at once', async () => {
    const url = await pg().createDatabase();
    await Promise.all(Array.from({ length: 6 }, () => store(url).open()));
    await store(url).open();
    const { rows } = await pg().query<{ version: number }>(
      `SELECT version FROM ${SCHEMA}.migrations`,
      [],
      dbName(url),
    );
    expect(rows.map((row) => row.version)).toEqual([1, 2]);
  });
});

describe('records', () => {
  it('round-trips a record, encrypted at rest: no token value in the table, the health view or pg_dump', async () => {
    const url = await pg().createDatabase();
    const s = store(url);
    await s.open();
    const saved = record('default', 1);
    await s.save(saved);
    expect(await s.load('default')).toEqual({ record: saved, warnings: [] });
    expect(await s.list()).toEqual(['default']);
    expect(s.description).toEqual({
      kind: 'postgres',
      location: `127.0.0.1:${pg().port}/${dbName(url)}`,
      encrypted: true,
    });
    expect(s.warnings).toEqual([]);

    const scan = new LeakScan();
    scan.addSecretSource(() => [saved.tokens?.refreshToken ?? '', saved.tokens?.accessToken ?? '']);
    scan.collect('pg_dump', pg().dump(dbName(url)));
    const view = await pg().query(`SELECT * FROM ${SCHEMA}.connection_health`, [], dbName(url));
    scan.collect('health view', view.rows);
    expect(view.rows[0]).toMatchObject({
      id: 'default',
      revision: '1',
      encrypted: true,
      last_refresh: { ok: true },
    });
    scan.assertClean();
  });

  it('without QB_STORE_KEY keeps tokens readable, warns, and encrypts them once a key is set', async () => {
    const url = await pg().createDatabase();
    const plain = store(url, { storeKey: null });
    await plain.open();
    const saved = record('default', 1);
    await plain.save(saved);
    expect(plain.warnings.join(' ')).toMatch(/unencrypted in PostgreSQL .* set QB_STORE_KEY/);
    expect((await rawRow(url, 'default'))?.tokens).toContain(saved.tokens?.refreshToken);

    expect((await store(url).load('default')).record).toEqual(saved);
    const raw = await rawRow(url, 'default');
    expect(raw?.tokens).not.toContain(saved.tokens?.refreshToken);
    expect(raw?.revision).toBe('1');
  });

  it('a wrong or missing QB_STORE_KEY is a StoreKeyError naming it, and the row is left as it was', async () => {
    const url = await pg().createDatabase();
    const s = store(url);
    await s.open();
    await s.save(record('default', 1));
    const before = await rawRow(url, 'default');
    for (const storeKey of ['another key, sixteen+ chars', null]) {
      const error = await rejection(store(url, { storeKey }).load('default'));
      expect(error).toBeInstanceOf(StoreKeyError);
      expect(error.message).toMatch(
        /connection "default" .*(could not be decrypted with (this )?QB_STORE_KEY|encrypted and QB_STORE_KEY is not set)/,
      );
    }
    expect(await rawRow(url, 'default')).toEqual(before);
  });

  it('writes only on top of the revision read: a stale write is refused and changes nothing', async () => {
    const url = await pg().createDatabase();
    const s = store(url);
    await s.open();
    await s.save(record('default', 1));
    await s.save(record('default', 2));
    const before = await rawRow(url, 'default');
    const error = await rejection(s.save(record('default', 2)));
    expect(error).toBeInstanceOf(StoreError);
    expect(error.message).toMatch(/at revision 2, not 1 as read.*not written over/);
    expect(await rawRow(url, 'default')).toEqual(before);
  });

  it('a row edited into garbage: explained, nothing crashes, nothing written over; bad health alone is reset', async () => {
    const url = await pg().createDatabase();
    const s = store(url);
    await s.open();
    const saved = record('default', 1);
    await s.save(saved);
    await pg().query(`UPDATE ${CONNECTIONS_TABLE} SET health = '"oops"'`, [], dbName(url));
    const healthReset = await s.load('default');
    expect(healthReset.record?.tokens).toEqual(saved.tokens);
    expect(healthReset.record?.health).toEqual(emptyHealth());
    expect(healthReset.warnings.join(' ')).toMatch(/its health .* could not be read and was reset/);

    await pg().query(`UPDATE ${CONNECTIONS_TABLE} SET tokens = '{"refreshToken": 42}'`, [], dbName(url));
    const before = await rawRow(url, 'default');
    const garbage = await s.load('default');
    expect(garbage.record).toBeNull();
    expect(garbage.warnings.join(' ')).toMatch(
      /connection "default" .* could not be read \(its tokens column is not a token chain of this version\)\. It is left as it is/,
    );
    // The engine, finding no record, would start a new chain at revision 1: refused.
    await expect(s.withLock('default', () => s.save(record('default', 1)))).rejects.toThrow(
      /not written over/,
    );
    expect(await rawRow(url, 'default')).toEqual(before);
  });

  it('removes a record and keeps refresh notes (hash only) until dropped', async () => {
    const url = await pg().createDatabase();
    const s = store(url);
    await s.open();
    await s.save(record('default', 1));
    const note = { startedAt: 1_700_000_000_123, refreshTokenSha256: 'a'.repeat(64) };
    await s.withLock('default', async () => {
      s.beginRefresh('default', note);
      // Queued on the lock's session behind the note: read back in order.
      expect(await s.interruptedRefresh('default')).toEqual(note);
    });
    expect(await store(url).interruptedRefresh('default')).toEqual(note);
    await s.withLock('default', async () => {
      s.endRefresh('default');
      expect(await s.interruptedRefresh('default')).toBeNull();
    });
    await s.remove('default');
    expect(await s.load('default')).toEqual({ record: null, warnings: [] });
    expect(await s.list()).toEqual([]);
  });
});

describe('the lock', () => {
  it('lets one instance at a time in, across pools, and bounds the wait', async () => {
    const url = await pg().createDatabase();
    const a = store(url);
    const b = store(url);
    const order: string[] = [];
    let releaseA = () => {};
    const aHolds = new Promise<void>((resolve) => (releaseA = resolve));
    let aEntered = () => {};
    const entered = new Promise<void>((resolve) => (aEntered = resolve));
    const first = a.withLock('default', async () => {
      order.push('a in');
      aEntered();
      await aHolds;
      order.push('a out');
    });
    await entered;
    const timedOut = await rejection(b.withLock('default', async () => order.push('never'), { waitMs: 300 }));
    expect(timedOut).toBeInstanceOf(StoreLockTimeoutError);
    expect(timedOut.message).toMatch(/connection "default"'s lock .* too long/);
    // Another connection's lock is free meanwhile.
    await b.withLock('other', async () => order.push('b other'));
    const second = b.withLock('default', async () => order.push('b in'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    releaseA();
    await Promise.all([first, second]);
    expect(order).toEqual(['a in', 'b other', 'a out', 'b in']);
  });

  it('is freed with its session when the holder process is killed (kill -9)', async () => {
    const url = await pg().createDatabase();
    const waiter = store(url);
    await waiter.open();
    const holder = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, '..', 'testing', 'pg-lock-holder.ts')],
      {
        env: { ...process.env, QBTD_LOCK_URL: url, QBTD_LOCK_ID: 'default' },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const [line] = (await once(holder.stdout, 'data')) as [Buffer];
    expect(line.toString()).toContain('holding');
    await expect(waiter.withLock('default', async () => 'got it', { waitMs: 200 })).rejects.toBeInstanceOf(
      StoreLockTimeoutError,
    );
    const killedAt = performance.now();
    const waiting = waiter.withLock('default', async () => performance.now() - killedAt, { waitMs: 10_000 });
    holder.kill('SIGKILL');
    const takeoverMs = await waiting;
    console.log(`[pg-lock] taken over ${takeoverMs.toFixed(1)} ms after the holder's kill -9`);
    expect(takeoverMs).toBeLessThan(5000);
  });

  it('is freed when the holder loses its connection, and that holder cannot write over what the next one wrote', async () => {
    const url = await pg().createDatabase();
    const a = store(url);
    const b = store(url);
    await a.open();
    await a.save(record('default', 1));
    const bWrote = record('default', 2);
    const error = await rejection(
      a.withLock('default', async () => {
        await terminateLockSessions(url);
        // b gets the lock that a's dead session held, and writes.
        await b.withLock('default', () => b.save(bWrote), { waitMs: 2000 });
        await a.save(record('default', 2));
      }),
    );
    expect(error).toBeInstanceOf(StoreError);
    expect(error.message).toMatch(/at revision 2, not 1 as read.*not written over/);
    expect((await b.load('default')).record).toEqual(bWrote);
    // a's next lock works on a fresh session.
    expect(await a.withLock('default', async () => (await a.load('default')).record?.revision)).toBe(2);
  });
});

describe('a write whose lock session is lost (Intuit has already rotated the chain it holds)', () => {
  it('lands on a fresh connection, on top of the revision read under the lock', async () => {
    const url = await pg().createDatabase();
    const s = store(url);
    await s.open();
    await s.save(record('default', 1));
    const rotated = record('default', 2);
    await s.withLock('default', async () => {
      await terminateLockSessions(url);
      await s.save(rotated);
    });
    expect((await store(url).load('default')).record).toEqual(rotated);
  });

  it('lands once the server is back from a restart within the retry bound', async () => {
    const url = await pg().createDatabase();
    const s = store(url, { saveRetryMs: 20_000 });
    await s.open();
    await s.save(record('default', 1));
    const rotated = record('default', 2);
    await s.withLock('default', async () => {
      await pg().stop();
      const saving = s.save(rotated);
      await pg().restart();
      await saving;
    });
    expect((await store(url).load('default')).record).toEqual(rotated);
  });

  it('gives up when the server stays away past the bound: the record goes to a rescue file, put back once it answers', async () => {
    const url = await pg().createDatabase();
    const s = store(url, { saveRetryMs: 300 });
    await s.open();
    await s.save(record('default', 1));
    const error = await rejection(
      s.withLock('default', async () => {
        await pg().stop();
        await s.save(record('default', 2));
      }),
    );
    // Still a StoreUnavailableError to the engine (transient), saying where the chain went.
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(error).toBeInstanceOf(StoreSaveRescuedError);
    expect(error.message).not.toContain(pg().password);
    await pg().restart();
    expect((await s.load('default')).record?.revision).toBe(2);
  });

  it('does not bring back a row removed meanwhile by the next holder', async () => {
    const url = await pg().createDatabase();
    const a = store(url);
    const b = store(url);
    await a.open();
    await a.save(record('default', 1));
    const error = await rejection(
      a.withLock('default', async () => {
        await terminateLockSessions(url);
        await b.withLock('default', () => b.remove('default'), { waitMs: 2000 });
        await a.save(record('default', 2));
      }),
    );
    expect(error.message).toMatch(/at revision none, not 1 as read.*not written over/);
    expect(await b.list()).toEqual([]);
  });
});

describe('changes (LISTEN/NOTIFY)', () => {
  it("reach other instances with the id and revision only, not the writer's own", async () => {
    const url = await pg().createDatabase();
    const writer = store(url);
    const reader = store(url);
    await writer.open();
    const seenByWriter: RecordChange[] = [];
    writer.watch((change) => seenByWriter.push(change));
    const latencies: number[] = [];
    let expected: { revision: number; at: number; done: () => void } | null = null;
    reader.watch((change) => {
      if (expected && change.revision === expected.revision) {
        latencies.push(performance.now() - expected.at);
        expected.done();
      }
    });
    await until(() => reader.listening && writer.listening);
    for (let revision = 1; revision <= 20; revision += 1) {
      const arrived = new Promise<void>((done) => (expected = { revision, at: performance.now(), done }));
      await writer.save(record('default', revision));
      await arrived;
    }
    latencies.sort((x, y) => x - y);
    console.log(
      `[pg-notify] save -> other instance's watch: p50 ${latencies[10]?.toFixed(2)} ms, max ${latencies.at(-1)?.toFixed(2)} ms over 20 writes`,
    );
    expect(latencies).toHaveLength(20);
    expect(seenByWriter).toEqual([]);
  });

  it('resume by themselves after the server restarts, reporting what changed meanwhile', async () => {
    const url = await pg().createDatabase();
    const writer = store(url);
    const reader = store(url);
    await writer.open();
    await writer.save(record('default', 1));
    const seen: RecordChange[] = [];
    reader.watch((change) => seen.push(change));
    await until(() => reader.listening);
    await pg().restart();
    // The pool finds its connections dead, then reconnects for the next write.
    await writer.save(record('default', 2)).catch(() => writer.save(record('default', 2)));
    await until(() => seen.some((change) => change.revision === 2));
    await writer.save(record('default', 3));
    await until(() => seen.some((change) => change.revision === 3));
  });
});

describe('faults', () => {
  it('a server that does not answer at start: StoreUnavailableError naming QB_STORE_URL, password masked', async () => {
    const port = await freeLoopbackPort();
    const error = await rejection(
      store(`postgres://qbtd:not-a-real-password-77@127.0.0.1:${port}/nowhere`, {
        connectTimeoutMs: 1000,
      }).open(),
    );
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(error.message).toMatch(
      new RegExp(
        `PostgreSQL at postgres://qbtd:\\*\\*\\*@127\\.0\\.0\\.1:${port}/nowhere \\(QB_STORE_URL\\) cannot be reached`,
      ),
    );
    expect(error.message).not.toContain('not-a-real-password-77');
  });

  it('honours sslmode: require encrypts, verify-full refuses a certificate it cannot verify, disable does not encrypt', async () => {
    const url = await pg().createDatabase();
    const database = dbName(url);
    const encrypted = async () =>
      (
        await pg().query<{ ssl: boolean }>(
          `SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
            WHERE a.application_name = 'qb-token-desk' AND a.datname = $1`,
          [database],
        )
      ).rows.map((row) => row.ssl);
    const required = store(`${url}?sslmode=require`);
    await required.open();
    expect(await encrypted()).toEqual([true]);
    await required.close();
    const verified = await rejection(store(`${url}?sslmode=verify-full`).open());
    expect(verified).toBeInstanceOf(StoreConfigError);
    expect(verified.message).toMatch(/the TLS connection failed .* check sslmode in QB_STORE_URL/);
    await store(`${url}?sslmode=disable`).open();
    expect(await encrypted()).toEqual([false]);
  });

  it('a wrong password or a missing database: StoreConfigError naming QB_STORE_URL', async () => {
    const wrong = new URL(pg().url());
    wrong.password = 'wrong-password-1234';
    const login = await rejection(store(wrong.toString()).open());
    expect(login).toBeInstanceOf(StoreConfigError);
    expect(login.message).toMatch(
      /refused the login of user "qbtd".*check the user and password in QB_STORE_URL/,
    );
    expect(login.message).not.toContain('wrong-password-1234');
    const missing = await rejection(store(pg().url('no_such_db')).open());
    expect(missing).toBeInstanceOf(StoreConfigError);
    expect(missing.message).toMatch(/database "no_such_db" does not exist/);
  });

  it('stopped mid-run: unavailable while down (no lock either), working again by itself once back', async () => {
    const url = await pg().createDatabase();
    const s = store(url);
    await s.open();
    await s.save(record('default', 1));
    await pg().stop();
    expect(await rejection(s.load('default'))).toBeInstanceOf(StoreUnavailableError);
    const locked = await rejection(s.withLock('default', async () => 'ran without the lock'));
    expect(locked).toBeInstanceOf(StoreUnavailableError);
    expect(locked.message).not.toContain(pg().password);
    await pg().restart();
    expect((await s.load('default')).record?.revision).toBe(1);
    expect(await s.withLock('default', async () => 'locked again')).toBe('locked again');
  });
});

/** Ends the session holding an advisory lock in `url`'s database (a lost connection). */
async function terminateLockSessions(url: string): Promise<void> {
  const { rows } = await pg().query(
    `SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
      WHERE l.locktype = 'advisory' AND l.granted AND d.datname = $1`,
    [dbName(url)],
  );
  expect(rows).toHaveLength(1);
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
