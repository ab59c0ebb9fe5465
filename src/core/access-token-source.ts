// Where a caller's access token comes from when TokenManager's hot cache has none: the chain's own
// while it is good for a while yet (then cached for the next callers), else a refresh (joining one
// in flight), else QB_ACCESS_TOKEN standing in (environment-fallback.ts), the first time recorded in the
// history and announced. And the answer to an API 401: the token that replaced the refused one, or one
// refresh for everyone the 401 hit.
import type { ConnectionId } from '../shared/contract';
import { rejectionOf } from './connection-record';
import type { ChainInUse, EngineContext } from './engine-context';
import type { EngineStatus } from './engine-status';
import {
  ConnectionRemovedError,
  NotConfiguredError,
  ReauthorizationRequiredError,
  TokenError,
} from './errors';
import type { RefreshFlight } from './refresh-flight';
import { MIN_USABLE_MS, servedToken } from './token-status';
import { saveUnsavedChain } from './unsaved-chain-save';

interface AccessTokenSourceHooks {
  /** Throws once the engine is disposed. */
  assertOpen(): void;
  /** `token` may be handed out without asking again until `until` (the hot cache). */
  cache(token: string, until: number): void;
  /** What the hot cache holds must not be handed out any more. */
  dropCache(): void;
  /** Tells the status listeners. */
  emit(): void;
}

/** Why there is no chain to use: none configured, or the connection was removed from the store. */
export function noChainError(inUse: ChainInUse, connectionId: ConnectionId): Error {
  return inUse.removed ? new ConnectionRemovedError(connectionId) : new NotConfiguredError();
}

export class AccessTokenSource {
  constructor(
    private readonly ctx: EngineContext,
    private readonly flight: RefreshFlight,
    private readonly status: EngineStatus,
    private readonly hooks: AccessTokenSourceHooks,
  ) {}

  /** A usable access token: the chain's, else a refresh's, else the environment's. */
  async get(): Promise<string> {
    const { ctx, flight, hooks } = this;
    hooks.assertOpen();
    if (ctx.inUse.unsaved) {
      await saveUnsavedChain(ctx);
      // Disposed while that write ran: no token is cached for later calls (they must see "disposed").
      hooks.assertOpen();
    }
    const now = ctx.now();
    const chain = ctx.inUse.chain;
    const fallback = ctx.fallback;
    if (!fallback.active && chain?.accessToken && chain.accessTokenExpiresAt !== null) {
      const until = chain.accessTokenExpiresAt - MIN_USABLE_MS;
      if (now < until) {
        hooks.cache(chain.accessToken, until);
        return chain.accessToken;
      }
    }
    // While falling back, the schedule (not every caller) retries the refresh after its cooldown.
    if (fallback.active && !flight.current && fallback.usable(now)) return this.environmentToken(null);
    if (!chain) {
      if (fallback.usable(now)) return this.environmentToken(null);
      throw noChainError(ctx.inUse, ctx.connectionId);
    }
    const rejection = rejectionOf(ctx.view());
    if (rejection) {
      if (fallback.usable(now)) return this.environmentToken(null);
      throw new ReauthorizationRequiredError(undefined, rejection.error.intuitTid);
    }
    // Keys Intuit rejected stay rejected until the configuration changes: no token call per caller.
    const clientError = ctx.inUse.clientError;
    if (clientError && !flight.current) {
      if (fallback.usable(now)) return this.environmentToken(null);
      throw new TokenError('invalid_client', clientError.message, { intuitTid: clientError.intuitTid });
    }
    try {
      return await flight.run('on-demand');
    } catch (err) {
      if (fallback.usable(ctx.now())) return this.environmentToken(err);
      throw err;
    }
  }

  /**
   * After an API 401 with `staleAccessToken`: the token that replaced it when there is one, else one
   * refresh shared with everyone else the 401 hit (recorded in the history).
   */
  async after401(staleAccessToken: string): Promise<string> {
    const { ctx, flight } = this;
    this.hooks.assertOpen();
    const now = ctx.now();
    if (ctx.fallback.refusedWith(staleAccessToken)) this.hooks.dropCache();
    const current = servedToken(ctx.inUse.chain, this.status.facts(), now);
    // A different token answers the 401 only if callers are really being given it (not a stand-in).
    const handedOut = current?.source === 'cached' || ctx.fallback.active;
    if (current && handedOut && current.token !== staleAccessToken && now < current.expiresAt - MIN_USABLE_MS)
      return current.token;
    if (flight.current) return flight.current;
    const chain = ctx.inUse.chain;
    if (!chain) throw noChainError(ctx.inUse, ctx.connectionId);
    const rejection = rejectionOf(ctx.view());
    if (rejection) throw new ReauthorizationRequiredError(undefined, rejection.error.intuitTid);
    // The stale token is dead at Intuit whatever its expiry says.
    if (chain.accessToken === staleAccessToken) ctx.inUse.set({ ...chain, accessTokenExpiresAt: now });
    ctx.session.pending.push({
      type: 'retried_after_401',
      events: [
        ctx.event(
          'retried_after_401',
          'QuickBooks answered 401 to an API call: refreshing once and retrying it.',
          {
            trigger: 'on-401',
          },
        ),
      ],
    });
    return flight.run('on-401', staleAccessToken);
  }

  /** QB_ACCESS_TOKEN stands in; the first time, the history says so and the listeners hear it. */
  private environmentToken(cause: unknown): string {
    const { ctx, hooks } = this;
    const { token, notice } = ctx.fallback.standIn(cause);
    if (notice) {
      hooks.dropCache();
      ctx.session.pending.push({
        type: 'events',
        events: [ctx.event('fell_back_to_environment', notice.message, { intuitTid: notice.intuitTid })],
      });
      hooks.emit();
    }
    return token;
  }
}
