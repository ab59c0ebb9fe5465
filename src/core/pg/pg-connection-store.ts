// The PostgreSQL store (QB_STORE_URL): every desk, headless server, CLI and app instance on every
// machine that points at the same database shares one record per connection and refreshes one at a
// time.
// - The lock is a session-level advisory lock on the connection's key, taken on a session of its own
//   (from a pool of lock sessions with no slot limit, so any number of companies can refresh at once
//   and each waits only for its lock): a holder that dies (kill -9, a lost connection) frees it with
//   its session, so the next instance proceeds at once, with no stale-lock wait. Waits are bounded
//   (lock_timeout).
// - Under the lock, reads and writes go through the lock's own session. Every write is conditional on
//   the revision read under the lock, so a row changed by someone else, one that could not be read, or
//   one removed since is never written over. That condition is what lets a write whose lock session
//   was lost (during the token call, a database blip) go on over fresh pooled connections for a short
//   while: Intuit has already retired the old refresh token, and a process about to exit (the CLI)
//   would otherwise lose the new one.
// - A write under the lock that still cannot reach the server after that goes to a rescue file
//   (pg-save-rescue.ts; StoreSaveRescuedError names it). load() puts a rescued record back into its
//   row under the lock when it is newer than the row, and drops it when it is not. While the server
//   cannot be reached, load() serves it with a warning. (The engine opens the store before it loads:
//   a process started during the outage starts as with any unreachable store, and its first read
//   once the server answers puts the chain back.)
//   A connection removed (removed_connections notes at which revision) is not brought back by a rescue
//   file written before the removal.
// - Every write NOTIFYs the store's channel in the same transaction; watch() LISTENs.
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import pg from 'pg';
import type { ConnectionId, QbEnvironment } from '../../shared/contract';
import type { ConnectionRecord } from '../connection-record';
import type {
  ConnectionStore,
  ConnectionStoreDescription,
  LockOptions,
  RecordChange,
  RecordLoadResult,
} from '../connection-store';
import { StoreError, StoreLockTimeoutError, StoreUnavailableError } from '../errors';
import type { LogFn } from '../log';
import { markRefreshStep } from '../refresh-markers';
import { StoreCipher } from '../store-crypto';
import type { RefreshInFlightNote } from '../token-store';
import { ChangeListener } from './change-listener';
import { toStoreError } from './pg-errors';
import { PgSaveRescue, type FoundRescue } from './pg-save-rescue';
import { RecordRowCodec, SELECT_ROW, type ConnectionRow } from './record-row';
import { insertSql, removedRevisionSql, removeSql, restoreSql, updateSql } from './record-writes';
import { CONNECTIONS_TABLE, migrate, REFRESH_NOTES_TABLE } from './schema';
import { parseStoreUrl, plaintextTransportWarning, type StoreUrl } from './store-url';

export const DEFAULT_LOCK_WAIT_MS = 30_000;

/** A pooled query or one on the lock's session. */
type Queryable = Pick<pg.ClientBase, 'query'>;

export interface PgConnectionStoreOptions {
  /** QB_STORE_URL. */
  url: string;
  /** QB_STORE_KEY: token columns are encrypted when set; a warning says so when not. */
  storeKey: string | null;
  log?: LogFn;
  /** Default wait for a connection's lock before StoreLockTimeoutError, ms (default 30 s). */
  lockWaitMs?: number;
  /** How long to wait for a connection to the server, ms (default 5 s). */
  connectTimeoutMs?: number;
  /** Pool size for reads and writes outside a lock (default 4; the LISTEN connection and lock sessions come on top). */
  poolSize?: number;
  /** How long a write whose lock session was lost is tried again on fresh connections, ms (default 5 s). */
  saveRetryMs?: number;
  /** For a profile that had to be reset (default sandbox). */
  environment?: QbEnvironment;
  /** Where a write the server would not take goes (default: ~/.qb-token-desk/rescue, then the temp directory). */
  rescueDirs?: readonly string[];
}

/** What the row held: `present` tells a missing row from one that could not be read (record null too). */
interface RowRead extends RecordLoadResult {
  present: boolean;
}

interface HeldLock {
  client: pg.PoolClient;
  /** Set when the session broke while held: the lock is gone with it. */
  lost: boolean;
  /** The client's 'error' handler while checked out (a lost connection must not crash the process). */
  onError: () => void;
}

export class PgConnectionStore implements ConnectionStore {
  readonly description: ConnectionStoreDescription;
  private readonly url: StoreUrl;
  private readonly pool: pg.Pool;
  /** Lock sessions, apart from `pool` (see the constructor). */
  private readonly lockPool: pg.Pool;
  private readonly encrypted: boolean;
  private readonly rows: RecordRowCodec;
  private readonly rescues: PgSaveRescue;
  private readonly log: LogFn;
  private readonly lockWaitMs: number;
  private readonly connectTimeoutMs: number;
  private readonly saveRetryMs: number;
  private readonly standing: string[] = [];
  /** Names this instance in notifications and in `updated_by`. */
  private readonly self = `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
  private readonly held = new Map<ConnectionId, HeldLock>();
  /** In-process queue per connection: one waiter per process on the server's lock. */
  private readonly localTail = new Map<ConnectionId, Promise<void>>();
  private readonly listeners = new Set<(change: RecordChange) => void>();
  private listener: ChangeListener | null = null;
  private opened: Promise<void> | null = null;
  private closed = false;

  constructor(options: PgConnectionStoreOptions) {
    this.url = parseStoreUrl(options.url);
    this.encrypted = options.storeKey !== null;
    const cipher = options.storeKey ? new StoreCipher(options.storeKey) : null;
    this.rows = new RecordRowCodec(cipher, this.url.location, options.environment ?? 'sandbox');
    this.log = options.log ?? (() => undefined);
    this.rescues = new PgSaveRescue(this.url.location, cipher, this.log, options.rescueDirs);
    this.lockWaitMs = options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.saveRetryMs = options.saveRetryMs ?? 5000;
    this.description = {
      kind: 'postgres',
      location: this.url.location,
      encrypted: options.storeKey !== null,
    };
    if (!options.storeKey) {
      this.standing.push(
        `Tokens are stored unencrypted in PostgreSQL (${this.url.location}); set QB_STORE_KEY to encrypt them.`,
      );
    }
    const transport = plaintextTransportWarning(this.url);
    if (transport) this.standing.push(transport);
    this.pool = new pg.Pool({
      ...this.clientConfig(),
      max: options.poolSize ?? 4,
      idleTimeoutMillis: 10_000,
      // Idle connections never keep a process that is done (a CLI command) alive.
      allowExitOnIdle: true,
    });
    // A lock is held for a whole token call. Taken from `pool`, more companies refreshing at once than
    // it has slots would starve the rest (reads too), and pg-pool ends a wait for a slot after
    // connectionTimeoutMillis as "timeout exceeded when trying to connect", which reads as an
    // unreachable store, long before the lock's own deadline. So locks have a pool of their own with
    // no slot limit (the server's max_connections is the bound): each lock waits only for the lock,
    // and idle sessions are reused as in `pool`.
    this.lockPool = new pg.Pool({
      ...this.clientConfig(),
      max: Number.POSITIVE_INFINITY,
      idleTimeoutMillis: 10_000,
      allowExitOnIdle: true,
    });
    // An idle client whose server went away emits 'error' on the pool: without a handler that is a crash.
    for (const each of [this.pool, this.lockPool]) {
      each.on('error', () => this.log('PostgreSQL store: an idle connection was closed by the server.'));
    }
  }

  get warnings(): readonly string[] {
    return this.standing;
  }

  /** Connects and creates or migrates the schema (once; concurrent callers share it). */
  open(): Promise<void> {
    this.opened ??= this.migrate().catch((err: unknown) => {
      this.opened = null;
      throw toStoreError(err, this.url, 'opening the store');
    });
    return this.opened;
  }

  async list(): Promise<ConnectionId[]> {
    const { rows } = await this.run('listing connections', (c) =>
      c.query<{ id: string }>(`SELECT id FROM ${CONNECTIONS_TABLE} ORDER BY id`),
    );
    return rows.map((row) => row.id);
  }

  async load(id: ConnectionId): Promise<RecordLoadResult> {
    const found = this.rescues.find(id);
    if (!found) return loadResult(await this.readRow(id));
    if (this.held.has(id)) return this.loadWithRescue(id, found);
    // A rescued record is put back only under the lock, so no refresh races it (as the file store does).
    try {
      return await this.withLock(id, () => this.loadWithRescue(id, this.rescues.find(id)));
    } catch (err) {
      if (!(err instanceof StoreUnavailableError) || found.record === null) throw err;
      // The server is still away: the rescued chain is the newest this machine knows of. Nothing is
      // refreshed with it without the lock, which waits for the server (and compares revisions then).
      const line = `The latest tokens of connection "${id}" are in ${found.path} (PostgreSQL (${this.url.location}) could not be reached when they were issued, and still cannot be); they are put back in PostgreSQL once it answers.`;
      this.log(line);
      return { record: found.record, warnings: [line] };
    }
  }

  async save(record: ConnectionRecord): Promise<void> {
    const doing = `writing connection "${record.id}"`;
    const params = [...this.rows.encode(record, this.self), this.self];
    const sql = record.revision === 1 ? insertSql : updateSql;
    const onLockSession = this.held.has(record.id);
    let written: boolean;
    try {
      const { rowCount } = await this.run(doing, (c) => c.query(sql, params), record.id);
      written = rowCount === 1;
    } catch (err) {
      // The lock's session was lost (mid token call, a blip): Intuit may have retired the old refresh
      // token already, so the write is not given up. The revision condition alone guards it now.
      if (!onLockSession || !(err instanceof StoreUnavailableError)) throw err;
      written = await this.writeOnFreshSession(record, sql, params, err).catch((lost: unknown) => {
        // Still unreachable: the chain goes to a rescue file rather than dying with this process. A
        // row that moved on (a plain StoreError) is not rescued: what it holds is newer.
        throw lost instanceof StoreUnavailableError ? this.rescues.rescue(record, lost) : lost;
      });
    }
    if (written) {
      markRefreshStep('renamed');
      markRefreshStep('saved');
      if (onLockSession) this.dropSupersededRescue(record);
      return;
    }
    const { rows } = await this.run(`reading connection "${record.id}"`, (c) =>
      c.query<{ revision: string }>(`SELECT revision FROM ${CONNECTIONS_TABLE} WHERE id = $1`, [record.id]),
    );
    throw new StoreError(
      `The record of connection "${record.id}" in PostgreSQL (${this.url.location}) is at revision ${rows[0]?.revision ?? 'none'}, not ${record.revision - 1} as read: it changed since, or could not be read, and is not written over.`,
    );
  }

  async remove(id: ConnectionId): Promise<void> {
    await this.run(`removing connection "${id}"`, (c) => c.query(removeSql, [id, this.self]), id);
    // A chain this machine rescued for it goes with it (as the file store's removal takes its rescue files).
    this.rescues.clear(id);
  }

  async withLock<T>(id: ConnectionId, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
    const deadline = Date.now() + (options.waitMs ?? this.lockWaitMs);
    return this.serialLocally(id, deadline, async () => {
      await this.open();
      const held = await this.lockSession(id, deadline);
      this.held.set(id, held);
      try {
        return await fn();
      } finally {
        this.held.delete(id);
        await this.unlock(id, held);
      }
    });
  }

  watch(listener: (change: RecordChange) => void): () => void {
    this.listeners.add(listener);
    if (!this.listener && !this.closed) {
      this.listener = new ChangeListener({
        newClient: () => new pg.Client(this.clientConfig()),
        self: this.self,
        snapshot: async (client) => {
          const { rows } = await client.query<{ id: string; revision: string }>(
            `SELECT id, revision FROM ${CONNECTIONS_TABLE}`,
          );
          return rows.map((row) => ({ id: row.id, revision: Number(row.revision) }));
        },
        onChange: (change) => {
          for (const each of [...this.listeners]) each(change);
        },
        log: this.log,
      });
      this.listener.start();
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0 && this.listener) {
        const stopping = this.listener;
        this.listener = null;
        void stopping.stop();
      }
    };
  }

  /** Whether change notifications are being received right now (for tests and diagnostics). */
  get listening(): boolean {
    return this.listener?.listening ?? false;
  }

  beginRefresh(id: ConnectionId, note: RefreshInFlightNote): void {
    this.fireAndForget(id, 'noting a refresh in flight', (c) =>
      c.query(
        `INSERT INTO ${REFRESH_NOTES_TABLE} (id, started_at, refresh_token_sha256, updated_by)
         VALUES ($1, to_timestamp($2 / 1000.0), $3, $4)
         ON CONFLICT (id) DO UPDATE SET started_at = EXCLUDED.started_at,
           refresh_token_sha256 = EXCLUDED.refresh_token_sha256, updated_by = EXCLUDED.updated_by`,
        [id, note.startedAt, note.refreshTokenSha256, this.self],
      ),
    );
  }

  endRefresh(id: ConnectionId): void {
    this.fireAndForget(id, 'dropping the refresh note', (c) =>
      c.query(`DELETE FROM ${REFRESH_NOTES_TABLE} WHERE id = $1`, [id]),
    );
  }

  async interruptedRefresh(id: ConnectionId): Promise<RefreshInFlightNote | null> {
    const { rows } = await this.run(
      `reading connection "${id}"'s refresh note`,
      (c) =>
        c.query<{ started_at_ms: string; refresh_token_sha256: string }>(
          `SELECT (extract(epoch FROM started_at) * 1000)::bigint AS started_at_ms, refresh_token_sha256
           FROM ${REFRESH_NOTES_TABLE} WHERE id = $1`,
          [id],
        ),
      id,
    );
    const row = rows[0];
    if (!row || !/^[0-9a-f]{64}$/.test(row.refresh_token_sha256)) return null;
    return { startedAt: Number(row.started_at_ms), refreshTokenSha256: row.refresh_token_sha256 };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    await this.listener?.stop();
    this.listener = null;
    await Promise.all([this.pool.end(), this.lockPool.end()].map((ending) => ending.catch(() => undefined)));
  }

  private clientConfig(): pg.ClientConfig {
    return {
      host: this.url.host,
      port: this.url.port,
      user: this.url.user,
      password: this.url.password ?? undefined,
      database: this.url.database,
      ssl: this.url.ssl as pg.ClientConfig['ssl'],
      application_name: 'qb-token-desk',
      connectionTimeoutMillis: this.connectTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: 5000,
      // The server notices a vanished client (a machine that lost power, a cut network) within ~10 s
      // and ends its session, freeing any lock it held; a killed process's socket closes at once.
      options: '-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3',
    };
  }

  private async migrate(): Promise<void> {
    const client = await this.pool.connect();
    let broken = false;
    const onError = () => (broken = true);
    client.on('error', onError);
    try {
      const applied = await migrate(client);
      if (applied.length > 0) {
        this.log(`PostgreSQL store: schema migrated to version ${applied.at(-1)} on ${this.url.location}.`);
      }
    } catch (err) {
      broken = true;
      throw err;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  /**
   * Runs a query on the connection's lock session when this instance holds the lock (a write under a
   * lost lock fails rather than landing unprotected), else on a pooled client.
   */
  private async run<T>(
    doing: string,
    task: (client: Queryable) => Promise<T>,
    id?: ConnectionId,
  ): Promise<T> {
    const held = id === undefined ? undefined : this.held.get(id);
    try {
      if (held) return await task(held.client);
      await this.open();
      return await task(this.pool);
    } catch (err) {
      if (held) held.lost = true;
      throw toStoreError(err, this.url, doing);
    }
  }

  private fireAndForget(
    id: ConnectionId,
    doing: string,
    task: (client: Queryable) => Promise<unknown>,
  ): void {
    this.run(doing, task, id).catch((err: unknown) => {
      // Only a diagnosis aid: a refresh never fails for want of it.
      this.log(`PostgreSQL store: ${(err as Error).message}`);
    });
  }

  /** The row of connection `id` as it is now (on the lock's session when held). */
  private async readRow(id: ConnectionId): Promise<RowRead> {
    const { rows } = await this.run(
      `reading connection "${id}"`,
      (c) => c.query<ConnectionRow>(`${SELECT_ROW} WHERE id = $1`, [id]),
      id,
    );
    const row = rows[0];
    if (!row) return { record: null, warnings: [], present: false };
    const decoded = this.rows.decode(row);
    for (const warning of decoded.warnings) this.log(warning);
    if (decoded.record && decoded.wasPlaintext && this.encrypted) {
      await this.encryptInPlace(decoded.record);
    }
    return { record: decoded.record, warnings: decoded.warnings, present: true };
  }

  /**
   * Under the lock: the row, or the rescued record `found` put back into it when it is newer. An older
   * rescued copy is dropped; so is one written before the connection was removed (the removal stands,
   * as it does against a late write). A row that is missing with no removal noted (a first save that
   * never landed, a database recreated empty) takes the rescued record.
   */
  private async loadWithRescue(id: ConnectionId, found: FoundRescue | null): Promise<RecordLoadResult> {
    const current = await this.readRow(id);
    const warnings = [...current.warnings];
    if (!found) return loadResult(current);
    if (found.record === null) {
      warnings.push(
        `A copy of connection "${id}"'s tokens in ${found.path} could not be read (${found.problem}); it is left as it is.`,
      );
      return { record: current.record, warnings };
    }
    const rescued = found.record;
    if (current.present && current.record === null) {
      // The row's own warning says why it is left alone; the rescued copy waits with it.
      warnings.push(`The copy of connection "${id}"'s tokens in ${found.path} is left as it is until then.`);
      return { record: null, warnings };
    }
    let stale: string | null;
    if (current.record) {
      stale =
        current.record.revision >= rescued.revision
          ? `PostgreSQL holds revision ${current.record.revision}`
          : null;
    } else stale = await this.removedSince(id, rescued.revision);
    if (stale !== null) {
      this.rescues.clear(id);
      this.log(
        `PostgreSQL store: an older copy of connection "${id}"'s tokens (revision ${rescued.revision}) in ${found.path} was dropped: ${stale}.`,
      );
      return loadResult(current);
    }
    const params = [...this.rows.encode(rescued, this.self), this.self, current.record?.revision ?? 0];
    const { rowCount } = await this.run(
      `putting connection "${id}"'s rescued tokens back`,
      (c) => c.query(restoreSql, params),
      id,
    );
    // Not written: the row changed since it was read (a holder of this very lock elsewhere in this
    // process); the file stays for the next read to weigh again.
    if (rowCount !== 1) return loadResult(await this.readRow(id));
    this.rescues.clear(id);
    const line = `The latest tokens of connection "${id}" had been saved to ${found.path} because PostgreSQL (${this.url.location}) could not be reached; they are back in PostgreSQL (revision ${rescued.revision}).`;
    this.log(line);
    return { record: rescued, warnings: [...warnings, line] };
  }

  /** Why a rescued record at `revision` must not bring a missing row back, or null when it may. */
  private async removedSince(id: ConnectionId, revision: number): Promise<string | null> {
    const { rows } = await this.run(
      `reading connection "${id}"'s removal`,
      (c) => c.query<{ revision: string }>(removedRevisionSql, [id]),
      id,
    );
    const removedAt = rows[0] ? Number(rows[0].revision) : null;
    return removedAt !== null && removedAt >= revision
      ? `the connection was removed from PostgreSQL after they were saved`
      : null;
  }

  /** After a write of `record` under the lock: a rescued copy it supersedes is dropped. */
  private dropSupersededRescue(record: ConnectionRecord): void {
    const found = this.rescues.find(record.id);
    if (found?.record && found.record.revision <= record.revision) this.rescues.clear(record.id);
  }

  /** A plaintext chain found while QB_STORE_KEY is set is encrypted at once (same revision: nothing else changes). */
  private async encryptInPlace(record: ConnectionRecord): Promise<void> {
    try {
      const tokens = this.rows.tokensColumn(record);
      await this.run(
        `encrypting connection "${record.id}"`,
        (c) =>
          c.query(
            `UPDATE ${CONNECTIONS_TABLE} SET tokens = $1::jsonb, encrypted = true, updated_at = now()
              WHERE id = $2 AND revision = $3 AND NOT encrypted`,
            [tokens, record.id, record.revision],
          ),
        record.id,
      );
    } catch (err) {
      this.log(`PostgreSQL store: ${(err as Error).message}`);
    }
  }

  /**
   * The write of `record` on pooled connections after the lock's session failed, tried again for up to
   * saveRetryMs while the server cannot be reached. True when the row now holds it: written now, or by
   * the lost session itself (its commit landed, only the answer was lost). False when the row moved on.
   */
  private async writeOnFreshSession(
    record: ConnectionRecord,
    sql: string,
    params: unknown[],
    first: StoreError,
  ): Promise<boolean> {
    const doing = `writing connection "${record.id}" after its lock's session was lost`;
    this.log(
      `PostgreSQL store: ${first.message}; writing it again on a fresh connection (only on top of revision ${record.revision - 1}).`,
    );
    const deadline = Date.now() + this.saveRetryMs;
    let delay = 100;
    for (;;) {
      try {
        await this.open();
        const { rowCount } = await this.pool.query(sql, params);
        if (rowCount === 1) {
          this.log(`PostgreSQL store: connection "${record.id}" saved on a fresh connection.`);
          return true;
        }
        return await this.holdsChain(record);
      } catch (err) {
        const error = toStoreError(err, this.url, doing);
        if (!(error instanceof StoreUnavailableError) || Date.now() + delay > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(1000, delay * 2);
      }
    }
  }

  /** Whether the row is at `record`'s revision with its refresh token. */
  private async holdsChain(record: ConnectionRecord): Promise<boolean> {
    const { rows } = await this.pool.query<ConnectionRow>(`${SELECT_ROW} WHERE id = $1`, [record.id]);
    const row = rows[0];
    if (!row || Number(row.revision) !== record.revision) return false;
    const decoded = this.rows.decode(row);
    return decoded.record?.tokens?.refreshToken === record.tokens?.refreshToken;
  }

  private async serialLocally<T>(id: ConnectionId, deadline: number, task: () => Promise<T>): Promise<T> {
    const previous = this.localTail.get(id) ?? Promise.resolve();
    let release = () => {};
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.localTail.set(id, tail);
    try {
      await waitUntil(previous, deadline, () => this.lockTimeout(id));
      return await task();
    } finally {
      release();
      if (this.localTail.get(id) === tail) this.localTail.delete(id);
    }
  }

  private lockTimeout(id: ConnectionId): StoreLockTimeoutError {
    return new StoreLockTimeoutError(
      `Another instance held connection "${id}"'s lock in PostgreSQL (${this.url.location}) too long; gave up waiting. Try again.`,
    );
  }

  /**
   * A session of its own (from the lock pool) holding the connection's advisory lock, or
   * StoreLockTimeoutError at the deadline.
   */
  private async lockSession(id: ConnectionId, deadline: number): Promise<HeldLock> {
    let client: pg.PoolClient;
    try {
      client = await this.lockPool.connect();
    } catch (err) {
      throw toStoreError(err, this.url, `locking connection "${id}"`);
    }
    const held: HeldLock = { client, lost: false, onError: () => (held.lost = true) };
    client.on('error', held.onError);
    const waitMs = Math.max(1, deadline - Date.now());
    try {
      // One round trip; SET is transactional, so a timed-out wait leaves lock_timeout as it was.
      await client.query(
        `SET lock_timeout = ${Math.ceil(waitMs)}; SELECT pg_advisory_lock(${lockKey(id)}); RESET lock_timeout`,
      );
      return held;
    } catch (err) {
      const error = toStoreError(err, this.url, `locking connection "${id}"`);
      this.releaseSession(held, !(error instanceof StoreLockTimeoutError));
      throw error instanceof StoreLockTimeoutError ? this.lockTimeout(id) : error;
    }
  }

  private async unlock(id: ConnectionId, held: HeldLock): Promise<void> {
    if (!held.lost) {
      try {
        await held.client.query(`SELECT pg_advisory_unlock(${lockKey(id)})`);
      } catch {
        held.lost = true;
      }
    }
    // A session that broke, or is suspect, is ended: that frees the lock for certain.
    this.releaseSession(held, held.lost);
  }

  private releaseSession(held: HeldLock, destroy: boolean): void {
    held.client.off('error', held.onError);
    held.client.release(destroy);
  }
}

/** The connection's advisory lock key: 64 bits of a hash of its id, in this app's own namespace. */
export function lockKey(id: ConnectionId): string {
  return createHash('sha256').update(`qb-token-desk:connection:${id}`).digest().readBigInt64BE(0).toString();
}

function loadResult(read: RowRead): RecordLoadResult {
  return { record: read.record, warnings: read.warnings };
}

async function waitUntil(promise: Promise<void>, deadline: number, timeout: () => Error): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(timeout()), Math.max(0, deadline - Date.now()));
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
