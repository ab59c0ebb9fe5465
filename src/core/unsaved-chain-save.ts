// What this process could not write yet, written under the connection's lock: a chain whose save
// failed (it is newer than the store's, and is saved before anything is handed out) and the health
// changes still pending. Used before a caller gets a token and when the store answers again.
import { SaveFailed } from './connection-session';
import type { EngineContext } from './engine-context';

export async function saveUnsavedChain(ctx: EngineContext): Promise<void> {
  const { session, inUse } = ctx;
  if (!inUse.unsaved && session.pending.length === 0) return;
  try {
    await ctx.underLock(async (latest) => {
      // Read under the lock: a refresh that held it may have saved this chain and rotated past it,
      // and the chain read before waiting would overwrite the newer refresh token in the store.
      if (inUse.unsaved && inUse.chain) {
        await session.write(latest, inUse.chain, []);
        inUse.unsaved = false;
        inUse.stored = true;
        ctx.store.endRefresh?.(ctx.connectionId);
      } else if (session.pending.length > 0) {
        await session.write(
          latest,
          inUse.stored ? (latest?.tokens ?? inUse.chain) : (latest?.tokens ?? null),
          [],
        );
      }
    });
  } catch (err) {
    throw err instanceof SaveFailed ? err.toStoreError() : err;
  }
}
