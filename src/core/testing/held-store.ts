// Test helper: a ConnectionStore that forwards to a real one, where a test can hold (1) a
// connection's lock before this process asks for it, so another process's change lands first, and
// (2) the change feed, so this process has not heard of that change yet when it takes the lock (a
// store may notify late or not at all: connection-store.ts). Held changes are delivered in order on
// release.
import type { ConnectionId } from '../../shared/contract';
import type { ConnectionStore, RecordChange } from '../connection-store';
import { wrapStore } from './store-wrapper';

export interface HeldStore {
  store: ConnectionStore;
  /** The next withLock(id) waits, before it asks the real store, until releaseLock(). */
  holdLock(id: ConnectionId): void;
  /** Resolves once a withLock(id) is waiting at the hold. */
  lockAsked(): Promise<void>;
  releaseLock(): void;
  /** Changes the real store reports are kept back until releaseChanges(). */
  holdChanges(): void;
  releaseChanges(): void;
}

export function heldStore(inner: ConnectionStore): HeldStore {
  let heldId: ConnectionId | null = null;
  let gate: Promise<void> = Promise.resolve();
  let openGate = () => {};
  let asked: Promise<void> = Promise.resolve();
  let signalAsked = () => {};
  let holdingChanges = false;
  const queued: (() => void)[] = [];
  const store = wrapStore(inner, {
    withLock: async (id, fn, options) => {
      if (id === heldId) {
        heldId = null;
        signalAsked();
        await gate;
      }
      return inner.withLock(id, fn, options);
    },
    watch: (listener) =>
      inner.watch((change: RecordChange) => {
        if (holdingChanges) queued.push(() => listener(change));
        else listener(change);
      }),
  });
  return {
    store,
    holdLock(id) {
      heldId = id;
      gate = new Promise<void>((resolve) => (openGate = resolve));
      asked = new Promise<void>((resolve) => (signalAsked = resolve));
    },
    lockAsked: () => asked,
    releaseLock: () => openGate(),
    holdChanges() {
      holdingChanges = true;
    },
    releaseChanges() {
      holdingChanges = false;
      for (const deliver of queued.splice(0)) deliver();
    },
  };
}
