// Taking in what the store holds, outside the lock: at start, which chain to use (DESIGN rule 6: the
// stored one, or QB_REFRESH_TOKEN when it changed since the stored chain started from it); while
// running, what other processes write (the store's watch); and after the store failed, what it holds
// once it answers again. The shared health always wins; another process's chain is taken when the start
// rule would take it (startingChain says 'stored') and ours is not newer (an unsaved chain is).
import { previewToken } from '../shared/preview';
import type { ConnectionRecord } from './connection-record';
import { isTransientStoreError } from './connection-session';
import type { EngineContext } from './engine-context';
import { StoreError } from './errors';
import { chainFromEnvironment, sameChain, startingChain } from './token-chain';

interface RecordSyncHooks {
  /** The engine was disposed: nothing more is taken in. */
  closed(): boolean;
  /** Something was taken in: reschedule and tell the listeners. */
  changed(): void;
  /** Writes what could not be written (an unsaved chain, pending changes) under the lock. */
  persistUnsaved(): Promise<void>;
}

export class RecordSync {
  /** The store has been read once (the start's decision, rule 6, is made). */
  private loaded = false;
  private unwatch: (() => void) | null = null;
  private rereading: Promise<void> | null = null;
  /** A change came in while `rereading` was in flight: read once more when it ends. */
  private rereadAgain = false;

  constructor(
    private readonly ctx: EngineContext,
    private readonly hooks: RecordSyncHooks,
  ) {}

  /**
   * Opens the store, reads the record, decides which chain to use, and starts watching. A store that
   * cannot be reached does not stop this (the session asks it again until it answers); a wrong
   * QB_STORE_KEY or an unusable store configuration does (StoreKeyError, StoreConfigError).
   */
  async start(): Promise<void> {
    const { ctx } = this;
    try {
      await ctx.store.open();
      const { record, warnings } = await ctx.store.load(ctx.connectionId);
      this.adoptAtStart(record, warnings);
      this.loaded = true;
    } catch (err) {
      if (!isTransientStoreError(err)) throw err;
      ctx.session.failed(err);
      // Until the store answers: the environment's chain, tentatively. Nothing is refreshed without the
      // lock, so it is never used against a stored chain that may have moved on.
      this.adoptAtStart(null, []);
    }
    this.unwatch = ctx.store.watch((change) => {
      if (change.id === ctx.connectionId && change.revision > (ctx.session.shared?.revision ?? 0))
        void this.reread();
    });
  }

  /** The store answers again: take in what it holds, write what could not be written, carry on. */
  async recover(): Promise<void> {
    const { ctx, hooks } = this;
    if (hooks.closed() || ctx.session.healthy) return;
    try {
      await ctx.store.open();
      const { record, warnings } = await ctx.store.load(ctx.connectionId);
      ctx.session.answered();
      // The start could not read the store: decide now, as the start would have, unless a refresh
      // has read it under the lock since (it made that decision, and may hold a rotated chain it
      // could not save yet, which the start's choice must not replace).
      if (!this.loaded && !ctx.session.readUnderLock) this.adoptAtStart(record, warnings);
      else {
        for (const warning of warnings) ctx.noteLoadWarning(warning);
        this.adoptShared(record);
      }
      this.loaded = true;
    } catch (err) {
      if (err instanceof StoreError) ctx.session.failed(err);
      else {
        ctx.log(`Reconnecting to the token store failed: ${(err as Error).message}`);
        ctx.session.armRetry();
      }
      return;
    }
    if (ctx.inUse.unsaved || ctx.session.pending.length > 0) {
      // A failure here was recorded by the session as it happened; only the retry is ours to ask for.
      await hooks.persistUnsaved().catch((err: unknown) => {
        if (!(err instanceof StoreError))
          ctx.log(`Writing to the token store failed: ${(err as Error).message}`);
        ctx.session.armRetry();
      });
    }
    if (hooks.closed()) return;
    hooks.changed();
  }

  /** Stops watching the store. */
  stopWatching(): void {
    this.unwatch?.();
    this.unwatch = null;
  }

  /** Resolves once the re-read in flight (if any) has ended. */
  whenRead(): Promise<void> {
    return this.rereading ?? Promise.resolve();
  }

  private adoptAtStart(stored: ConnectionRecord | null, warnings: readonly string[]): void {
    const { ctx } = this;
    const { session, inUse } = ctx;
    session.shared = stored;
    session.loadWarnings = [...warnings];
    for (const warning of warnings)
      session.pending.push({ type: 'events', events: [ctx.event('store_recovered', warning)] });
    const envToken = ctx.config.refreshToken;
    const storedChain = stored?.tokens ?? null;
    if (storedChain) ctx.secrets.add(storedChain.refreshToken, storedChain.accessToken);
    switch (startingChain(storedChain, envToken)) {
      case 'stored':
        inUse.set(storedChain);
        inUse.stored = true;
        ctx.log(
          `Using the stored token chain (refresh token ${previewToken(storedChain?.refreshToken ?? '')}).`,
        );
        break;
      case 'environment':
        inUse.set(chainFromEnvironment(envToken ?? '', ctx.config.realmId, ctx.now()));
        inUse.stored = false;
        if (storedChain) {
          session.pending.push({
            type: 'events',
            events: [
              ctx.event(
                'environment_token_adopted',
                `QB_REFRESH_TOKEN (${previewToken(envToken ?? '')}) differs from the one the stored chain started from: the environment wins (you reconnected).`,
              ),
            ],
          });
        }
        break;
      case 'none':
        inUse.set(null);
        inUse.stored = false;
    }
  }

  /** Takes in what another process wrote (a watch event, the store answering again). */
  private adoptShared(latest: ConnectionRecord | null): void {
    const { ctx } = this;
    const { session, inUse } = ctx;
    if (!latest || latest.revision <= (session.shared?.revision ?? 0)) return;
    session.shared = latest;
    if (inUse.unsaved) return;
    const stored = latest.tokens;
    if (stored === null) {
      ctx.takeInDisconnect();
      return;
    }
    if (startingChain(stored, ctx.config.refreshToken) !== 'stored') return;
    ctx.secrets.add(stored.refreshToken, stored.accessToken);
    if (!inUse.chain || !sameChain(inUse.chain, stored)) {
      inUse.set(stored);
      inUse.stored = true;
      ctx.fallback.forgotten = false;
      ctx.fallback.active = false;
      // Another process's refresh worked with these keys: whatever Intuit said to ours is stale now.
      if (latest.health.lastRefresh?.ok) inUse.clientError = null;
    }
  }

  private reread(): Promise<void> {
    const { ctx } = this;
    // A change reported while a read is in flight may be newer than what that read saw: read again after it.
    if (this.rereading) this.rereadAgain = true;
    this.rereading ??= (async () => {
      this.rereadAgain = false;
      try {
        const { record } = await ctx.store.load(ctx.connectionId);
        ctx.session.answered();
        this.adoptShared(record);
      } catch (err) {
        if (!(err instanceof StoreError)) throw err;
        ctx.session.failed(err);
      } finally {
        this.rereading = null;
      }
      if (this.hooks.closed()) return;
      this.hooks.changed();
      if (this.rereadAgain) void this.reread();
    })().catch((err: unknown) => ctx.log(`Re-reading the store failed: ${(err as Error).message}`));
    return this.rereading;
  }
}
