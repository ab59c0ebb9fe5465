// What Connect, `qb-token connections add`, Clear, a rename and Disconnect do to the connection. Each
// is written under the lock before this process acts on it: a new chain is durable before it is
// served, Clear never writes back a refresh token another process has rotated past, and Disconnect
// revokes the refresh token the store holds under that same lock, so no refresh anywhere rotates it
// between the revoke and the forget.
// TokenManager waits out an in-flight refresh first and reschedules and announces after.
import type { HistoryEvent } from '../shared/contract';
import { previewToken } from '../shared/preview';
import type { ConnectionRecord } from './connection-record';
import type { ProfileEdits } from './connection-session';
import type { ChainInUse, EngineContext } from './engine-context';
import { StoreLockTimeoutError } from './errors';
import {
  chainFromAuthorization,
  chainFromEnvironment,
  sameLineage,
  withoutAccessToken,
  type AuthorizationAnswer,
} from './token-chain';
import { fingerprintToken, type StoredTokens } from './token-store';

/**
 * Disconnect's step at Intuit (the Connect flow's revoke), run under the connection's lock with the
 * refresh token in use read there (null: there is none). Resolves with how the history's
 * "Disconnected: …" line ends, the tokens then being forgotten under the same lock; throws to keep them.
 */
export type RevokeStep = (refreshToken: string | null) => Promise<string>;

/** The history's ending when Intuit was not asked (there was no refresh token to revoke). */
export const TOKENS_FORGOTTEN = 'the stored tokens were forgotten.';

/** Forgets without asking Intuit. */
export const forgetOnly: RevokeStep = () => Promise.resolve(TOKENS_FORGOTTEN);

export class ConnectionChanges {
  constructor(private readonly ctx: EngineContext) {}

  /**
   * Takes over a new authorization (the Connect flow): stored first, then served. Clears a previous
   * rejection or configuration error; the 5-year cap starts anew.
   */
  async adoptAuthorization(input: AuthorizationAnswer): Promise<void> {
    const { ctx } = this;
    ctx.secrets.add(input.accessToken, input.refreshToken);
    const chain = chainFromAuthorization(
      { ...input, realmId: input.realmId ?? ctx.config.realmId },
      ctx.config.refreshToken,
      ctx.now(),
    );
    const connected = ctx.event(
      'connected',
      `Connected to QuickBooks${chain.realmId ? ` (company ${chain.realmId})` : ''}.`,
      // The token timeline draws the access token a Connect issued as a bar from this event.
      chain.accessTokenExpiresAt !== null
        ? { accessTokenExpiresAt: new Date(chain.accessTokenExpiresAt).toISOString() }
        : undefined,
    );
    await this.replaceChain(chain, connected);
  }

  /**
   * Takes over a bare refresh token (`qb-token connections add`): stored first, like a new
   * authorization; the first call that needs an access token refreshes with it.
   */
  async adoptRefreshToken(refreshToken: string, realmId: string | null): Promise<void> {
    const { ctx } = this;
    ctx.secrets.add(refreshToken);
    const envToken = ctx.config.refreshToken;
    const chain: StoredTokens = {
      ...chainFromEnvironment(refreshToken, realmId ?? ctx.config.realmId, ctx.now()),
      // Recorded so QB_REFRESH_TOKEN wins over this chain only if it changes later (rule 6).
      origin: { envRefreshTokenSha256: envToken ? fingerprintToken(envToken) : null },
    };
    const connected = ctx.event(
      'connected',
      `Connected with a refresh token given by hand (${previewToken(refreshToken)})${chain.realmId ? ` for company ${chain.realmId}` : ''}.`,
    );
    await this.replaceChain(chain, connected);
  }

  /** Drops the cached access token only; the refresh token (stored or not) is kept. */
  async clearAccessToken(): Promise<void> {
    const { ctx } = this;
    const inUse = ctx.inUse;
    const cleared = ctx.event(
      'cleared',
      'Cached access token cleared; the refresh token is kept. The next call refreshes.',
    );
    if (inUse.chain) {
      await ctx.underLock(async (latest) => {
        const chain = inUse.chain;
        if (!chain) return;
        // Another process may have rotated the refresh token meanwhile, which must not be overwritten.
        // An unsaved chain is newer than the store's (its refresh token replaced the stored one): it stays.
        const base =
          !inUse.unsaved && latest?.tokens && sameLineage(latest.tokens, chain) ? latest.tokens : chain;
        const next = withoutAccessToken(base);
        if (inUse.stored || inUse.unsaved || base === latest?.tokens) {
          await ctx.session.write(latest, next, [{ type: 'events', events: [cleared] }]);
          // The refresh-in-flight note outlives an unsaved chain (RefreshAttempts.run); it is saved now.
          if (inUse.unsaved) ctx.store.endRefresh?.(ctx.connectionId);
          inUse.unsaved = false;
          inUse.stored = true;
        } else {
          ctx.session.pending.push({ type: 'events', events: [cleared] });
        }
        inUse.set(next);
      });
    } else {
      ctx.session.pending.push({ type: 'events', events: [cleared] });
    }
    ctx.fallback.active = false;
  }

  /** Renames the connection or records its company name (from CompanyInfo), in the shared record. */
  async updateProfile(edits: ProfileEdits): Promise<void> {
    const { ctx } = this;
    const inUse = ctx.inUse;
    ctx.session.editProfile(edits);
    await ctx.underLock((latest) =>
      ctx.session.write(
        latest,
        inUse.stored || inUse.unsaved ? (latest?.tokens ?? inUse.chain) : (latest?.tokens ?? null),
        [],
      ),
    );
  }

  /**
   * Disconnect: the record keeps its history but no chain; the status becomes not_configured. Under
   * one hold of the lock: the record is read, `revoke` gets the newest refresh token any process has
   * (a refresh elsewhere cannot rotate it past the revoke, which would leave the rotated one live at
   * Intuit), and the chain is forgotten unless `revoke` threw.
   */
  async disconnect(revoke: RevokeStep): Promise<void> {
    const { ctx } = this;
    try {
      await ctx.underLock(async (latest) => {
        const outcome = await revoke(refreshTokenToRevoke(latest, ctx.inUse));
        await this.writeChain(latest, null, ctx.event('disconnected', `Disconnected: ${outcome}`));
      });
    } catch (err) {
      // Only the wait for the lock throws this (nothing inside takes a lock): Intuit was not asked.
      if (!(err instanceof StoreLockTimeoutError)) throw err;
      throw new StoreLockTimeoutError(
        `Disconnect gave up waiting for the connection's lock (a refresh may be running elsewhere): nothing was revoked at Intuit and the tokens are kept; try again. ${err.message}`,
      );
    }
    this.useChain(null);
  }

  /**
   * A new chain (Connect, a refresh token given by hand): written, then in use, with a clean slate.
   * It is stored even for a connection removed meanwhile: a new authorization is never lost.
   */
  private async replaceChain(chain: StoredTokens, event: HistoryEvent): Promise<void> {
    await this.ctx.underLock((latest) => this.writeChain(latest, chain, event), { recreates: true });
    this.useChain(chain);
  }

  private writeChain(
    latest: ConnectionRecord | null,
    chain: StoredTokens | null,
    event: HistoryEvent,
  ): Promise<void> {
    return this.ctx.session.write(latest, chain, [{ type: 'chain_replaced', events: [event] }]);
  }

  private useChain(chain: StoredTokens | null): void {
    const { ctx } = this;
    const inUse = ctx.inUse;
    // Disconnect drops the refresh-in-flight note too: with no chain left there is no refusal to explain.
    if (!chain) ctx.store.endRefresh?.(ctx.connectionId);
    inUse.set(chain);
    inUse.stored = chain !== null;
    inUse.unsaved = false;
    ctx.fallback.forgotten = chain === null;
    inUse.interrupted = null;
    inUse.clientError = null;
    ctx.fallback.active = false;
  }
}

/**
 * The refresh token Disconnect revokes, decided under the lock with `latest` (the record as the store
 * has it now): the newest one any process sharing the store holds.
 */
function refreshTokenToRevoke(latest: ConnectionRecord | null, inUse: ChainInUse): string | null {
  const chain = inUse.chain;
  const stored = latest?.tokens ?? null;
  // Rotated here but not written yet: Intuit has retired the stored one for it.
  if (chain && inUse.unsaved) return chain.refreshToken;
  // QB_REFRESH_TOKEN, not stored by this process: another one may have refreshed it and stored the result.
  if (chain && !inUse.stored)
    return stored && sameLineage(stored, chain) ? stored.refreshToken : chain.refreshToken;
  return stored?.refreshToken ?? chain?.refreshToken ?? null;
}
