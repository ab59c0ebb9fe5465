// The seam between the engine and where connections live. One interface, three implementations:
// the file store (the embedded default: one machine, atomic files + a file lock), the PostgreSQL
// store (QB_STORE_URL: many machines, a row per connection, a PostgreSQL lock, LISTEN/NOTIFY) and
// the desktop store (electron-store + safeStorage). The engine never branches on which one it has.
//
// What a store holds per connection is the connection's *record*: the token chain and what is true
// about the connection's health (last refresh outcome, whether Intuit rejected the refresh token,
// recent history). Every process and machine computes TokenStatus from that shared record, so they
// all tell the same truth (see connection-record.ts and token-status.ts).
import type { ConnectionId, StoreKind } from '../shared/contract';
import type { ConnectionRecord } from './connection-record';
import type { RefreshInFlightNote } from './token-store';

export interface RecordLoadResult {
  /** Null when the store has no record for this connection. */
  record: ConnectionRecord | null;
  /**
   * Plain sentences for the status about what was found (a record that could not be parsed and was
   * preserved elsewhere, an upgrade from an older layout). Never a token value.
   */
  warnings: string[];
}

/** Static facts about a store, for TokenStatus.store (reachability is tracked by the engine). */
export interface ConnectionStoreDescription {
  kind: StoreKind;
  /** A file path, or `host:port/database` (never the password). */
  location: string;
  /** Token values are encrypted at rest. */
  encrypted: boolean;
}

/** A change another process (or machine) made: re-read `id`. Never carries a token value. */
export interface RecordChange {
  id: ConnectionId;
  revision: number;
}

export interface LockOptions {
  /** How long to wait for another holder before failing with StoreLockTimeoutError (default 30 s). */
  waitMs?: number;
}

/**
 * Errors a store throws (all in errors.ts):
 * - StoreUnavailableError: the store cannot be reached right now (PostgreSQL down, a lost
 *   connection). Transient: the engine keeps serving a still-valid access token from memory, runs
 *   no refresh without the lock, reports `store.reachable: false`, and tries again by itself.
 * - StoreLockTimeoutError: another holder kept the lock past LockOptions.waitMs. Transient.
 * - StoreKeyError: a record could not be decrypted (QB_STORE_KEY wrong or missing). Not corruption:
 *   the record stays as it is, nothing is refreshed, the message names QB_STORE_KEY (CLI exit 2).
 * - StoreConfigError: the store's own configuration is unusable (a malformed QB_STORE_URL, a
 *   data directory others can write to, an unwritable QB_DATA_DIR). Names the variable; CLI exit 2.
 * A record that cannot be parsed is never overwritten silently: the store preserves it (moves the
 * file aside, or keeps the row) and reports it in RecordLoadResult.warnings.
 */
export interface ConnectionStore {
  readonly description: ConnectionStoreDescription;
  /** Standing warnings about the store itself ("tokens stored unencrypted: set QB_STORE_KEY"). */
  readonly warnings: readonly string[];

  /**
   * Prepares the store (creates the data directory, connects, creates or migrates the schema).
   * Idempotent and safe when several processes open the same store at once.
   */
  open(): Promise<void>;

  /** The connections the store holds records for. */
  list(): Promise<ConnectionId[]>;

  /** Reads one connection's record. */
  load(id: ConnectionId): Promise<RecordLoadResult>;

  /**
   * Writes a record (keyed by `record.id`), durable before the promise resolves. The engine calls
   * it only while holding `withLock(record.id)`, with `record.revision` one above the revision it
   * read under that lock. A file-backed store must complete the write and rename synchronously,
   * before save() returns its promise: a save started the moment Intuit's answer arrives then puts
   * the rotated refresh token in place with no event-loop turn for a kill to land in.
   */
  save(record: ConnectionRecord): Promise<void>;

  /** Drops a connection's record (Disconnect, `connections remove`). */
  remove(id: ConnectionId): Promise<void>;

  /**
   * Runs `fn` while holding the connection's lock, shared by every process and machine using the
   * same store. A holder that dies (kill -9, lost connection) releases it within seconds.
   */
  withLock<T>(id: ConnectionId, fn: () => Promise<T>, options?: LockOptions): Promise<T>;

  /**
   * Subscribes to records written by other processes. Returns the unsubscribe function. A store
   * that cannot notify (or lost its notification channel) may call the listener late or not at
   * all; the engine also re-reads before every refresh.
   */
  watch(listener: (change: RecordChange) => void): () => void;

  /**
   * Optional: notes, before a token call, that a refresh with this refresh token is in flight;
   * dropped by `endRefresh` once its outcome is handled. A process stopped in between leaves the
   * note, so the next refresh can tell the user why the stored token is refused. The engine reads it
   * (`interruptedRefresh`) only under the connection's lock, where no live process is mid-refresh; a
   * failure to read it must not fail the refresh.
   */
  beginRefresh?(id: ConnectionId, note: RefreshInFlightNote): void;
  endRefresh?(id: ConnectionId): void;
  interruptedRefresh?(id: ConnectionId): Promise<RefreshInFlightNote | null>;

  /** Releases pools, watchers and file handles. */
  close(): Promise<void>;
}
