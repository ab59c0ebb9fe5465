// The PostgreSQL store (QB_STORE_URL): every desk, headless server, CLI and app instance on every
// machine that points at the same database shares one record per connection and refreshes one at a
// time. This class composes the pieces, each in a module of its own:
// - Connections (pg-pools.ts): a pool for reads and writes outside a lock, and a pool of lock sessions
//   with no slot limit, so any number of companies can refresh at once and each waits only for its
//   lock. Opening connects and creates or migrates the schema (schema.ts) once.
// - The lock (lock-sessions.ts) is a session-level advisory lock on the connection's key, taken on a
//   session of its own: a holder that dies (kill -9, a lost connection) frees it with its session, so
//   the next instance proceeds at once, with no stale-lock wait. Waits are bounded (lock_timeout, and
//   the same deadline for callers queued in this process).
// - Under the lock, reads and writes go through the lock's own session (connection-rows.ts). Every
//   write is conditional on the revision read under the lock (record-writes.ts), so a row changed by
//   someone else, one that could not be read, or one removed since is never written over. That
//   condition is what lets a write whose lock session was lost (during the token call, a database
//   blip) go on over fresh pooled connections for a short while (fresh-session-write.ts): Intuit has
//   already retired the old refresh token, and a process about to exit (the CLI) would otherwise lose
//   the new one.
// - A write under the lock that still cannot reach the server after that goes to a rescue file
//   (pg-save-rescue.ts; StoreSaveRescuedError names it). load() puts a rescued record back into its
//   row under the lock when it is newer than the row, and drops it when it is not
//   (pg-rescue-restore.ts). While the server cannot be reached, load() serves it with a warning. (The
//   engine opens the store before it loads: a process started during the outage starts as with any
//   unreachable store, and its first read once the server answers puts the chain back.)
//   A connection removed (removed_connections notes at which revision) is not brought back by a rescue
//   file written before the removal.
// - Every write NOTIFYs the store's channel in the same transaction; watch() LISTENs (change-watch.ts).
// - A refresh in flight is noted in refresh_notes (refresh-notes.ts) for the next one to diagnose.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { ConnectionId, QbEnvironment } from '../../shared/contract';
import type { ConnectionRecord } from '../connection-record';
import type {
  ConnectionStore,
  ConnectionStoreDescription,
  LockOptions,
  RecordChange,
  RecordLoadResult,
} from '../connection-store';
import { StoreUnavailableError } from '../errors';
import type { LogFn } from '../log';
import { markRefreshStep } from '../refresh-markers';
import { StoreCipher } from '../store-crypto';
import type { RefreshInFlightNote } from '../token-store';
import { ChangeWatch } from './change-watch';
import { ConnectionRows, loadResult } from './connection-rows';
import { FreshSessionWriter } from './fresh-session-write';
import { LockSessions } from './lock-sessions';
import { PgPools } from './pg-pools';
import { PgRescueRestore } from './pg-rescue-restore';
import { PgSaveRescue } from './pg-save-rescue';
import { RecordRowCodec } from './record-row';
import { RefreshNotes } from './refresh-notes';
import { parseStoreUrl, plaintextTransportWarning, type StoreUrl } from './store-url';

export const DEFAULT_LOCK_WAIT_MS = 30_000;

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

export class PgConnectionStore implements ConnectionStore {
  readonly description: ConnectionStoreDescription;
  private readonly url: StoreUrl;
  private readonly pools: PgPools;
  private readonly locks: LockSessions;
  private readonly rows: ConnectionRows;
  private readonly freshSession: FreshSessionWriter;
  private readonly rescues: PgSaveRescue;
  private readonly restore: PgRescueRestore;
  private readonly notes: RefreshNotes;
  private readonly changes: ChangeWatch;
  private readonly log: LogFn;
  private readonly lockWaitMs: number;
  private readonly standing: string[] = [];
  /** Names this instance in notifications and in `updated_by`. */
  private readonly self = `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
  private closed = false;

  constructor(options: PgConnectionStoreOptions) {
    this.url = parseStoreUrl(options.url);
    const cipher = options.storeKey ? new StoreCipher(options.storeKey) : null;
    const codec = new RecordRowCodec(cipher, this.url.location, options.environment ?? 'sandbox');
    this.log = options.log ?? (() => undefined);
    this.rescues = new PgSaveRescue(this.url.location, cipher, this.log, options.rescueDirs);
    this.lockWaitMs = options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS;
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
    this.pools = new PgPools(this.url, this.log, {
      connectTimeoutMs: options.connectTimeoutMs ?? 5000,
      poolSize: options.poolSize ?? 4,
    });
    this.locks = new LockSessions(this.pools, this.url);
    this.rows = new ConnectionRows({
      run: this.locks.run,
      codec,
      encrypted: options.storeKey !== null,
      self: this.self,
      url: this.url,
      log: this.log,
    });
    this.freshSession = new FreshSessionWriter({
      pools: this.pools,
      codec,
      url: this.url,
      log: this.log,
      retryMs: options.saveRetryMs ?? 5000,
    });
    this.restore = new PgRescueRestore(this.rows, this.rescues, this.url, this.log);
    this.notes = new RefreshNotes(this.locks.run, this.self, this.log);
    this.changes = new ChangeWatch(this.pools, this.self, this.log);
  }

  get warnings(): readonly string[] {
    return this.standing;
  }

  /** Connects and creates or migrates the schema (once; concurrent callers share it). */
  open(): Promise<void> {
    return this.pools.open();
  }

  list(): Promise<ConnectionId[]> {
    return this.rows.list();
  }

  async load(id: ConnectionId): Promise<RecordLoadResult> {
    const found = this.rescues.find(id);
    if (!found) return loadResult(await this.rows.read(id));
    if (this.locks.holds(id)) return this.restore.load(id, found);
    // A rescued record is put back only under the lock, so no refresh races it (as the file store does).
    try {
      return await this.withLock(id, () => this.restore.load(id, this.rescues.find(id)));
    } catch (err) {
      if (!(err instanceof StoreUnavailableError) || found.record === null) throw err;
      return this.restore.servedWhileAway(id, found);
    }
  }

  async save(record: ConnectionRecord): Promise<void> {
    const write = this.rows.writeOf(record);
    const onLockSession = this.locks.holds(record.id);
    let written: boolean;
    try {
      written = await this.rows.write(record.id, write);
    } catch (err) {
      // The lock's session was lost (mid token call, a blip): Intuit may have retired the old refresh
      // token already, so the write is not given up. The revision condition alone guards it now.
      if (!onLockSession || !(err instanceof StoreUnavailableError)) throw err;
      written = await this.freshSession.write(record, write, err).catch((lost: unknown) => {
        // Still unreachable: the chain goes to a rescue file rather than dying with this process. A
        // row that moved on (a plain StoreError) is not rescued: what it holds is newer.
        throw lost instanceof StoreUnavailableError ? this.rescues.rescue(record, lost) : lost;
      });
    }
    if (written) {
      markRefreshStep('renamed');
      markRefreshStep('saved');
      if (onLockSession) this.restore.dropSuperseded(record);
      return;
    }
    throw await this.rows.notWrittenOver(record);
  }

  async remove(id: ConnectionId): Promise<void> {
    await this.rows.remove(id);
    // A chain this machine rescued for it goes with it (as the file store's removal takes its rescue files).
    this.rescues.clear(id);
  }

  withLock<T>(id: ConnectionId, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
    return this.locks.withLock(id, options.waitMs ?? this.lockWaitMs, fn);
  }

  watch(listener: (change: RecordChange) => void): () => void {
    return this.changes.watch(listener);
  }

  /** Whether change notifications are being received right now (for tests and diagnostics). */
  get listening(): boolean {
    return this.changes.listening;
  }

  beginRefresh(id: ConnectionId, note: RefreshInFlightNote): void {
    this.notes.begin(id, note);
  }

  endRefresh(id: ConnectionId): void {
    this.notes.end(id);
  }

  interruptedRefresh(id: ConnectionId): Promise<RefreshInFlightNote | null> {
    return this.notes.interrupted(id);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.changes.close();
    await this.pools.end();
  }
}
