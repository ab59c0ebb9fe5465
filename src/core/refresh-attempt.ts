// One refresh attempt, inside the connection's lock: a chain this process could not save is saved
// first; when another process has refreshed meanwhile its result is taken instead of calling Intuit;
// otherwise the in-flight note is left, Intuit is called, and the rotated chain is written the moment
// the answer is in (rule 3), before anyone sees the new access token. A refused token call is
// recorded in the shared record, and explained when a previous process was stopped mid-refresh.
// The single flight, the lock and the back-off around attempts are refresh-flight.ts's.
import type { RefreshTrigger } from '../shared/contract';
import { previewToken } from '../shared/preview';
import type { ConnectionRecord, HealthChange, RefreshAttemptFacts } from './connection-record';
import type { EngineContext } from './engine-context';
import { NotConfiguredError, TokenError } from './errors';
import type { IntuitTokenResponse, TokenEndpoint } from './intuit-oauth';
import { markRefreshStep } from './refresh-markers';
import type { RefreshOutcome } from './telemetry';
import { chainFromAnswer, sameChain, sameLineage } from './token-chain';
import { skewMs } from './token-status';
import { fingerprintToken, type RefreshInFlightNote, type StoredTokens } from './token-store';

/** A chain written from inside the token call, as the answer arrived (see exchangeAndSave). */
interface EarlySave {
  next: StoredTokens;
  saved: Promise<void>;
}

interface RefreshAttemptHooks {
  /** A terminal failure (invalid_grant, invalid_client): the schedule stops. */
  stopSchedule(): void;
}

export class RefreshAttempts {
  constructor(
    private readonly ctx: EngineContext,
    private readonly hooks: RefreshAttemptHooks,
  ) {}

  /**
   * One attempt, called under the lock with `latest` (the record as the store has it now). Returns the
   * access token to hand out; throws the TokenError to retry or report (already recorded).
   */
  async run(
    latest: ConnectionRecord | null,
    trigger: RefreshTrigger,
    staleAccessToken: string | null,
    oauth: TokenEndpoint,
  ): Promise<string> {
    const { ctx } = this;
    const inUse = ctx.inUse;
    const started = ctx.now();
    // A chain we could not save earlier is newer than the store's: save it first, never adopt over it.
    if (inUse.unsaved && inUse.chain) {
      await ctx.session.write(latest, inUse.chain, []);
      // The note this process kept for it is moot now, and must not pass for a stopped process's below.
      ctx.store.endRefresh?.(ctx.connectionId);
      inUse.unsaved = false;
      inUse.stored = true;
      latest = ctx.session.shared;
    }
    const adopted = this.adoptNewerStoredChain(latest, trigger, staleAccessToken);
    if (adopted !== null) {
      if (ctx.session.pending.length > 0)
        await ctx.session.write(latest, inUse.chain, []).catch(() => undefined);
      return adopted;
    }
    const chain = inUse.chain;
    if (!chain) throw new NotConfiguredError();
    await this.takeInLeftNote(chain);
    const sentAt = ctx.now();
    // Evidence for the next start, should this process be stopped before the answer is saved.
    ctx.store.beginRefresh?.(ctx.connectionId, {
      startedAt: sentAt,
      refreshTokenSha256: fingerprintToken(chain.refreshToken),
    });
    try {
      return await this.exchangeAndSave(latest, trigger, chain, oauth, started, sentAt);
    } finally {
      // An unsaved chain keeps the note: a stop before the retried save loses it just the same.
      if (!inUse.unsaved) ctx.store.endRefresh?.(ctx.connectionId);
    }
  }

  /**
   * Read under the lock, before this attempt leaves its own note: no other process is mid-refresh now,
   * so a note found was left by one stopped during its token call (read outside the lock, it may be a
   * live process's). It explains a refusal only of the refresh token that refresh sent.
   */
  private async takeInLeftNote(chain: StoredTokens): Promise<void> {
    const { ctx } = this;
    let note: RefreshInFlightNote | null;
    try {
      note = (await ctx.store.interruptedRefresh?.(ctx.connectionId)) ?? null;
    } catch (err) {
      // Only a diagnosis aid: a refresh never fails for want of it.
      ctx.log(`Could not read the refresh-in-flight note: ${(err as Error).message}`, { level: 'warn' });
      return;
    }
    if (!note || fingerprintToken(chain.refreshToken) !== note.refreshTokenSha256) return;
    ctx.inUse.interrupted = note;
    ctx.log(
      `A refresh started at ${new Date(note.startedAt).toISOString()} never finished (the app was stopped during it); if Intuit rotated the refresh token then, this refresh is refused.`,
    );
  }

  /** Telemetry: one attempt ended with `outcome`. */
  reportAttempt(trigger: RefreshTrigger, outcome: RefreshOutcome, started: number): void {
    this.ctx.telemetry.refreshAttempted({
      connectionId: this.ctx.connectionId,
      trigger,
      outcome,
      durationMs: this.ctx.now() - started,
    });
  }

  /** The token call and the write of its answer (rule 3), inside the lock. */
  private async exchangeAndSave(
    latest: ConnectionRecord | null,
    trigger: RefreshTrigger,
    chain: StoredTokens,
    oauth: TokenEndpoint,
    started: number,
    sentAt: number,
  ): Promise<string> {
    const { ctx } = this;
    // Rule 3, as early as it can be: the rotated chain is written from inside the token call, the moment
    // a valid answer is in (Intuit has retired the old refresh token by then). The file store renames
    // it into place before save() returns, so no event-loop turn separates the answer from the write:
    // keep everything from here to save() synchronous (the kill -9 suite measures this window).
    let early = null as EarlySave | null;
    const onAnswer = (raw: IntuitTokenResponse) => {
      ctx.secrets.add(raw.accessToken, raw.refreshToken);
      const next = chainFromAnswer(chain, raw, sentAt);
      const saved = ctx.session.write(latest, next, [this.successChange(trigger, chain, next, raw, started)]);
      saved.catch(() => undefined); // awaited below
      early = { next, saved };
    };
    markRefreshStep('token-call');
    let answer: IntuitTokenResponse;
    try {
      answer = await oauth.refresh(chain.refreshToken, { onAnswer });
    } catch (err) {
      // The answer passed our checks and was saved, but the OAuth library rejected it: its refresh
      // token is still the one Intuit now accepts, so the chain moves on to it; the error stands.
      if (early) await this.keepEarlyChain(early);
      if (err instanceof TokenError) throw await this.recordFailure(latest, trigger, chain, err, started);
      throw err;
    }
    markRefreshStep('answer-parsed');
    ctx.secrets.add(answer.accessToken, answer.refreshToken);
    const next = chainFromAnswer(chain, answer, sentAt);
    const inUse = ctx.inUse;
    // Rule 3: the new refresh token is durable before the new access token goes to anyone.
    try {
      const saved = early as EarlySave | null;
      if (saved && sameChain(saved.next, next)) await saved.saved;
      // The early write (done or pending) already carries this success; this one only fixes the chain.
      else if (saved)
        await saved.saved
          .catch(() => undefined)
          .then(() => ctx.session.write(ctx.session.shared ?? latest, next, []));
      else await ctx.session.write(latest, next, [this.successChange(trigger, chain, next, answer, started)]);
    } catch (err) {
      inUse.set(next);
      inUse.stored = false;
      inUse.unsaved = true;
      throw err;
    }
    inUse.set(next);
    inUse.stored = true;
    inUse.unsaved = false;
    this.onSuccess(trigger, started, answer);
    return answer.accessToken;
  }

  private successChange(
    trigger: RefreshTrigger,
    previous: StoredTokens,
    next: StoredTokens,
    answer: IntuitTokenResponse,
    started: number,
  ): HealthChange {
    const { ctx } = this;
    const attempt = this.attemptFacts(trigger, started);
    const events = [];
    if (next.refreshToken !== previous.refreshToken) {
      events.push(
        ctx.event(
          'rotated',
          `Intuit issued a new refresh token (${previewToken(next.refreshToken)}, replacing ${previewToken(previous.refreshToken)}); it was saved before use.`,
          { trigger, intuitTid: answer.intuitTid },
        ),
      );
    }
    const expiresAt = new Date(next.accessTokenExpiresAt ?? attempt.at).toISOString();
    events.push(
      ctx.event(
        'refreshed',
        `Access token refreshed (${previewToken(answer.accessToken)}), valid until ${expiresAt}${ctx.fallback.active ? '; no longer using QB_ACCESS_TOKEN' : ''}.`,
        { trigger, intuitTid: answer.intuitTid, accessTokenExpiresAt: expiresAt },
      ),
    );
    return { type: 'refresh_succeeded', attempt, events };
  }

  private onSuccess(trigger: RefreshTrigger, started: number, answer: IntuitTokenResponse): void {
    const { ctx } = this;
    ctx.fallback.active = false;
    ctx.inUse.interrupted = null;
    ctx.inUse.clientError = null;
    this.reportAttempt(trigger, 'ok', started);
    ctx.log(`Refreshed (${trigger}); intuit_tid ${answer.intuitTid ?? 'none'}.`, {
      trigger,
      intuitTid: answer.intuitTid,
    });
  }

  /** Records a failed token call in the shared record (under the lock); returns the error to throw. */
  private async recordFailure(
    latest: ConnectionRecord | null,
    trigger: RefreshTrigger,
    chain: StoredTokens,
    thrown: TokenError,
    started: number,
  ): Promise<TokenError> {
    const { ctx } = this;
    const inUse = ctx.inUse;
    let error = thrown;
    // Only while the refused token is the one the interrupted refresh sent (not one adopted since).
    const interrupted =
      inUse.interrupted && fingerprintToken(chain.refreshToken) === inUse.interrupted.refreshTokenSha256
        ? inUse.interrupted
        : null;
    if (error.kind === 'invalid_grant' && interrupted) {
      error = new TokenError('invalid_grant', interruptedRefreshMessage(interrupted), {
        intuitTid: error.intuitTid,
        status: error.status,
      });
    }
    if (error.kind === 'invalid_client') inUse.clientError = error;
    const info = error.toInfo();
    const change: HealthChange = {
      type: 'refresh_failed',
      attempt: this.attemptFacts(trigger, started),
      error: info,
      refreshTokenSha256: fingerprintToken(chain.refreshToken),
      ...(error.kind === 'invalid_grant' && interrupted ? { cause: 'interrupted_refresh' as const } : {}),
      events: [
        ctx.event('failed', `Refresh failed (${error.kind}): ${error.message}`, {
          trigger,
          intuitTid: error.intuitTid,
        }),
      ],
    };
    this.reportAttempt(trigger, error.kind, started);
    ctx.log(
      `Refresh failed (${trigger}, ${error.kind}); intuit_tid ${error.intuitTid ?? 'none'}: ${error.message}`,
      { level: error.transient ? 'warn' : 'error', trigger, intuitTid: error.intuitTid },
    );
    if (!error.transient) this.hooks.stopSchedule();
    const chainToWrite =
      inUse.stored || inUse.unsaved
        ? inUse.chain
        : latest?.tokens && !sameLineage(latest.tokens, chain)
          ? latest.tokens
          : chain;
    try {
      await ctx.session.write(ctx.session.shared ?? latest, chainToWrite, [change]);
      if (chainToWrite === chain) inUse.stored = true;
    } catch {
      // Kept in `pending`: the view shows it now, the next write stores it.
    }
    return error;
  }

  /** After an early save whose answer the protocol layer then rejected: the saved chain is the live one. */
  private async keepEarlyChain(early: EarlySave): Promise<void> {
    const inUse = this.ctx.inUse;
    inUse.set(early.next);
    try {
      await early.saved;
      inUse.stored = true;
      inUse.unsaved = false;
    } catch {
      inUse.stored = false;
      inUse.unsaved = true;
    }
  }

  /**
   * Another process sharing the store may have refreshed (or rotated) meanwhile. When the stored chain
   * is of the same lineage and holds a newer, usable access token, take it and skip the token call
   * (except for a manual refresh, which then refreshes with the newest refresh token).
   */
  private adoptNewerStoredChain(
    latest: ConnectionRecord | null,
    trigger: RefreshTrigger,
    staleAccessToken: string | null,
  ): string | null {
    const { ctx } = this;
    const inUse = ctx.inUse;
    const stored = latest?.tokens ?? null;
    const chain = inUse.chain;
    if (!stored || !chain || !sameLineage(stored, chain)) return null;
    const now = ctx.now();
    // Usable beyond the skew and not the token a 401 refused: someone refreshed since ours fell due
    // (another process, or this one's watch already took its result in).
    const newerAccess =
      stored.accessToken !== null &&
      stored.accessTokenExpiresAt !== null &&
      stored.accessToken !== staleAccessToken &&
      now < stored.accessTokenExpiresAt - skewMs(stored, ctx.config.refreshSkewSeconds);
    if (stored.refreshToken !== chain.refreshToken || newerAccess) {
      inUse.set(stored);
      inUse.stored = true;
      inUse.unsaved = false;
    }
    if (newerAccess && trigger !== 'manual' && stored.accessToken) {
      ctx.log('Another process refreshed the token meanwhile; using its result.');
      inUse.clientError = null;
      ctx.fallback.active = false;
      return stored.accessToken;
    }
    return null;
  }

  private attemptFacts(trigger: RefreshTrigger, started: number): RefreshAttemptFacts {
    const at = this.ctx.now();
    const facts: RefreshAttemptFacts = { at, trigger, durationMs: at - started };
    if (this.ctx.clientName !== undefined) facts.client = this.ctx.clientName;
    return facts;
  }
}

/** Why the refresh token is refused after a restart that found a refresh left in flight. */
export function interruptedRefreshMessage(note: RefreshInFlightNote): string {
  return (
    `QB Token Desk was stopped during a refresh (started ${new Date(note.startedAt).toISOString()}) after Intuit ` +
    'had issued a new refresh token, before it could be saved: that token is lost, and Intuit no longer accepts ' +
    'the previous one (invalid_grant). Reconnect to QuickBooks.'
  );
}
