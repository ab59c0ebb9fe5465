// The token engine for one connection: refreshes ahead of expiry on one timer and on demand,
// coalesces concurrent refreshes into one promise, serialises refreshes across processes (and
// machines) through the store's per-connection lock, writes every new refresh token before anyone
// sees the new access token, and tells transient failures (retried with back-off, same refresh
// token) from terminal ones (invalid_grant, invalid_client).
//
// What is true about the connection lives in its shared record (connection-record.ts), read and
// written under the lock; TokenStatus is computed from that record plus what only this process
// knows (token-status.ts). Token values live only in `chain`, `shared` and `config`; everything the
// outside sees is built from previews.
import {
  DEFAULT_CONNECTION_ID,
  type ConnectionId,
  type HistoryEvent,
  type HistoryEventType,
  type QbEnvironment,
  type RefreshTrigger,
  type TokenStatus,
} from '../shared/contract';
import { previewToken } from '../shared/preview';
import {
  defaultProfile,
  historyEvent,
  rejectionOf,
  type ConnectionRecord,
  type HealthChange,
  type RefreshAttemptFacts,
} from './connection-record';
import type { ConnectionStore } from './connection-store';
import { ConnectionSession, isTransientStoreError, SaveFailed } from './connection-session';
import { NotConfiguredError, ReauthorizationRequiredError, StoreError, TokenError } from './errors';
import type { IntuitTokenResponse, TokenEndpoint } from './intuit-oauth';
import { SecretRegistry, withLogFields, type LogFn } from './log';
import { markRefreshStep } from './refresh-markers';
import {
  BackoffSleep,
  backoffDelay,
  DEFAULT_RETRY_POLICY,
  MAX_TIMER_MS,
  scheduledRefreshAt,
  systemTimers,
  type RetryPolicy,
  type Timers,
} from './refresh-timing';
import { noTelemetry, type EngineTelemetry, type RefreshOutcome } from './telemetry';
import {
  chainFromAnswer,
  chainFromAuthorization,
  chainFromEnvironment,
  sameChain,
  sameLineage,
  startingChain,
  withoutAccessToken,
  type AuthorizationAnswer,
} from './token-chain';
import {
  computeTokenStatus,
  environmentTokenUsable,
  MIN_USABLE_MS,
  servedSkewMs,
  servedToken,
  skewMs,
  type EnvironmentAccessToken,
  type ProcessFacts,
} from './token-status';
import { fingerprintToken, type RefreshInFlightNote, type StoredTokens } from './token-store';

export { defaultConnectionName } from './connection-record';

export { DEFAULT_RETRY_POLICY, systemTimers, type RetryPolicy, type Timers } from './refresh-timing';

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
  /** Display name of a connection this manager creates the record of (default "QuickBooks <environment>"). */
  name?: string;
}

export interface TokenManagerOptions {
  config: TokenManagerConfig;
  /** Where the connection's record lives; several managers (connections) may share one store. */
  store: ConnectionStore;
  /** The connection this manager serves (default: the one the QB_* environment defines). */
  connectionId?: ConnectionId;
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
  /** Counters and durations for operators (default: none). */
  telemetry?: EngineTelemetry;
  /** Names this process in history events and lastRefresh (`qb-token`, `desktop`, a library user's app). */
  clientName?: string;
  /** How long a refresh waits for the connection's lock before a transient error (default 30 s). */
  lockWaitMs?: number;
  /** While the store does not answer, it is asked again this often, ms (default 5 s). */
  storeRetryMs?: number;
}

export type AdoptAuthorizationInput = AuthorizationAnswer;

/** Access tokens live one hour: an environment token first seen at T is certainly dead by T + 1 h. */
const ENV_ACCESS_TOKEN_MAX_LIFETIME_MS = 3600_000;

type StatusListener = (status: TokenStatus) => void;

/** The access token callers get without a refresh, and until when (the hot path). */
interface HotToken {
  until: number;
  promise: Promise<string>;
}

export class TokenManager {
  readonly connectionId: ConnectionId;
  readonly secrets: SecretRegistry;
  private readonly config: TokenManagerConfig;
  private readonly store: ConnectionStore;
  private readonly oauth: TokenEndpoint | null;
  private readonly now: () => number;
  private readonly timers: Timers;
  private readonly log: LogFn;
  private readonly retry: RetryPolicy;
  private readonly random: () => number;
  private readonly refreshOnStart: boolean;
  private readonly telemetry: EngineTelemetry;
  private readonly clientName: string | undefined;

  /** The record as the store has it, the changes not written yet, and whether the store answers. */
  private readonly session: ConnectionSession;

  // ---- the chain in use (it differs from shared.tokens while unsaved, or when it came from QB_REFRESH_TOKEN)
  private chain: StoredTokens | null = null;
  /** The chain is what the store holds (refreshToken.source 'stored'). */
  private chainStored = false;
  /** The chain's latest version could not be written: saved before anything is handed out. */
  private unsaved = false;

  /** Profile changes (a name, the company name) not in the store yet (written with the next write). */
  private profileChanges: Partial<Pick<ConnectionRecord['profile'], 'name' | 'companyName'>> = {};

  // ---- what only this process knows
  private readonly startedAt: number;
  private envTokenRejected = false;
  private envFallbackActive = false;
  private forgotten = false;
  /** A previous process was stopped with a token call in flight using the chain's refresh token. */
  private interrupted: RefreshInFlightNote | null = null;
  private clientError: TokenError | null = null;
  /** The store has been read once (the start's decision, rule 6, is made). */
  private loaded = false;
  private inflight: Promise<string> | null = null;
  private retrying: { attempt: number; maxAttempts: number } | null = null;
  /** When the back-off wait of a failing refresh ends (shown as the next refresh time). */
  private retryAt: number | null = null;
  private timer: unknown = null;
  /** Fires when the state would change by time alone (valid -> expiring -> expired) and nothing else acts then. */
  private boundaryTimer: unknown = null;
  private nextRefreshAt: number | null = null;
  private readonly backoff: BackoffSleep;
  private disposed = false;
  private hot: HotToken | null = null;
  private unwatch: (() => void) | null = null;
  private rereading: Promise<void> | null = null;
  /** A change came in while `rereading` was in flight: read once more when it ends. */
  private rereadAgain = false;
  private readonly listeners = new Set<StatusListener>();

  constructor(options: TokenManagerOptions) {
    this.connectionId = options.connectionId ?? DEFAULT_CONNECTION_ID;
    this.config = options.config;
    this.store = options.store;
    this.oauth = options.oauth;
    this.now = options.now ?? Date.now;
    this.timers = options.timers ?? systemTimers;
    // Every line names its connection (a key of its own in QB_LOG_FORMAT=json).
    this.log = withLogFields(options.log ?? (() => undefined), { connection: this.connectionId });
    this.retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.random = options.random ?? Math.random;
    this.refreshOnStart = options.refreshOnStart ?? true;
    this.secrets = options.secrets ?? new SecretRegistry();
    this.telemetry = options.telemetry ?? noTelemetry;
    this.clientName = options.clientName;
    this.secrets.pin(this.config.refreshToken, this.config.accessToken);
    this.startedAt = this.now();
    this.backoff = new BackoffSleep(this.timers);
    this.session = new ConnectionSession({
      store: this.store,
      connectionId: this.connectionId,
      now: this.now,
      timers: this.timers,
      log: this.log,
      telemetry: this.telemetry,
      lockWaitMs: options.lockWaitMs ?? 30_000,
      retryMs: options.storeRetryMs ?? 5_000,
      profile: (base) => this.profile(base),
      onRead: (record) => {
        if (record?.tokens) this.secrets.add(record.tokens.refreshToken, record.tokens.accessToken);
      },
      onRetry: () => void this.recoverStore(),
      onFailed: () => this.clearTimer(),
    });
  }

  /**
   * Opens the store, reads the connection's record and decides which chain to use (DESIGN rule 6).
   * Call once before anything else. A store that cannot be reached does not stop the start (the status
   * says so and the store is asked again until it answers); a wrong QB_STORE_KEY or an unusable store
   * configuration does (StoreKeyError, StoreConfigError), as any configuration error does.
   */
  async start(): Promise<TokenStatus> {
    try {
      await this.store.open();
      const { record, warnings } = await this.store.load(this.connectionId);
      this.adoptAtStart(record, warnings);
      this.loaded = true;
      this.interrupted = await this.interruptedNoteFor(this.chain);
    } catch (err) {
      if (!isTransientStoreError(err)) throw err;
      this.session.failed(err);
      // Until the store answers: the environment's chain, tentatively. Nothing is refreshed without the
      // lock, so it is never used against a stored chain that may have moved on.
      this.adoptAtStart(null, []);
    }
    this.unwatch = this.store.watch((change) => {
      if (change.id === this.connectionId && change.revision > (this.session.shared?.revision ?? 0))
        void this.reread();
    });
    this.reschedule(true);
    this.emit();
    return this.getStatus();
  }

  // ---------------------------------------------------------------- public surface

  getStatus(): TokenStatus {
    return computeTokenStatus(this.view(), this.facts(), this.now());
  }

  /**
   * The status a record read just now would give, with this process's facts: the alert claim decides
   * on the record it read under the lock, not on this process's view, which may be a moment old.
   */
  statusFor(record: ConnectionRecord): TokenStatus {
    return computeTokenStatus(record, this.facts(), this.now());
  }

  onStatusChanged(listener: StatusListener): () => void {
    this.listeners.add(listener);
    this.armBoundaryTimer();
    return () => this.listeners.delete(listener);
  }

  /**
   * A usable access token: the cached one, else a refresh (coalesced), else the environment's
   * fallback. While the cached token is good this is one comparison and an already-resolved promise.
   */
  getAccessToken(): Promise<string> {
    const hot = this.hot;
    if (hot !== null && this.now() < hot.until) return hot.promise;
    return this.accessTokenSlowPath();
  }

  private async accessTokenSlowPath(): Promise<string> {
    this.assertOpen();
    if (this.unsaved) await this.persistUnsaved();
    const now = this.now();
    const chain = this.chain;
    if (!this.envFallbackActive && chain?.accessToken && chain.accessTokenExpiresAt !== null) {
      const until = chain.accessTokenExpiresAt - MIN_USABLE_MS;
      if (now < until) {
        this.hot = { until, promise: Promise.resolve(chain.accessToken) };
        return chain.accessToken;
      }
    }
    // While falling back, the schedule (not every caller) retries the refresh after its cooldown.
    if (this.envFallbackActive && !this.inflight && this.envTokenUsable(now))
      return this.useEnvironmentToken(null);
    if (!chain) {
      if (this.envTokenUsable(now)) return this.useEnvironmentToken(null);
      throw new NotConfiguredError();
    }
    const rejection = rejectionOf(this.view());
    if (rejection) {
      if (this.envTokenUsable(now)) return this.useEnvironmentToken(null);
      throw new ReauthorizationRequiredError(undefined, rejection.error.intuitTid);
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
    if (staleAccessToken === this.config.accessToken) {
      this.envTokenRejected = true;
      this.hot = null;
    }
    const current = servedToken(this.chain, this.facts(), now);
    // A different token answers the 401 only if callers are really being given it (not a stand-in).
    const handedOut = current?.source === 'cached' || this.envFallbackActive;
    if (current && handedOut && current.token !== staleAccessToken && now < current.expiresAt - MIN_USABLE_MS)
      return current.token;
    if (this.inflight) return this.inflight;
    if (!this.chain) throw new NotConfiguredError();
    const rejection = rejectionOf(this.view());
    if (rejection) throw new ReauthorizationRequiredError(undefined, rejection.error.intuitTid);
    // The stale token is dead at Intuit whatever its expiry says.
    if (this.chain.accessToken === staleAccessToken)
      this.setChain({ ...this.chain, accessTokenExpiresAt: now });
    this.session.pending.push({
      type: 'retried_after_401',
      events: [
        this.event(
          'retried_after_401',
          'QuickBooks answered 401 to an API call: refreshing once and retrying it.',
          { trigger: 'on-401' },
        ),
      ],
    });
    return this.refreshCoalesced('on-401', staleAccessToken);
  }

  /** Drops the cached access token only; the refresh token (stored or not) is kept. */
  async clear(): Promise<TokenStatus> {
    this.assertOpen();
    await this.settle();
    const cleared = this.event(
      'cleared',
      'Cached access token cleared; the refresh token is kept. The next call refreshes.',
    );
    if (this.chain) {
      await this.underLock(async (latest) => {
        const chain = this.chain;
        if (!chain) return;
        // Another process may have rotated the refresh token meanwhile, which must not be overwritten.
        // An unsaved chain is newer than the store's (its refresh token replaced the stored one): it stays.
        const base =
          !this.unsaved && latest?.tokens && sameLineage(latest.tokens, chain) ? latest.tokens : chain;
        const next = withoutAccessToken(base);
        if (this.chainStored || this.unsaved || base === latest?.tokens) {
          await this.write(latest, next, [{ type: 'events', events: [cleared] }]);
          // The refresh-in-flight note outlives an unsaved chain (attempt()); it is saved now.
          if (this.unsaved) this.store.endRefresh?.(this.connectionId);
          this.unsaved = false;
          this.chainStored = true;
        } else {
          this.session.pending.push({ type: 'events', events: [cleared] });
        }
        this.setChain(next);
      });
    } else {
      this.session.pending.push({ type: 'events', events: [cleared] });
    }
    this.envFallbackActive = false;
    this.reschedule(false);
    this.emit();
    return this.getStatus();
  }

  /**
   * Takes over a new authorization (the Connect flow): stores the chain first, then serves it.
   * Clears a previous rejection or configuration error; the 5-year cap starts anew.
   */
  async adoptAuthorization(input: AdoptAuthorizationInput): Promise<TokenStatus> {
    this.assertOpen();
    await this.settle();
    this.secrets.add(input.accessToken, input.refreshToken);
    const chain = chainFromAuthorization(
      { ...input, realmId: input.realmId ?? this.config.realmId },
      this.config.refreshToken,
      this.now(),
    );
    const connected = this.event(
      'connected',
      `Connected to QuickBooks${chain.realmId ? ` (company ${chain.realmId})` : ''}.`,
    );
    await this.underLock((latest) =>
      this.write(latest, chain, [{ type: 'chain_replaced', events: [connected] }]),
    );
    this.setChain(chain);
    this.chainStored = true;
    this.unsaved = false;
    this.forgotten = false;
    this.interrupted = null;
    this.clientError = null;
    this.envFallbackActive = false;
    this.reschedule(false);
    this.emit();
    return this.getStatus();
  }

  /**
   * Takes over a bare refresh token (`qb-token connections add`): stored first, like a new
   * authorization; the first call that needs an access token refreshes with it.
   */
  async adoptRefreshToken(refreshToken: string, realmId: string | null): Promise<TokenStatus> {
    this.assertOpen();
    await this.settle();
    this.secrets.add(refreshToken);
    const envToken = this.config.refreshToken;
    const chain: StoredTokens = {
      ...chainFromEnvironment(refreshToken, realmId ?? this.config.realmId, this.now()),
      // Recorded so QB_REFRESH_TOKEN wins over this chain only if it changes later (rule 6).
      origin: { envRefreshTokenSha256: envToken ? fingerprintToken(envToken) : null },
    };
    const connected = this.event(
      'connected',
      `Connected with a refresh token given by hand (${previewToken(refreshToken)})${chain.realmId ? ` for company ${chain.realmId}` : ''}.`,
    );
    await this.underLock((latest) =>
      this.write(latest, chain, [{ type: 'chain_replaced', events: [connected] }]),
    );
    this.setChain(chain);
    this.chainStored = true;
    this.unsaved = false;
    this.forgotten = false;
    this.interrupted = null;
    this.clientError = null;
    this.envFallbackActive = false;
    this.reschedule(false);
    this.emit();
    return this.getStatus();
  }

  /** Renames the connection or records its company name (from CompanyInfo), in the shared record. */
  async updateProfile(
    changes: Partial<Pick<ConnectionRecord['profile'], 'name' | 'companyName'>>,
  ): Promise<TokenStatus> {
    this.assertOpen();
    this.profileChanges = { ...this.profileChanges, ...changes };
    try {
      await this.underLock((latest) =>
        this.write(
          latest,
          this.chainStored || this.unsaved ? (latest?.tokens ?? this.chain) : (latest?.tokens ?? null),
          [],
        ),
      );
    } finally {
      this.emit();
    }
    return this.getStatus();
  }

  /**
   * Disconnect: the record keeps its history but no chain; the status becomes not_configured.
   * `outcome` ends the history's "Disconnected: …" line (what Intuit said to the revoke).
   */
  async forget(outcome = 'the stored tokens were forgotten.'): Promise<TokenStatus> {
    this.assertOpen();
    await this.settle();
    const disconnected = this.event('disconnected', `Disconnected: ${outcome}`);
    await this.underLock((latest) =>
      this.write(latest, null, [{ type: 'chain_replaced', events: [disconnected] }]),
    );
    this.store.endRefresh?.(this.connectionId);
    this.setChain(null);
    this.chainStored = false;
    this.unsaved = false;
    this.forgotten = true;
    this.interrupted = null;
    this.clientError = null;
    this.envFallbackActive = false;
    this.reschedule(false);
    this.emit();
    return this.getStatus();
  }

  /** Resolves once no refresh is in flight (whatever its outcome). */
  whenIdle(): Promise<void> {
    return this.settle();
  }

  /** Stops the timers and the store watch, cuts a back-off wait short and waits for an in-flight refresh. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.hot = null;
    this.unwatch?.();
    this.unwatch = null;
    this.clearTimer();
    this.clearBoundaryTimer();
    this.session.close();
    this.backoff.cut();
    await this.settle();
    await this.rereading;
    this.listeners.clear();
  }

  // ---------------------------------------------------------------- the record

  /** The record as this process sees it: the shared one, with the chain in use and the changes not yet written. */
  private view(): ConnectionRecord | null {
    const record = this.session.view(this.chain);
    // A rename or a company name not yet written shows at once.
    if (!record || Object.keys(this.profileChanges).length === 0) return record;
    return { ...record, profile: { ...record.profile, ...this.profileChanges } };
  }

  private profile(base: ConnectionRecord | null): ConnectionRecord['profile'] {
    const profile = base?.profile ?? {
      ...defaultProfile(this.config.environment, this.config.realmId),
      ...(this.config.name ? { name: this.config.name } : {}),
    };
    // The QB_* environment defines its connection's environment and, until a chain knows better, its realm.
    return {
      ...profile,
      ...this.profileChanges,
      environment: this.config.environment,
      realmId: profile.realmId ?? this.config.realmId,
    };
  }

  private adoptAtStart(stored: ConnectionRecord | null, warnings: readonly string[]): void {
    this.session.shared = stored;
    this.session.loadWarnings = [...warnings];
    for (const warning of warnings)
      this.session.pending.push({ type: 'events', events: [this.event('store_recovered', warning)] });
    const envToken = this.config.refreshToken;
    const storedChain = stored?.tokens ?? null;
    if (storedChain) this.secrets.add(storedChain.refreshToken, storedChain.accessToken);
    switch (startingChain(storedChain, envToken)) {
      case 'stored':
        this.setChain(storedChain);
        this.chainStored = true;
        this.log(
          `Using the stored token chain (refresh token ${previewToken(storedChain?.refreshToken ?? '')}).`,
        );
        break;
      case 'environment':
        this.setChain(chainFromEnvironment(envToken ?? '', this.config.realmId, this.now()));
        this.chainStored = false;
        if (storedChain) {
          this.session.pending.push({
            type: 'events',
            events: [
              this.event(
                'environment_token_adopted',
                `QB_REFRESH_TOKEN (${previewToken(envToken ?? '')}) differs from the one the stored chain started from: the environment wins (you reconnected).`,
              ),
            ],
          });
        }
        break;
      case 'none':
        this.setChain(null);
        this.chainStored = false;
    }
  }

  private async interruptedNoteFor(chain: StoredTokens | null): Promise<RefreshInFlightNote | null> {
    const note = (await this.store.interruptedRefresh?.(this.connectionId)) ?? null;
    if (!note || !chain || fingerprintToken(chain.refreshToken) !== note.refreshTokenSha256) return null;
    this.log(
      `A refresh started at ${new Date(note.startedAt).toISOString()} never finished (the app was stopped during it); if Intuit rotated the refresh token then, the next refresh is refused.`,
    );
    return note;
  }

  /**
   * Takes in what another process wrote (a watch event, the store answering again), outside the lock.
   * The shared health always wins; the chain is taken when it is of our lineage (rule 6) and ours is
   * not newer (an unsaved chain is).
   */
  private adoptShared(latest: ConnectionRecord | null): void {
    if (!latest || latest.revision <= (this.session.shared?.revision ?? 0)) return;
    this.session.shared = latest;
    if (this.unsaved) return;
    const stored = latest.tokens;
    if (stored === null) {
      // Another process disconnected the connection.
      if (this.chainStored) {
        this.setChain(null);
        this.chainStored = false;
        this.forgotten = true;
      }
      return;
    }
    if (startingChain(stored, this.config.refreshToken) !== 'stored') return;
    this.secrets.add(stored.refreshToken, stored.accessToken);
    if (!this.chain || !sameChain(this.chain, stored)) {
      this.setChain(stored);
      this.chainStored = true;
      this.forgotten = false;
      this.envFallbackActive = false;
      // Another process's refresh worked with these keys: whatever Intuit said to ours is stale now.
      if (latest.health.lastRefresh?.ok) this.clientError = null;
    }
  }

  private reread(): Promise<void> {
    // A change reported while a read is in flight may be newer than what that read saw: read again after it.
    if (this.rereading) this.rereadAgain = true;
    this.rereading ??= (async () => {
      this.rereadAgain = false;
      try {
        const { record } = await this.store.load(this.connectionId);
        this.session.answered();
        this.adoptShared(record);
      } catch (err) {
        if (!(err instanceof StoreError)) throw err;
        this.session.failed(err);
      } finally {
        this.rereading = null;
      }
      if (this.disposed) return;
      this.reschedule(false);
      this.emit();
      if (this.rereadAgain) void this.reread();
    })().catch((err: unknown) => this.log(`Re-reading the store failed: ${(err as Error).message}`));
    return this.rereading;
  }

  /** Runs `fn` under the connection's lock with the record as it is now in the store (see ConnectionSession). */
  private underLock<T>(fn: (latest: ConnectionRecord | null) => Promise<T>): Promise<T> {
    return this.session.underLock(fn, (warning) => this.noteLoadWarning(warning));
  }

  private write(
    latest: ConnectionRecord | null,
    chain: StoredTokens | null,
    changes: HealthChange[],
  ): Promise<void> {
    const profileChanges = this.profileChanges;
    const written = this.session.write(latest, chain, changes);
    // Written: the record carries them now (a newer change made meanwhile stays).
    void written.then(
      () => {
        if (this.profileChanges === profileChanges) this.profileChanges = {};
      },
      () => undefined,
    );
    return written;
  }

  /** What loading found: a warning in the status and an event in the history. */
  private noteLoadWarning(warning: string): void {
    this.session.loadWarnings.push(warning);
    this.session.pending.push({ type: 'events', events: [this.event('store_recovered', warning)] });
  }

  /** The store answers again: take in what it holds, write what could not be written, carry on. */
  private async recoverStore(): Promise<void> {
    if (this.disposed || this.session.healthy) return;
    try {
      await this.store.open();
      const { record, warnings } = await this.store.load(this.connectionId);
      this.session.answered();
      if (!this.loaded) {
        // The start could not read the store: decide now, as the start would have.
        this.adoptAtStart(record, warnings);
        this.loaded = true;
        this.interrupted = await this.interruptedNoteFor(this.chain);
      } else {
        for (const warning of warnings) this.noteLoadWarning(warning);
        this.adoptShared(record);
      }
      if (this.unsaved || this.session.pending.length > 0) await this.persistUnsaved();
    } catch (err) {
      if (!(err instanceof StoreError)) {
        this.log(`Reconnecting to the token store failed: ${(err as Error).message}`);
        this.session.armRetry();
        return;
      }
      if (!(err instanceof SaveFailed)) this.session.failed(err);
      else this.session.armRetry();
    }
    if (this.disposed) return;
    this.reschedule(false);
    this.emit();
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
        const error = err instanceof TokenError ? err : null;
        if (error === null) {
          this.attempted(
            trigger,
            err instanceof NotConfiguredError ? 'not_configured' : 'store_error',
            started,
          );
          if (err instanceof SaveFailed) throw err.toStoreError();
          throw err;
        }
        if (!error.transient || attempt >= this.retry.maxAttempts || this.disposed) throw error;
        const delay = backoffDelay(attempt, this.retry, this.random, error.retryAfterMs);
        this.retrying = { attempt: attempt + 1, maxAttempts: this.retry.maxAttempts };
        this.retryAt = this.now() + delay;
        this.log(
          `Refresh attempt ${attempt} failed (${error.kind}); retrying in ${delay} ms with the same refresh token.`,
          { level: 'warn', trigger, intuitTid: error.intuitTid },
        );
        this.emit();
        try {
          await this.backoff.sleep(delay);
        } finally {
          this.retryAt = null;
        }
        if (this.disposed) throw error;
      }
    }
  }

  private attempted(trigger: RefreshTrigger, outcome: RefreshOutcome, started: number): void {
    this.telemetry.refreshAttempted({
      connectionId: this.connectionId,
      trigger,
      outcome,
      durationMs: this.now() - started,
    });
  }

  /** One attempt inside the cross-process lock. Returns the access token to hand out. */
  private async attempt(trigger: RefreshTrigger, staleAccessToken: string | null): Promise<string> {
    if (!this.oauth)
      throw new NotConfiguredError(
        'QB_CLIENT_ID and QB_CLIENT_SECRET are not set: the refresh token cannot be used.',
      );
    const oauth = this.oauth;
    return this.underLock(async (latest) => {
      const started = this.now();
      // A chain we could not save earlier is newer than the store's: save it first, never adopt over it.
      if (this.unsaved && this.chain) {
        await this.write(latest, this.chain, []);
        this.unsaved = false;
        this.chainStored = true;
        latest = this.session.shared;
      }
      const adopted = this.adoptNewerStoredChain(latest, trigger, staleAccessToken);
      if (adopted !== null) {
        if (this.session.pending.length > 0) await this.write(latest, this.chain, []).catch(() => undefined);
        return adopted;
      }
      const chain = this.chain;
      if (!chain) throw new NotConfiguredError();
      const sentAt = this.now();
      // Evidence for the next start, should this process be stopped before the answer is saved.
      this.store.beginRefresh?.(this.connectionId, {
        startedAt: sentAt,
        refreshTokenSha256: fingerprintToken(chain.refreshToken),
      });
      try {
        return await this.exchangeAndSave(latest, trigger, chain, oauth, started, sentAt);
      } finally {
        // An unsaved chain keeps the note: a stop before the retried save loses it just the same.
        if (!this.unsaved) this.store.endRefresh?.(this.connectionId);
      }
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
    // Rule 3, as early as it can be: the rotated chain is written from inside the token call, the moment
    // a valid answer is in (Intuit has retired the old refresh token by then). The file store renames
    // it into place before save() returns, so no event-loop turn separates the answer from the write.
    let early = null as { next: StoredTokens; saved: Promise<void> } | null;
    const onAnswer = (raw: IntuitTokenResponse) => {
      this.secrets.add(raw.accessToken, raw.refreshToken);
      const next = chainFromAnswer(chain, raw, sentAt);
      const saved = this.write(latest, next, [this.successChange(trigger, chain, next, raw, started)]);
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
    this.secrets.add(answer.accessToken, answer.refreshToken);
    const next = chainFromAnswer(chain, answer, sentAt);
    // Rule 3: the new refresh token is durable before the new access token goes to anyone.
    try {
      const saved = early as { next: StoredTokens; saved: Promise<void> } | null;
      if (saved && sameChain(saved.next, next)) await saved.saved;
      // The early write (done or pending) already carries this success; this one only fixes the chain.
      else if (saved)
        await saved.saved
          .catch(() => undefined)
          .then(() => this.write(this.session.shared ?? latest, next, []));
      else await this.write(latest, next, [this.successChange(trigger, chain, next, answer, started)]);
    } catch (err) {
      this.setChain(next);
      this.chainStored = false;
      this.unsaved = true;
      throw err;
    }
    this.setChain(next);
    this.chainStored = true;
    this.unsaved = false;
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
    const attempt = this.attemptFacts(trigger, started);
    const events = [];
    if (next.refreshToken !== previous.refreshToken) {
      events.push(
        this.event(
          'rotated',
          `Intuit issued a new refresh token (${previewToken(next.refreshToken)}, replacing ${previewToken(previous.refreshToken)}); it was saved before use.`,
          { trigger, intuitTid: answer.intuitTid },
        ),
      );
    }
    const expiresAt = new Date(next.accessTokenExpiresAt ?? attempt.at).toISOString();
    events.push(
      this.event(
        'refreshed',
        `Access token refreshed (${previewToken(answer.accessToken)}), valid until ${expiresAt}${this.envFallbackActive ? '; no longer using QB_ACCESS_TOKEN' : ''}.`,
        { trigger, intuitTid: answer.intuitTid, accessTokenExpiresAt: expiresAt },
      ),
    );
    return { type: 'refresh_succeeded', attempt, events };
  }

  private onSuccess(trigger: RefreshTrigger, started: number, answer: IntuitTokenResponse): void {
    this.envFallbackActive = false;
    this.interrupted = null;
    this.clientError = null;
    this.attempted(trigger, 'ok', started);
    this.log(`Refreshed (${trigger}); intuit_tid ${answer.intuitTid ?? 'none'}.`, {
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
    let error = thrown;
    // Only while the refused token is the one the interrupted refresh sent (not one adopted since).
    const interrupted =
      this.interrupted && fingerprintToken(chain.refreshToken) === this.interrupted.refreshTokenSha256
        ? this.interrupted
        : null;
    if (error.kind === 'invalid_grant' && interrupted) {
      error = new TokenError('invalid_grant', interruptedRefreshMessage(interrupted), {
        intuitTid: error.intuitTid,
        status: error.status,
      });
    }
    if (error.kind === 'invalid_client') this.clientError = error;
    const info = error.toInfo();
    const change: HealthChange = {
      type: 'refresh_failed',
      attempt: this.attemptFacts(trigger, started),
      error: info,
      refreshTokenSha256: fingerprintToken(chain.refreshToken),
      ...(error.kind === 'invalid_grant' && interrupted ? { cause: 'interrupted_refresh' as const } : {}),
      events: [
        this.event('failed', `Refresh failed (${error.kind}): ${error.message}`, {
          trigger,
          intuitTid: error.intuitTid,
        }),
      ],
    };
    this.attempted(trigger, error.kind, started);
    this.log(
      `Refresh failed (${trigger}, ${error.kind}); intuit_tid ${error.intuitTid ?? 'none'}: ${error.message}`,
      { level: error.transient ? 'warn' : 'error', trigger, intuitTid: error.intuitTid },
    );
    if (!error.transient) this.clearTimer();
    const chainToWrite =
      this.chainStored || this.unsaved
        ? this.chain
        : latest?.tokens && !sameLineage(latest.tokens, chain)
          ? latest.tokens
          : chain;
    try {
      await this.write(this.session.shared ?? latest, chainToWrite, [change]);
      if (chainToWrite === chain) this.chainStored = true;
    } catch {
      // Kept in `pending`: the view shows it now, the next write stores it.
    }
    return error;
  }

  /** After an early save whose answer the protocol layer then rejected: the saved chain is the live one. */
  private async keepEarlyChain(early: { next: StoredTokens; saved: Promise<void> }): Promise<void> {
    this.setChain(early.next);
    try {
      await early.saved;
      this.chainStored = true;
      this.unsaved = false;
    } catch {
      this.chainStored = false;
      this.unsaved = true;
    }
  }

  /**
   * Inside the lock: another process sharing the store may have refreshed (or rotated) meanwhile.
   * When the stored chain is of the same lineage and holds a newer, usable access token, take it and
   * skip the token call (except for a manual refresh, which then refreshes with the newest refresh token).
   */
  private adoptNewerStoredChain(
    latest: ConnectionRecord | null,
    trigger: RefreshTrigger,
    staleAccessToken: string | null,
  ): string | null {
    const stored = latest?.tokens ?? null;
    const chain = this.chain;
    if (!stored || !chain || !sameLineage(stored, chain)) return null;
    const now = this.now();
    // Usable beyond the skew and not the token a 401 refused: someone refreshed since ours fell due
    // (another process, or this one's watch already took its result in).
    const newerAccess =
      stored.accessToken !== null &&
      stored.accessTokenExpiresAt !== null &&
      stored.accessToken !== staleAccessToken &&
      now < stored.accessTokenExpiresAt - skewMs(stored, this.config.refreshSkewSeconds);
    if (stored.refreshToken !== chain.refreshToken || newerAccess) {
      this.setChain(stored);
      this.chainStored = true;
      this.unsaved = false;
    }
    if (newerAccess && trigger !== 'manual' && stored.accessToken) {
      this.log('Another process refreshed the token meanwhile; using its result.');
      this.clientError = null;
      this.envFallbackActive = false;
      return stored.accessToken;
    }
    return null;
  }

  private attemptFacts(trigger: RefreshTrigger, started: number): RefreshAttemptFacts {
    const at = this.now();
    const facts: RefreshAttemptFacts = { at, trigger, durationMs: at - started };
    if (this.clientName !== undefined) facts.client = this.clientName;
    return facts;
  }

  /** Writes an unsaved chain (and health changes not yet written) under the lock. */
  private async persistUnsaved(): Promise<void> {
    if (!this.unsaved && this.session.pending.length === 0) return;
    try {
      await this.underLock(async (latest) => {
        // Read under the lock: a refresh that held it may have saved this chain and rotated past it,
        // and the chain read before waiting would overwrite the newer refresh token in the store.
        if (this.unsaved && this.chain) {
          await this.write(latest, this.chain, []);
          this.unsaved = false;
          this.chainStored = true;
          this.store.endRefresh?.(this.connectionId);
        } else if (this.session.pending.length > 0) {
          await this.write(
            latest,
            this.chainStored ? (latest?.tokens ?? this.chain) : (latest?.tokens ?? null),
            [],
          );
        }
      });
    } catch (err) {
      throw err instanceof SaveFailed ? err.toStoreError() : err;
    }
  }

  /** Waits for an in-flight refresh, ignoring its outcome. */
  private async settle(): Promise<void> {
    while (this.inflight) await this.inflight.catch(() => undefined);
  }

  // ---------------------------------------------------------------- schedule

  private scheduleAllowed(): boolean {
    return (
      !this.disposed &&
      this.chain !== null &&
      this.oauth !== null &&
      this.session.healthy &&
      !this.clientError &&
      rejectionOf(this.view()) === null
    );
  }

  /** One timer: at access expiry minus the skew; at once on start when there is no usable token. */
  private reschedule(starting: boolean): void {
    this.clearTimer();
    if (!this.scheduleAllowed() || this.inflight) return;
    const chain = this.chain;
    if (!chain) return;
    const now = this.now();
    const at = scheduledRefreshAt({
      chain,
      now,
      skewSeconds: this.config.refreshSkewSeconds,
      starting,
      refreshOnStart: this.refreshOnStart,
      lastRefreshFailed: this.view()?.health.lastRefresh?.ok === false,
      cooldownMs: this.retry.cooldownMs,
    });
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
    if (
      chain?.accessTokenExpiresAt &&
      this.now() < chain.accessTokenExpiresAt - skewMs(chain, this.config.refreshSkewSeconds)
    ) {
      this.reschedule(false);
      return;
    }
    this.refreshCoalesced('scheduled').catch(() => {
      // Recorded in history and lastRefresh; the schedule has already set its next try.
    });
  }

  private clearTimer(): void {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    this.nextRefreshAt = null;
  }

  // ---------------------------------------------------------------- environment fallback and facts

  private environmentAccessToken(): EnvironmentAccessToken | null {
    const value = this.config.accessToken;
    if (value === null) return null;
    return {
      value,
      expiresAt: this.startedAt + ENV_ACCESS_TOKEN_MAX_LIFETIME_MS,
      usable: !this.forgotten && !this.envTokenRejected,
    };
  }

  /** QB_ACCESS_TOKEN is usable when set, not rejected by the API, and not older than an access token lives. */
  private envTokenUsable(now: number): boolean {
    return environmentTokenUsable(this.environmentAccessToken(), now);
  }

  private useEnvironmentToken(cause: unknown): string {
    const token = this.config.accessToken;
    if (!token) throw new NotConfiguredError();
    if (!this.envFallbackActive) {
      this.envFallbackActive = true;
      this.hot = null;
      const why = cause instanceof TokenError ? ` after the refresh failed (${cause.kind})` : '';
      this.session.pending.push({
        type: 'events',
        events: [
          this.event(
            'fell_back_to_environment',
            `Using QB_ACCESS_TOKEN (${previewToken(token)}) from the environment${why}; it cannot be renewed and expires within the hour.`,
            { intuitTid: cause instanceof TokenError ? cause.intuitTid : null },
          ),
        ],
      });
      this.emit();
    }
    return token;
  }

  private facts(): ProcessFacts {
    return {
      connectionId: this.connectionId,
      environment: this.config.environment,
      demo: this.config.demo,
      configuredRealmId: this.config.realmId,
      refreshSkewSeconds: this.config.refreshSkewSeconds,
      canConnect: this.config.canConnect,
      canRefresh: this.oauth !== null,
      chainStored: this.chainStored,
      refreshing: this.inflight !== null,
      retrying: this.retrying,
      nextRefreshAt: this.retryAt ?? this.nextRefreshAt,
      autoRefresh: this.scheduleAllowed(),
      environmentAccessToken: this.environmentAccessToken(),
      environmentFallback: this.envFallbackActive,
      unsaved: this.unsaved,
      clientError: this.clientError?.toInfo() ?? null,
      configWarnings: this.config.warnings ?? [],
      store: this.session.storeFacts(),
    };
  }

  private event(
    type: HistoryEventType,
    message: string,
    extra: Parameters<typeof historyEvent>[3] = {},
  ): HistoryEvent {
    return historyEvent(this.now(), type, this.secrets.redact(message), {
      ...extra,
      ...(this.clientName !== undefined ? { client: this.clientName } : {}),
    });
  }

  private setChain(chain: StoredTokens | null): void {
    this.chain = chain;
    this.hot = null;
  }

  private emit(): void {
    this.hot = null;
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
    if (this.disposed || this.listeners.size === 0 || this.inflight) return;
    if (rejectionOf(this.view())) return;
    const now = this.now();
    const facts = this.facts();
    const serving = servedToken(this.chain, facts, now);
    if (!serving) return;
    const skew = servedSkewMs(this.chain, serving, this.config.refreshSkewSeconds);
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

/** Why the refresh token is refused after a restart that found a refresh left in flight. */
export function interruptedRefreshMessage(note: RefreshInFlightNote): string {
  return (
    `QB Token Desk was stopped during a refresh (started ${new Date(note.startedAt).toISOString()}) after Intuit ` +
    'had issued a new refresh token, before it could be saved: that token is lost, and Intuit no longer accepts ' +
    'the previous one (invalid_grant). Reconnect to QuickBooks.'
  );
}
