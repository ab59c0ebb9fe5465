// The PostgreSQL store (QB_STORE_URL): every desk, headless server, CLI and app instance on every
// machine that points at the same database shares one record per connection and refreshes one at a
// time.
// - The lock is a session-level advisory lock on the connection's key, taken on a client of its own:
//   a holder that dies (kill -9, a lost connection) frees it with its session, so the next instance
//   proceeds at once, with no stale-lock wait. Waits are bounded (lock_timeout).
// - Under the lock, reads and writes go through the lock's own session: if that session is lost, the
//   write fails (the engine keeps the new chain in memory and writes it on reconnect) instead of
//   landing without the lock. A write is also conditional on the revision read under the lock, so a
//   row changed by someone else, or one that could not be read, is never written over.
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
import { StoreError, StoreLockTimeoutError } from '../errors';
import type { LogFn } from '../log';
import { markRefreshStep } from '../refresh-markers';
import { StoreCipher } from '../store-crypto';
import type { RefreshInFlightNote } from '../token-store';
import { ChangeListener } from './change-listener';
import { toStoreError } from './pg-errors';
import { RecordRowCodec, SELECT_ROW, UPSERT_COLUMNS, type ConnectionRow } from './record-row';
import { CHANGES_CHANNEL, CONNECTIONS_TABLE, migrate, REFRESH_NOTES_TABLE } from './schema';
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
  /** Pool size (default 4: one LISTEN connection comes on top). */
  poolSize?: number;
  /** For a profile that had to be reset (default sandbox). */
  environment?: QbEnvironment;
}

interface HeldLock {
  client: pg.PoolClient;
  /** Set when the session broke while held: the lock is gone with it. */
  lost: boolean;
  /** The client's 'error' handler while checked out (a lost connection must not crash the process). */
  onError: () => void;
}

const upsertSql = (() => {
  const columns = UPSERT_COLUMNS.join(', ');
  const values = UPSERT_COLUMNS.map((_, i) => `$${i + 1}${i === 3 || i === 4 || i === 8 ? '::jsonb' : ''}`);
  const updates = UPSERT_COLUMNS.filter((c) => c !== 'id')
    .map((c) => `${c} = EXCLUDED.${c}`)
    .concat('updated_at = now()')
    .join(', ');
  const by = UPSERT_COLUMNS.length + 1;
  return `WITH written AS (
      INSERT INTO ${CONNECTIONS_TABLE} AS c (${columns}) VALUES (${values.join(', ')})
      ON CONFLICT (id) DO UPDATE SET ${updates} WHERE c.revision = EXCLUDED.revision - 1
      RETURNING id, revision)
    SELECT pg_notify('${CHANGES_CHANNEL}', json_build_object('id', id, 'revision', revision, 'by', $${by}::text)::text)
      FROM written`;
})();

export class PgConnectionStore implements ConnectionStore {
  readonly description: ConnectionStoreDescription;
  private readonly url: StoreUrl;
  private readonly pool: pg.Pool;
  private readonly encrypted: boolean;
  private readonly rows: RecordRowCodec;
  private readonly log: LogFn;
  private readonly lockWaitMs: number;
  private readonly connectTimeoutMs: number;
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
    this.rows = new RecordRowCodec(
      options.storeKey ? new StoreCipher(options.storeKey) : null,
      this.url.location,
      options.environment ?? 'sandbox',
    );
    this.log = options.log ?? (() => undefined);
    this.lockWaitMs = options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5000;
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
    // An idle client whose server went away emits 'error' on the pool: without a handler that is a crash.
    this.pool.on('error', () => this.log('PostgreSQL store: an idle connection was closed by the server.'));
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
    const { rows } = await this.run(
      `reading connection "${id}"`,
      (c) => c.query<ConnectionRow>(`${SELECT_ROW} WHERE id = $1`, [id]),
      id,
    );
    const row = rows[0];
    if (!row) return { record: null, warnings: [] };
    const decoded = this.rows.decode(row);
    for (const warning of decoded.warnings) this.log(warning);
    if (decoded.record && decoded.wasPlaintext && this.encrypted) {
      await this.encryptInPlace(decoded.record);
    }
    return { record: decoded.record, warnings: decoded.warnings };
  }

  async save(record: ConnectionRecord): Promise<void> {
    const values = this.rows.encode(record, this.self);
    const { rowCount } = await this.run(
      `writing connection "${record.id}"`,
      (c) => c.query(upsertSql, [...values, this.self]),
      record.id,
    );
    if (rowCount === 1) {
      markRefreshStep('renamed');
      markRefreshStep('saved');
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
    await this.run(
      `removing connection "${id}"`,
      async (c) => {
        await c.query(
          `WITH gone AS (DELETE FROM ${CONNECTIONS_TABLE} WHERE id = $1 RETURNING id, revision)
           SELECT pg_notify('${CHANGES_CHANNEL}', json_build_object('id', id, 'revision', revision + 1, 'by', $2::text)::text)
             FROM gone`,
          [id, this.self],
        );
        await c.query(`DELETE FROM ${REFRESH_NOTES_TABLE} WHERE id = $1`, [id]);
      },
      id,
    );
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
    await this.pool.end().catch(() => undefined);
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

  /** A pooled client holding the connection's advisory lock, or StoreLockTimeoutError at the deadline. */
  private async lockSession(id: ConnectionId, deadline: number): Promise<HeldLock> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
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
