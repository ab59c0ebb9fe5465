// Test helper: a connection's lock held by another holder (a second store on the same directory or
// database, as another process would be) until the test lets it go.
import type { ConnectionStore } from '../connection-store';

export interface HeldLock {
  /** Lets the lock go and resolves once the holder is out of it. */
  release(): Promise<void>;
}

/** Resolves once `store` holds connection `id`'s lock; it keeps it until release(). */
export async function holdLock(store: Pick<ConnectionStore, 'withLock'>, id: string): Promise<HeldLock> {
  let letGo: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (letGo = resolve));
  let entered: () => void = () => undefined;
  const inside = new Promise<void>((resolve) => (entered = resolve));
  const holding = store.withLock(id, async () => {
    entered();
    await released;
  });
  // A holder that could not take the lock fails the wait instead of hanging it.
  await Promise.race([inside, holding]);
  return {
    async release() {
      letGo();
      await holding;
    },
  };
}
