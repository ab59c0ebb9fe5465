// The token engine: holds the state behind TokenStatus, refreshes ahead of expiry on one timer,
// refreshes on demand, coalesces concurrent refreshes into one promise, serialises refreshes
// across processes through the store's lock, persists every new refresh token before anyone sees
// the new access token, and tells transient failures (retried with back-off, same refresh token)
// from terminal ones (invalid_grant, invalid_client). Token values live only in `chain` and
// `config`; everything the outside sees is built from previews.
import {
  DEFAULT_CONNECTION_ID,
  HISTORY_LIMIT,
  REFRESH_TOKEN_WARNING_DAYS,
  type HistoryEvent,
  type HistoryEventType,
  type LastRefreshInfo,
  type QbEnvironment,
  type RefreshErrorInfo,
  type RefreshTrigger,
  type TokenState,
  type TokenStats,
  type TokenStatus,
} from '../shared/contract';
import { previewToken } from '../shared/preview';
import { NotConfiguredError, ReauthorizationRequiredError, StoreError, TokenError } from './errors';
import type { IntuitTokenResponse, TokenEndpoint } from './intuit-oauth';
import { SecretRegistry, type LogFn } from './log';
import { markRefreshStep } from './refresh-markers';
import {
  fingerprintToken,
  type RefreshInFlightNote,
  type StoredTokens,
  type TokenStore,
} from './token-store';

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemTimers: Timers = {
  setTimeout: (fn, ms) => {
    const handle = setTimeout(fn, ms);
    // The schedule never keeps a CLI process alive on its own.
    handle.unref?.();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface RetryPolicy {
  /** Attempts per refresh, including the first (default 4). */
  maxAttempts: number;
  /** First back-off delay, ms (default 1000); doubles per attempt, with jitter. */
  baseDelayMs: number;
  /** Cap for one back-off delay, ms (default 30 s); also caps a server's Retry-After. */
  maxDelayMs: number;
  /** After a refresh exhausted its attempts, the schedule tries again this much later, ms (default 60 s). */
  cooldownMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 4,
  baseDelayMs: 1000,
  maxDelayMs: 30_000,
  cooldownMs: 60_000,
};

/** The parts of Config the engine reads. */
export interface TokenManagerConfig {
  refreshToken: string | null;
  accessToken: string | null;
  realmId: string | null;
  environment: QbEnvironment;
  refreshSkewSeconds: number;
  demo: boolean;
  /** Client id and secret present (the Connect flow can run, refreshes can be attempted). */
  canConnect: boolean;
  /** Standing warnings about the configuration (e.g. QB_ALLOW_NON_INTUIT_URLS is set). */
  warnings?: readonly string[];
}

export interface TokenManagerOptions {
  config: TokenManagerConfig;
  store: TokenStore;
  /** The token endpoint; null when the client keys are missing (refreshes then fail as not configured). */
  oauth: TokenEndpoint | null;
  now?: () => number;
  timers?: Timers;
  log?: LogFn;
  retry?: Partial<RetryPolicy>;
  /** 0..1; injectable so back-off tests are deterministic. */
  random?: () => number;
  /** Start with a refresh when there is a refresh token but no valid access token (default true). */
  refreshOnStart?: boolean;
  /** Every token value the engine sees is added here (for log redaction and leak scans). */
  secrets?: SecretRegistry;
}

export interface AdoptAuthorizationInput {
  accessToken: string;
  refreshToken: string;
  /** Seconds, as the token endpoint said. */
  expiresIn: number;
  refreshExpiresIn: number;
  hardExpiresIn?: number | null;
  realmId: string | null;
}

/** Access tokens live one hour: an environment token first seen at T is certainly dead by T + 1 h. */
const ENV_ACCESS_TOKEN_MAX_LIFETIME_MS = 3600_000;
/** The longest a timer can wait without overflowing. */
const MAX_TIMER_MS = 2_147_483_647;
/** A token with less than this left is not handed out; a refresh comes first. */
const MIN_USABLE_MS = 5_000;

type StatusListener = (status: TokenStatus) => void;

export class TokenManager {
  private readonly config: TokenManagerConfig;
  private readonly store: TokenStore;
  private readonly oauth: TokenEndpoint | null;
  private readonly now: () => number;
  private readonly timers: Timers;
  private readonly log: LogFn;
  private readonly retry: RetryPolicy;
  private readonly random: () => number;
  private readonly refreshOnStart: boolean;
  readonly secrets: SecretRegistry;

  /** The chain in use. `persisted` = it is what the store holds (refreshToken.source 'stored'). */
  private chain: StoredTokens | null = null;
  private persisted = false;
  /** The chain's latest version could not be saved: retried before anything is handed out. */
  private unsaved = false;
  private readonly startedAt: number;
  private envTokenRejected = false;
  private envFallbackActive = false;
  private reauthError: RefreshErrorInfo | null = null;
  /** A previous process was stopped with a token call in flight using the chain's refresh token. */
  private interrupted: RefreshInFlightNote | null = null;
  private clientError: RefreshErrorInfo | null = null;
  private forgotten = false;
  private inflight: Promise<string> | null = null;
  private retrying: { attempt: number; maxAttempts: number } | null = null;
  /** When the back-off wait of a failing refresh ends (shown as the next refresh time). */
  private retryAt: number | null = null;
  private timer: unknown = null;
  /** Fires when the state would change by time alone (valid -> expiring -> expired) and nothing else acts then. */
  private boundaryTimer: unknown = null;
  private nextRefreshAt: number | null = null;
  private backoffWake: (() => void) | null = null;
  private backoffTimer: unknown = null;
  private disposed = false;
  private lastRefresh: LastRefreshInfo | null = null;
  private readonly stats: TokenStats = {
    refreshes: 0,
    failures: 0,
    retriedOn401: 0,
    consecutiveFailures: 0,
    failingSince: null,
  };
  private history: HistoryEvent[] = [];
  private loadWarnings: string[] = [];
  private readonly listeners = new Set<StatusListener>();

  constructor(options: TokenManagerOptions) {
    this.config = options.config;
    this.store = options.store;
    this.oauth = options.oauth;
    this.now = options.now ?? Date.now;
    this.timers = options.timers ?? systemTimers;
    this.log = options.log ?? (() => undefined);
    this.retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.random = options.random ?? Math.random;
    this.refreshOnStart = options.refreshOnStart ?? true;
    this.secrets = options.secrets ?? new SecretRegistry();
    this.secrets.pin(this.config.refreshToken, this.config.accessToken);
    this.startedAt = this.now();
  }

  /** Loads the store and decides which chain to use (DESIGN rule 6). Call once before anything else. */
  async start(): Promise<TokenStatus> {
    const { tokens: stored, warnings } = await this.store.load();
    this.loadWarnings = warnings;
    for (const warning of warnings) this.record('store_recovered', warning);
    const envToken = this.config.refreshToken;
    const envFingerprint = envToken ? fingerprintToken(envToken) : null;
    if (stored) this.secrets.add(stored.refreshToken, stored.accessToken);

    if (stored && (envFingerprint === null || stored.origin.envRefreshTokenSha256 === envFingerprint)) {
      this.chain = stored;
      this.persisted = true;
      this.log(`Using the stored token chain (refresh token ${previewToken(stored.refreshToken)}).`);
    } else if (envToken) {
      this.chain = this.chainFromEnvironment(envToken);
      this.persisted = false;
      if (stored) {
        this.record(
          'environment_token_adopted',
          `QB_REFRESH_TOKEN (${previewToken(envToken)}) differs from the one the stored chain started from: the environment wins (you reconnected).`,
        );
      }
    }
    const note = (await this.store.interruptedRefresh?.()) ?? null;
    if (note && this.chain && fingerprintToken(this.chain.refreshToken) === note.refreshTokenSha256) {
      this.interrupted = note;
      this.log(
        `A refresh started at ${iso(note.startedAt)} never finished (the app was stopped during it); if Intuit rotated the refresh token then, the next refresh is refused.`,
      );
    }
    this.reschedule(true);
    this.emit();
    return this.getStatus();
  }

  // ---------------------------------------------------------------- public surface

  getStatus(): TokenStatus {
    const now = this.now();
    const chain = this.chain;
    const serving = this.servedToken(now);
    const skewMs =
      chain && serving?.source === 'cached' ? this.skewMs(chain) : this.config.refreshSkewSeconds * 1000;
    let state: TokenState;
    if (!chain && !this.envTokenUsable(now)) state = 'not_configured';
    // A refresh token without the client keys to use it: nothing can be renewed.
    else if (!this.oauth && !(serving && now < serving.expiresAt)) state = 'not_configured';
    else if (this.reauthError) state = 'reauthorization_required';
    else if (this.inflight) state = 'refreshing';
    else if (!serving) state = 'expired';
    else if (now >= serving.expiresAt) state = 'expired';
    else if (now >= serving.expiresAt - skewMs) state = 'expiring';
    else state = 'valid';

    return {
      connection: {
        id: DEFAULT_CONNECTION_ID,
        name: defaultConnectionName(this.config.environment),
        companyName: null,
      },
      state,
      source: serving ? serving.source : 'none',
      environment: this.config.environment,
      realmId: chain?.realmId ?? this.config.realmId,
      demo: this.config.demo,
      accessToken: serving
        ? { preview: previewToken(serving.token), expiresAt: new Date(serving.expiresAt).toISOString() }
        : null,
      refreshToken: chain
        ? {
            preview: previewToken(chain.refreshToken),
            source: this.persisted ? 'stored' : 'environment',
            expiresAt: iso(chain.refreshTokenExpiresAt),
            hardExpiresAt: iso(chain.refreshTokenHardExpiresAt),
            lastRotatedAt: iso(chain.lastRotatedAt),
            rejectedAt: this.reauthError ? (this.lastRefresh?.at ?? null) : null,
          }
        : null,
      autoRefresh: {
        enabled: this.scheduleAllowed(),
        nextRefreshAt: iso(this.retryAt ?? this.nextRefreshAt),
        skewSeconds: this.config.refreshSkewSeconds,
        retrying: this.retrying ? { ...this.retrying } : null,
      },
      lastRefresh: this.lastRefresh ? structuredClone(this.lastRefresh) : null,
      stats: { ...this.stats },
      history: this.history.map((event) => ({ ...event })),
      warnings: this.warnings(now),
      canConnect: this.config.canConnect,
      store: this.store.description ? { ...this.store.description, reachable: true } : null,
    };
  }

  onStatusChanged(listener: StatusListener): () => void {
    this.listeners.add(listener);
    this.armBoundaryTimer();
    return () => this.listeners.delete(listener);
  }

  /** A usable access token: the cached one, else a refresh (coalesced), else the environment's fallback. */
  async getAccessToken(): Promise<string> {
    this.assertOpen();
    const now = this.now();
    if (this.unsaved) await this.persistPending();
    const chain = this.chain;
    if (!this.envFallbackActive && chain?.accessToken && chain.accessTokenExpiresAt !== null) {
      if (now < chain.accessTokenExpiresAt - MIN_USABLE_MS) return chain.accessToken;
    }
    // While falling back, the schedule (not every caller) retries the refresh after its cooldown.
    if (this.envFallbackActive && !this.inflight && this.envTokenUsable(now))
      return this.useEnvironmentToken(null);
    if (!chain) {
      if (this.envTokenUsable(now)) return this.useEnvironmentToken(null);
      throw new NotConfiguredError();
    }
    if (this.reauthError) {
      if (this.envTokenUsable(now)) return this.useEnvironmentToken(null);
      throw new ReauthorizationRequiredError(undefined, this.reauthError.intuitTid);
    }
    // Keys Intuit rejected stay rejected until the configuration changes: no token call per caller.
    if (this.clientError && !this.inflight) {
      if (this.envTokenUsable(now)) return this.useEnvironmentToken(null);
      throw new TokenError('invalid_client', this.clientError.message, {
        intuitTid: this.clientError.intuitTid,
      });
    }
    try {
      return await this.refreshCoalesced('on-demand');
    } catch (err) {
      if (this.envTokenUsable(this.now())) return this.useEnvironmentToken(err);
      throw err;
    }
  }

  /** Forces a refresh (the UI's button); concurrent calls share one token-endpoint call. */
  async refresh(trigger: RefreshTrigger = 'manual'): Promise<TokenStatus> {
    this.assertOpen();
    if (!this.chain) throw new NotConfiguredError();
    await this.refreshCoalesced(trigger);
    return this.getStatus();
  }

  /**
   * After an API 401 with `staleAccessToken`: if the token already changed since that request was sent,
   * returns the new one without refreshing; otherwise one coalesced refresh (counted in stats and history).
   */
  async refreshAfter401(staleAccessToken: string): Promise<string> {
    this.assertOpen();
    const now = this.now();
    if (staleAccessToken === this.config.accessToken) this.envTokenRejected = true;
    const current = this.servedToken(now);
    // A different token answers the 401 only if callers are really being given it (not a stand-in).
    const handedOut = current?.source === 'cached' || this.envFallbackActive;
    if (current && handedOut && current.token !== staleAccessToken && now < current.expiresAt - MIN_USABLE_MS)
      return current.token;
    if (this.inflight) return this.inflight;
    if (!this.chain) throw new NotConfiguredError();
    if (this.reauthError) throw new ReauthorizationRequiredError(undefined, this.reauthError.intuitTid);
    // The stale token is dead at Intuit whatever its expiry says.
    if (this.chain.accessToken === staleAccessToken)
      this.chain = { ...this.chain, accessTokenExpiresAt: now };
    this.stats.retriedOn401 += 1;
    this.record(
      'retried_after_401',
      'QuickBooks answered 401 to an API call: refreshing once and retrying it.',
      {
        trigger: 'on-401',
      },
    );
    return this.refreshCoalesced('on-401', staleAccessToken);
  }

  /** Drops the cached access token only; the refresh token (stored or not) is kept. */
  async clear(): Promise<TokenStatus> {
    this.assertOpen();
    await this.settle();
    if (this.chain?.accessToken) {
      await this.store.withRefreshLock(async () => {
        // Re-read first: another process may have rotated the refresh token, which must not be overwritten.
        // An unsaved chain is newer than the store's (its refresh token replaced the stored one): it stays.
        const { tokens: latest } = await this.store.load();
        const base =
          !this.unsaved && this.chain && latest && sameLineage(latest, this.chain) ? latest : this.chain;
        if (!base) return;
        const next: StoredTokens = { ...base, accessToken: null, accessTokenExpiresAt: null };
        if (this.persisted || this.unsaved || base === latest) {
          await this.store.save(next);
          this.persisted = true;
          // The refresh-in-flight note outlives an unsaved chain (attempt()); it is saved now.
          if (this.unsaved) this.store.endRefresh?.();
          this.unsaved = false;
        }
        this.chain = next;
      });
    }
    this.envFallbackActive = false;
    this.record(
      'cleared',
      'Cached access token cleared; the refresh token is kept. The next call refreshes.',
    );
    this.reschedule(false);
    this.emit();
    return this.getStatus();
  }

  /**
   * Takes over a new authorization (the Connect flow): stores the chain first, then serves it.
   * Clears a previous reauthorization or configuration error.
   */
  async adoptAuthorization(input: AdoptAuthorizationInput): Promise<TokenStatus> {
    this.assertOpen();
    await this.settle();
    this.secrets.add(input.accessToken, input.refreshToken);
    const at = this.now();
    const envToken = this.config.refreshToken;
    const chain: StoredTokens = {
      version: 1,
      refreshToken: input.refreshToken,
      refreshTokenIssuedAt: at,
      lastRotatedAt: null,
      refreshTokenExpiresAt: at + input.refreshExpiresIn * 1000,
      refreshTokenHardExpiresAt: input.hardExpiresIn != null ? at + input.hardExpiresIn * 1000 : null,
      accessToken: input.accessToken,
      accessTokenExpiresAt: at + input.expiresIn * 1000,
      refreshedAt: at,
      realmId: input.realmId ?? this.config.realmId,
      // The environment's current value is recorded so it wins only if it changes later (rule 6).
      origin: { envRefreshTokenSha256: envToken ? fingerprintToken(envToken) : null },
    };
    await this.store.withRefreshLock(() => this.store.save(chain));
    this.chain = chain;
    this.persisted = true;
    this.unsaved = false;
    this.forgotten = false;
    this.interrupted = null;
    this.reauthError = null;
    this.clientError = null;
    this.envFallbackActive = false;
    this.record('connected', `Connected to QuickBooks${chain.realmId ? ` (company ${chain.realmId})` : ''}.`);
    this.reschedule(false);
    this.emit();
    return this.getStatus();
  }

  /** Disconnect: drops everything (store included); the status becomes not_configured. */
  async forget(): Promise<TokenStatus> {
    this.assertOpen();
    await this.settle();
    await this.store.withRefreshLock(() => this.store.forget());
    this.chain = null;
    this.persisted = false;
    this.unsaved = false;
    this.forgotten = true;
    this.interrupted = null;
    this.reauthError = null;
    this.clientError = null;
    this.envFallbackActive = false;
    this.lastRefresh = null;
    this.record('disconnected', 'Disconnected: the stored tokens were forgotten.');
    this.reschedule(false);
    this.emit();
    return this.getStatus();
  }

  /** Resolves once no refresh is in flight (whatever its outcome). */
  whenIdle(): Promise<void> {
    return this.settle();
  }

  /** Stops the timer, cuts a back-off wait short and waits for an in-flight refresh to settle. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.clearTimer();
    this.clearBoundaryTimer();
    this.wakeBackoff();
    await this.settle();
    this.listeners.clear();
  }

  // ---------------------------------------------------------------- refresh machinery

  private refreshCoalesced(trigger: RefreshTrigger, staleAccessToken: string | null = null): Promise<string> {
    if (this.inflight) return this.inflight;
    const run = this.runRefresh(trigger, staleAccessToken).finally(() => {
      this.inflight = null;
      this.retrying = null;
      this.reschedule(false);
      this.emit();
    });
    this.inflight = run;
    this.clearTimer();
    this.emit();
    return run;
  }

  /** Attempts with bounded back-off; transient failures retry with the same refresh token. */
  private async runRefresh(trigger: RefreshTrigger, staleAccessToken: string | null): Promise<string> {
    for (let attempt = 1; ; attempt += 1) {
      const started = this.now();
      try {
        const token = await this.attempt(trigger, staleAccessToken);
        this.retrying = null;
        return token;
      } catch (err) {
        let error = asTokenError(err);
        // Only while the refused token is the one the interrupted refresh sent (not one adopted since).
        const interrupted =
          this.interrupted &&
          this.chain &&
          fingerprintToken(this.chain.refreshToken) === this.interrupted.refreshTokenSha256
            ? this.interrupted
            : null;
        if (error?.kind === 'invalid_grant' && interrupted) {
          error = new TokenError('invalid_grant', interruptedRefreshMessage(interrupted), {
            intuitTid: error.intuitTid,
            status: error.status,
          });
        }
        if (error === null) {
          if (err instanceof StoreError) this.record('failed', err.message, { trigger });
          throw err;
        }
        this.onFailure(trigger, error, started);
        if (!error.transient || attempt >= this.retry.maxAttempts || this.disposed) throw error;
        const delay = this.backoffDelay(attempt, error);
        this.retrying = { attempt: attempt + 1, maxAttempts: this.retry.maxAttempts };
        this.retryAt = this.now() + delay;
        this.log(
          `Refresh attempt ${attempt} failed (${error.kind}); retrying in ${delay} ms with the same refresh token.`,
        );
        this.emit();
        try {
          await this.sleep(delay);
        } finally {
          this.retryAt = null;
        }
        if (this.disposed) throw error;
      }
    }
  }

  /** One token-endpoint attempt inside the cross-process lock. Returns the access token to hand out. */
  private async attempt(trigger: RefreshTrigger, staleAccessToken: string | null): Promise<string> {
    if (!this.oauth) {
      throw new NotConfiguredError(
        'QB_CLIENT_ID and QB_CLIENT_SECRET are not set: the refresh token cannot be used.',
      );
    }
    const oauth = this.oauth;
    return this.store.withRefreshLock(async () => {
      const started = this.now();
      // A chain we could not save earlier is newer than the store's: save it first, never adopt over it.
      if (this.unsaved && this.chain) {
        await this.store.save(this.chain);
        this.unsaved = false;
        this.persisted = true;
      }
      const adopted = await this.adoptNewerStoredChain(trigger, staleAccessToken);
      if (adopted) return adopted;
      const chain = this.chain;
      if (!chain) throw new NotConfiguredError();
      const sentAt = this.now();
      // Evidence for the next start, should this process be stopped before the answer is saved.
      this.store.beginRefresh?.({
        startedAt: sentAt,
        refreshTokenSha256: fingerprintToken(chain.refreshToken),
      });
      try {
        return await this.exchangeAndSave(trigger, chain, oauth, started, sentAt);
      } finally {
        // An unsaved chain keeps the note: a stop before the retried save loses it just the same.
        if (!this.unsaved) this.store.endRefresh?.();
      }
    });
  }

  /** The token call and the save of its answer (rule 3), inside the lock. */
  private async exchangeAndSave(
    trigger: RefreshTrigger,
    chain: StoredTokens,
    oauth: TokenEndpoint,
    started: number,
    sentAt: number,
  ): Promise<string> {
    // Rule 3, as early as it can be: the rotated chain is saved from inside the token call, the moment
    // a valid answer is in (Intuit has retired the old refresh token by then). FileTokenStore renames
    // it into place before save() returns, so no event-loop turn separates the answer from the write.
    let early = null as { next: StoredTokens; saved: Promise<void> } | null;
    const onAnswer = (raw: IntuitTokenResponse) => {
      this.secrets.add(raw.accessToken, raw.refreshToken);
      const next = this.chainFromAnswer(chain, raw, sentAt);
      const saved = this.store.save(next);
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
      throw err;
    }
    markRefreshStep('answer-parsed');
    this.secrets.add(answer.accessToken, answer.refreshToken);
    const next = this.chainFromAnswer(chain, answer, sentAt);
    // Rule 3: the new refresh token is durable before the new access token goes to anyone.
    try {
      if (early && sameChain(early.next, next)) await early.saved;
      else await this.store.save(next);
    } catch (err) {
      this.chain = next;
      this.persisted = false;
      this.unsaved = true;
      this.log(`Saving the refreshed tokens failed: ${(err as Error).message}`);
      // A store's own error says what is wrong and where the chain is (a rescue file, say): keep it.
      if (err instanceof StoreError) throw err;
      throw new StoreError(
        'The new tokens could not be saved to the token store; they are kept in memory and saving is retried.',
      );
    }
    this.chain = next;
    this.persisted = true;
    this.unsaved = false;
    this.onSuccess(trigger, chain, next, answer, started);
    return answer.accessToken;
  }

  /** After an early save whose answer the protocol layer then rejected: the saved chain is the live one. */
  private async keepEarlyChain(early: { next: StoredTokens; saved: Promise<void> }): Promise<void> {
    this.chain = early.next;
    try {
      await early.saved;
      this.persisted = true;
      this.unsaved = false;
    } catch (err) {
      this.persisted = false;
      this.unsaved = true;
      this.log(`Saving the refreshed tokens failed: ${(err as Error).message}`);
    }
  }

  /**
   * Inside the lock: another process sharing the store may have refreshed (or rotated) meanwhile.
   * When the stored chain is of the same lineage and holds a newer, usable access token, take it and
   * skip the token call (except for a manual refresh, which then refreshes with the newest refresh token).
   */
  private async adoptNewerStoredChain(
    trigger: RefreshTrigger,
    staleAccessToken: string | null,
  ): Promise<string | null> {
    const { tokens: latest, warnings } = await this.store.load();
    for (const warning of warnings) {
      this.loadWarnings.push(warning);
      this.record('store_recovered', warning);
    }
    const chain = this.chain;
    if (!latest || !chain) return null;
    if (!sameLineage(latest, chain)) return null;
    this.secrets.add(latest.refreshToken, latest.accessToken);
    const now = this.now();
    const newerAccess =
      latest.accessToken !== null &&
      latest.accessTokenExpiresAt !== null &&
      latest.accessToken !== chain.accessToken &&
      latest.accessToken !== staleAccessToken &&
      now < latest.accessTokenExpiresAt - this.skewMs(latest);
    if (latest.refreshToken !== chain.refreshToken || newerAccess) {
      this.chain = latest;
      this.persisted = true;
      this.unsaved = false;
    }
    if (newerAccess && trigger !== 'manual' && latest.accessToken) {
      this.log('Another process refreshed the token meanwhile; using its result.');
      this.clientError = null;
      this.envFallbackActive = false;
      return latest.accessToken;
    }
    return null;
  }

  private chainFromAnswer(previous: StoredTokens, answer: IntuitTokenResponse, sentAt: number): StoredTokens {
    // Expiries count from when the request was sent, on our clock: skew-proof and conservative.
    const rotated = answer.refreshToken !== previous.refreshToken;
    return {
      ...previous,
      refreshToken: answer.refreshToken,
      refreshTokenIssuedAt: rotated ? sentAt : previous.refreshTokenIssuedAt,
      lastRotatedAt: rotated ? sentAt : previous.lastRotatedAt,
      refreshTokenExpiresAt: sentAt + answer.refreshExpiresIn * 1000,
      refreshTokenHardExpiresAt:
        answer.hardExpiresIn !== null
          ? sentAt + answer.hardExpiresIn * 1000
          : previous.refreshTokenHardExpiresAt,
      accessToken: answer.accessToken,
      accessTokenExpiresAt: sentAt + answer.expiresIn * 1000,
      refreshedAt: sentAt,
    };
  }

  private onSuccess(
    trigger: RefreshTrigger,
    previous: StoredTokens,
    next: StoredTokens,
    answer: IntuitTokenResponse,
    started: number,
  ): void {
    const wasFallback = this.envFallbackActive;
    this.envFallbackActive = false;
    this.interrupted = null;
    this.clientError = null;
    this.reauthError = null;
    this.stats.refreshes += 1;
    this.stats.consecutiveFailures = 0;
    this.stats.failingSince = null;
    const at = this.now();
    this.lastRefresh = { at: new Date(at).toISOString(), ok: true, trigger, durationMs: at - started };
    if (next.refreshToken !== previous.refreshToken) {
      this.record(
        'rotated',
        `Intuit issued a new refresh token (${previewToken(next.refreshToken)}, replacing ${previewToken(previous.refreshToken)}); it was saved before use.`,
        { trigger, intuitTid: answer.intuitTid },
      );
    }
    this.record(
      'refreshed',
      `Access token refreshed (${previewToken(answer.accessToken)}), valid until ${new Date(next.accessTokenExpiresAt ?? at).toISOString()}${wasFallback ? '; no longer using QB_ACCESS_TOKEN' : ''}.`,
      { trigger, intuitTid: answer.intuitTid },
    );
    this.log(`Refreshed (${trigger}); intuit_tid ${answer.intuitTid ?? 'none'}.`);
  }

  private onFailure(trigger: RefreshTrigger, error: TokenError, started: number): void {
    const at = this.now();
    this.stats.failures += 1;
    this.stats.consecutiveFailures += 1;
    this.stats.failingSince ??= new Date(at).toISOString();
    const info = error.toInfo();
    this.lastRefresh = {
      at: new Date(at).toISOString(),
      ok: false,
      trigger,
      durationMs: at - started,
      error: info,
    };
    if (error.kind === 'invalid_grant') this.reauthError = info;
    if (error.kind === 'invalid_client') this.clientError = info;
    this.record('failed', `Refresh failed (${error.kind}): ${error.message}`, {
      trigger,
      intuitTid: error.intuitTid,
    });
    this.log(
      `Refresh failed (${trigger}, ${error.kind}); intuit_tid ${error.intuitTid ?? 'none'}: ${error.message}`,
    );
    if (!error.transient) this.clearTimer();
  }

  private backoffDelay(attempt: number, error: TokenError): number {
    const exponential = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
    // "Equal jitter": at least half the step, so retries from several processes spread out.
    const jittered = Math.round(exponential / 2 + (this.random() * exponential) / 2);
    const asked = error.retryAfterMs !== null ? Math.min(this.retry.maxDelayMs, error.retryAfterMs) : 0;
    return Math.max(jittered, asked);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.backoffWake = () => {
        this.backoffWake = null;
        if (this.backoffTimer !== null) this.timers.clearTimeout(this.backoffTimer);
        this.backoffTimer = null;
        resolve();
      };
      this.backoffTimer = this.timers.setTimeout(() => this.backoffWake?.(), ms);
    });
  }

  private wakeBackoff(): void {
    this.backoffWake?.();
  }

  private async persistPending(): Promise<void> {
    if (!this.chain || !this.unsaved) return;
    await this.store.withRefreshLock(async () => {
      // Read under the lock: a refresh that held it may have saved this chain and rotated past it,
      // and the chain read before waiting would overwrite the newer refresh token in the store.
      const chain = this.chain;
      if (!chain || !this.unsaved) return;
      await this.store.save(chain);
      this.unsaved = false;
      this.persisted = true;
      this.store.endRefresh?.();
    });
  }

  /** Waits for an in-flight refresh, ignoring its outcome. */
  private async settle(): Promise<void> {
    while (this.inflight) await this.inflight.catch(() => undefined);
  }

  // ---------------------------------------------------------------- schedule

  private scheduleAllowed(): boolean {
    return (
      !this.disposed && this.chain !== null && this.oauth !== null && !this.reauthError && !this.clientError
    );
  }

  /** One timer: at access expiry minus the skew; at once on start when there is no usable token. */
  private reschedule(starting: boolean): void {
    this.clearTimer();
    if (!this.scheduleAllowed() || this.inflight) return;
    const chain = this.chain;
    if (!chain) return;
    const now = this.now();
    let at: number | null;
    if (chain.accessToken && chain.accessTokenExpiresAt !== null) {
      at = Math.max(now, chain.accessTokenExpiresAt - this.skewMs(chain));
    } else if (starting && this.refreshOnStart) {
      at = now;
    } else {
      at = null;
    }
    // After a refresh that exhausted its retries, the next scheduled try waits out the cooldown.
    if (at !== null && this.lastRefresh && !this.lastRefresh.ok && at <= now)
      at = now + this.retry.cooldownMs;
    else if (at === null && this.lastRefresh && !this.lastRefresh.ok) at = now + this.retry.cooldownMs;
    if (at === null) return;
    this.nextRefreshAt = at;
    this.timer = this.timers.setTimeout(() => this.onTimer(), Math.min(MAX_TIMER_MS, Math.max(0, at - now)));
  }

  private onTimer(): void {
    this.timer = null;
    this.nextRefreshAt = null;
    if (!this.scheduleAllowed()) return;
    const chain = this.chain;
    // A timer that fired early (the clamp, a clock change) just sets itself again.
    if (chain?.accessTokenExpiresAt && this.now() < chain.accessTokenExpiresAt - this.skewMs(chain)) {
      this.reschedule(false);
      return;
    }
    this.refreshCoalesced('scheduled').catch(() => {
      // Recorded in history and lastRefresh; the schedule has already set its next try.
    });
  }

  /**
   * The skew, but never more than half the token's lifetime: a skew longer than the lifetime (300 s
   * against the demo's 120 s tokens) would otherwise refresh in a loop.
   */
  private skewMs(chain: StoredTokens): number {
    const skew = this.config.refreshSkewSeconds * 1000;
    if (chain.accessTokenExpiresAt === null || chain.refreshedAt === null) return skew;
    return Math.min(skew, Math.max(0, (chain.accessTokenExpiresAt - chain.refreshedAt) / 2));
  }

  private clearTimer(): void {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    this.nextRefreshAt = null;
  }

  // ---------------------------------------------------------------- environment fallback and state

  private chainFromEnvironment(refreshToken: string): StoredTokens {
    const at = this.now();
    return {
      version: 1,
      refreshToken,
      refreshTokenIssuedAt: at,
      lastRotatedAt: null,
      refreshTokenExpiresAt: null,
      refreshTokenHardExpiresAt: null,
      accessToken: null,
      accessTokenExpiresAt: null,
      refreshedAt: null,
      realmId: this.config.realmId,
      origin: { envRefreshTokenSha256: fingerprintToken(refreshToken) },
    };
  }

  /** QB_ACCESS_TOKEN is usable when set, not rejected by the API, and not older than an access token lives. */
  private envTokenUsable(now: number): boolean {
    return (
      !this.forgotten &&
      this.config.accessToken !== null &&
      !this.envTokenRejected &&
      now < this.envTokenExpiresAt() - MIN_USABLE_MS
    );
  }

  private envTokenExpiresAt(): number {
    return this.startedAt + ENV_ACCESS_TOKEN_MAX_LIFETIME_MS;
  }

  private useEnvironmentToken(cause: unknown): string {
    const token = this.config.accessToken;
    if (!token) throw new NotConfiguredError();
    if (!this.envFallbackActive) {
      this.envFallbackActive = true;
      const why = cause instanceof TokenError ? ` after the refresh failed (${cause.kind})` : '';
      this.record(
        'fell_back_to_environment',
        `Using QB_ACCESS_TOKEN (${previewToken(token)}) from the environment${why}; it cannot be renewed and expires within the hour.`,
        { intuitTid: cause instanceof TokenError ? cause.intuitTid : null },
      );
      this.emit();
    }
    return token;
  }

  /** Which access token a caller would get right now, if any. */
  private servedToken(
    now: number,
  ): { token: string; expiresAt: number; source: 'cached' | 'environment' } | null {
    const chain = this.chain;
    if (!this.envFallbackActive && chain?.accessToken && chain.accessTokenExpiresAt !== null) {
      return { token: chain.accessToken, expiresAt: chain.accessTokenExpiresAt, source: 'cached' };
    }
    // With no cached access token (none yet, or Clear dropped it) QB_ACCESS_TOKEN stands in, as in the seed.
    if (
      (this.envFallbackActive || !chain?.accessToken) &&
      this.config.accessToken &&
      this.envTokenUsable(now)
    ) {
      return { token: this.config.accessToken, expiresAt: this.envTokenExpiresAt(), source: 'environment' };
    }
    if (chain?.accessToken && chain.accessTokenExpiresAt !== null) {
      return { token: chain.accessToken, expiresAt: chain.accessTokenExpiresAt, source: 'cached' };
    }
    return null;
  }

  private warnings(now: number): string[] {
    const out = [...(this.config.warnings ?? []), ...this.store.warnings, ...this.loadWarnings];
    if (this.envFallbackActive) {
      out.push(
        'Refreshing failed, so calls use QB_ACCESS_TOKEN from the environment; it cannot be renewed and expires within the hour.',
      );
    }
    if (this.clientError) {
      out.push(`Configuration error: ${this.clientError.message}`);
    }
    if (this.reauthError) {
      const why = this.interrupted ? interruptedRefreshMessage(this.interrupted) : null;
      // The refusal that followed an interrupted refresh says so; any other keeps the plain sentence.
      out.push(
        why !== null && this.reauthError.message === why
          ? why
          : 'QuickBooks no longer accepts the refresh token: reconnect to QuickBooks.',
      );
    }
    if (this.unsaved) {
      out.push(
        'The latest tokens could not be saved to the token store; they are kept in memory until a save succeeds.',
      );
    }
    const chain = this.chain;
    const limit = REFRESH_TOKEN_WARNING_DAYS * 86_400_000;
    if (chain?.refreshTokenExpiresAt != null && chain.refreshTokenExpiresAt - now < limit) {
      out.push(
        `The refresh token expires on ${iso(chain.refreshTokenExpiresAt)} (in under ${REFRESH_TOKEN_WARNING_DAYS} days): reconnect to QuickBooks before then.`,
      );
    }
    if (chain?.refreshTokenHardExpiresAt != null && chain.refreshTokenHardExpiresAt - now < limit) {
      out.push(
        `The authorization reaches Intuit's 5-year limit on ${iso(chain.refreshTokenHardExpiresAt)}: reconnect to QuickBooks before then.`,
      );
    }
    if (chain && !this.oauth) {
      out.push('QB_CLIENT_ID and QB_CLIENT_SECRET are not set: the refresh token cannot be used.');
    }
    return [...new Set(out)];
  }

  private record(
    type: HistoryEventType,
    message: string,
    extra: Partial<Pick<HistoryEvent, 'trigger' | 'intuitTid'>> = {},
  ): void {
    const event: HistoryEvent = {
      at: new Date(this.now()).toISOString(),
      type,
      message: this.secrets.redact(message),
    };
    if (extra.trigger) event.trigger = extra.trigger;
    if (extra.intuitTid !== undefined) event.intuitTid = extra.intuitTid;
    this.history = [event, ...this.history].slice(0, HISTORY_LIMIT);
  }

  private emit(): void {
    this.armBoundaryTimer();
    if (this.listeners.size === 0) return;
    const status = this.getStatus();
    for (const listener of this.listeners) {
      try {
        listener(status);
      } catch (err) {
        this.log(`A status listener threw: ${(err as Error).message}`);
      }
    }
  }

  /**
   * Status listeners hear about every change, including the ones time makes on its own. The refresh
   * timer covers the usual case (it fires at the skew boundary); this one covers the rest (no keys,
   * rejected keys, the environment's token, a failed refresh waiting out its cooldown past expiry).
   */
  private armBoundaryTimer(): void {
    this.clearBoundaryTimer();
    if (this.disposed || this.listeners.size === 0 || this.inflight || this.reauthError) return;
    const now = this.now();
    const serving = this.servedToken(now);
    if (!serving) return;
    const skew =
      serving.source === 'cached' && this.chain
        ? this.skewMs(this.chain)
        : this.config.refreshSkewSeconds * 1000;
    const next = [serving.expiresAt - skew, serving.expiresAt].find((at) => at > now);
    if (next === undefined) return;
    if (this.nextRefreshAt !== null && this.nextRefreshAt <= next) return;
    this.boundaryTimer = this.timers.setTimeout(
      () => {
        this.boundaryTimer = null;
        this.emit();
      },
      Math.min(MAX_TIMER_MS, next - now + 1),
    );
  }

  private clearBoundaryTimer(): void {
    if (this.boundaryTimer !== null) this.timers.clearTimeout(this.boundaryTimer);
    this.boundaryTimer = null;
  }

  private assertOpen(): void {
    if (this.disposed) throw new Error('The token manager has been disposed.');
  }
}

/** The default connection's display name until the admin names it. */
export function defaultConnectionName(environment: QbEnvironment): string {
  return `QuickBooks ${environment}`;
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** Why the refresh token is refused after a restart that found a refresh left in flight. */
export function interruptedRefreshMessage(note: RefreshInFlightNote): string {
  return (
    `QB Token Desk was stopped during a refresh (started ${new Date(note.startedAt).toISOString()}) after Intuit ` +
    'had issued a new refresh token, before it could be saved: that token is lost, and Intuit no longer accepts ' +
    'the previous one (invalid_grant). Reconnect to QuickBooks.'
  );
}

function asTokenError(err: unknown): TokenError | null {
  return err instanceof TokenError ? err : null;
}

/** The same tokens and times (the early save and the library's answer built the same chain). */
function sameChain(a: StoredTokens, b: StoredTokens): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Both chains descend from the same starting point (the same environment token, or the same Connect). */
function sameLineage(a: StoredTokens, b: StoredTokens): boolean {
  return a.origin.envRefreshTokenSha256 === b.origin.envRefreshTokenSha256;
}
