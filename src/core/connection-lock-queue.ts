// The in-process queue in front of a store's cross-process lock (refresh-lock.ts), one per
// connection: that lock is not re-entrant and polls, so two callers in one process would otherwise
// poll against each other (and a second withLock from the same process would wait out the first's
// lockWaitMs). Shared by the file store and the desktop store.
import type { ConnectionId } from '../shared/contract';

export class ConnectionLockQueue {
  private readonly tails = new Map<ConnectionId, Promise<unknown>>();

  /** Runs `take` (which takes the cross-process lock and runs the caller's fn) once the earlier callers for `id` are done. */
  run<T>(id: ConnectionId, take: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(id) ?? Promise.resolve();
    const run = previous.then(take);
    // A failed holder must not stop the ones behind it; its error goes to its own caller.
    const tail = run.catch(() => undefined);
    this.tails.set(id, tail);
    void tail.then(() => {
      if (this.tails.get(id) === tail) this.tails.delete(id);
    });
    return run;
  }
}
