// The connection locks of the PostgreSQL store: a session-level advisory lock on the connection's key,
// taken on a session of its own from the lock pool (pg-pools.ts), so a holder that dies (kill -9, a
// lost connection) frees it with its session and the next instance proceeds at once, with no
// stale-lock wait. Callers in one process queue here first, so each process has one waiter on the
// server's lock. Waits are bounded: the in-process queue and the server's lock_timeout share one
// deadline, past which the caller gets StoreLockTimeoutError.
// While a lock is held, the store's queries for that connection run on its session (run()), so a
// write under a lock that was lost fails rather than landing unprotected.
import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { ConnectionId } from '../../shared/contract';
import { StoreLockTimeoutError } from '../errors';
import { toStoreError } from './pg-errors';
import type { PgPools, Queryable } from './pg-pools';
import type { StoreUrl } from './store-url';

interface HeldLock {
  client: pg.PoolClient;
  /** Set when the session broke while held: the lock is gone with it. */
  lost: boolean;
  /** The client's 'error' handler while checked out (a lost connection must not crash the process). */
  onError: () => void;
}

/** Runs `task` on connection `id`'s lock session when held, else on a pooled client; `doing` names it in errors. */
export type RunQuery = <T>(
  doing: string,
  task: (client: Queryable) => Promise<T>,
  id?: ConnectionId,
) => Promise<T>;

export class LockSessions {
  private readonly held = new Map<ConnectionId, HeldLock>();
  /** In-process queue per connection: one waiter per process on the server's lock. */
  private readonly localTail = new Map<ConnectionId, Promise<void>>();

  constructor(
    private readonly pools: PgPools,
    private readonly url: StoreUrl,
  ) {}

  /** Whether this instance holds connection `id`'s lock right now. */
  holds(id: ConnectionId): boolean {
    return this.held.has(id);
  }

  /** Runs `fn` holding connection `id`'s lock, waiting for it until `waitMs` from now at most. */
  async withLock<T>(id: ConnectionId, waitMs: number, fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + waitMs;
    return this.serialLocally(id, deadline, async () => {
      await this.pools.open();
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

  /**
   * Runs a query on the connection's lock session when this instance holds the lock (a write under a
   * lost lock fails rather than landing unprotected), else on a pooled client.
   */
  readonly run: RunQuery = async (doing, task, id) => {
    const held = id === undefined ? undefined : this.held.get(id);
    try {
      if (held) return await task(held.client);
      await this.pools.open();
      return await task(this.pools.pool);
    } catch (err) {
      if (held) held.lost = true;
      throw toStoreError(err, this.url, doing);
    }
  };

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
      client = await this.pools.lockPool.connect();
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
