// Test helper: a ConnectionStore that forwards to a real one, with some methods replaced (to watch
// the order of writes, or to make writes fail as a full disk does).
import type { ConnectionStore } from '../connection-store';
import { StoreUnavailableError } from '../errors';

export function wrapStore(inner: ConnectionStore, overrides: Partial<ConnectionStore>): ConnectionStore {
  return {
    get description() {
      return inner.description;
    },
    get warnings() {
      return inner.warnings;
    },
    open: () => inner.open(),
    list: () => inner.list(),
    load: (id) => inner.load(id),
    save: (record) => inner.save(record),
    remove: (id) => inner.remove(id),
    withLock: (id, fn, options) => inner.withLock(id, fn, options),
    watch: (listener) => inner.watch(listener),
    beginRefresh: (id, note) => inner.beginRefresh?.(id, note),
    endRefresh: (id) => inner.endRefresh?.(id),
    interruptedRefresh: (id) => inner.interruptedRefresh?.(id) ?? Promise.resolve(null),
    close: () => inner.close(),
    ...overrides,
  };
}

/** Saves that fail while `failures.remaining` > 0, as a full disk makes them (ENOSPC). */
export function failingSaves(inner: ConnectionStore, failures: { remaining: number }): ConnectionStore {
  return wrapStore(inner, {
    save: (record) => {
      if (failures.remaining > 0) {
        failures.remaining -= 1;
        return Promise.reject(
          Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }),
        );
      }
      return inner.save(record);
    },
  });
}

/** The store behind a switch: while `down`, every call fails as a PostgreSQL that went away does. */
export function switchableStore(inner: ConnectionStore, state: { down: boolean }): ConnectionStore {
  const unavailable = () =>
    new StoreUnavailableError('the database at db.example:5432/qb does not answer (ECONNREFUSED)');
  const guard = <T>(run: () => Promise<T>): Promise<T> =>
    state.down ? Promise.reject(unavailable()) : run();
  return wrapStore(inner, {
    open: () => guard(() => inner.open()),
    load: (id) => guard(() => inner.load(id)),
    save: (record) => guard(() => inner.save(record)),
    withLock: (id, fn, options) => guard(() => inner.withLock(id, fn, options)),
  });
}

/**
 * Reads that can be held after they have read, so a newer change lands while an older read is still
 * in flight; counts the reads done and the revisions the watch reported.
 */
export function holdableReads(inner: ConnectionStore): {
  store: ConnectionStore;
  readsDone: () => number;
  changes: number[];
  hold: () => void;
  release: () => void;
} {
  let gate: Promise<void> | null = null;
  let openGate = () => {};
  let readsDone = 0;
  const changes: number[] = [];
  const store = wrapStore(inner, {
    load: async (id) => {
      const result = await inner.load(id);
      readsDone += 1;
      if (gate) await gate;
      return result;
    },
    watch: (listener) =>
      inner.watch((change) => {
        changes.push(change.revision);
        listener(change);
      }),
  });
  return {
    store,
    readsDone: () => readsDone,
    changes,
    hold: () => {
      gate = new Promise<void>((resolve) => (openGate = resolve));
    },
    release: () => {
      gate = null;
      openGate();
    },
  };
}

/**
 * Saves that can be held before they reach the store: a refresh whose answer is in waits at its save,
 * so it stays in flight (its refresh-in-flight note left) while the test lets another process act.
 */
export function holdableSaves(): {
  /** The store whose saves are held (wrap one store per gate). */
  wrap: (inner: ConnectionStore) => ConnectionStore;
  /** The next saves wait, before they reach the store, until release(). */
  hold: () => void;
  /** Resolves once a save is waiting at the hold. */
  saveAsked: () => Promise<void>;
  release: () => void;
} {
  let gate: Promise<void> | null = null;
  let openGate = () => {};
  let asked: Promise<void> = Promise.resolve();
  let signalAsked = () => {};
  return {
    wrap: (inner) =>
      wrapStore(inner, {
        save: async (record) => {
          if (gate) {
            signalAsked();
            await gate;
          }
          return inner.save(record);
        },
      }),
    hold: () => {
      gate = new Promise<void>((resolve) => (openGate = resolve));
      asked = new Promise<void>((resolve) => (signalAsked = resolve));
    },
    saveAsked: () => asked,
    release: () => {
      gate = null;
      openGate();
    },
  };
}
