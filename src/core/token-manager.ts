// The token engine for one connection, and its refresh coordination: refreshes ahead of expiry on one
// timer and on demand, coalesces concurrent refreshes into one promise, serialises refreshes across
// processes (and machines) through the store's per-connection lock, retries transient failures with
// back-off and the same refresh token, and serves the cached access token on the hot path.
//
// The rest is in parts that share one EngineContext (engine-context.ts): one attempt inside the lock
// and the save on Intuit's answer (refresh-attempt.ts), Connect / Clear / rename / Disconnect
// (connection-changes.ts), taking in what the store holds (record-sync.ts), the QB_ACCESS_TOKEN
// stand-in (environment-fallback.ts) and the status push with its boundary timer (status-broadcast.ts).
// What is true about the connection lives in its shared record (connection-record.ts), read and written
// under the lock (connection-session.ts); TokenStatus is computed from that record plus what only this
// process knows (token-status.ts). Everything the outside sees is built from previews.
import {
  DEFAULT_CONNECTION_ID,
  type ConnectionId,
  type RefreshTrigger,
  type TokenStatus,
} from '../shared/contract';
import { rejectionOf, type ConnectionRecord } from './connection-record';
import { ConnectionChanges, forgetOnly, type RevokeStep } from './connection-changes';
import { SaveFailed, type ConnectionSession, type ProfileEdits } from './connection-session';
import type { ConnectionStore } from './connection-store';
import {
  createEngineContext,
  type ChainInUse,
  type EngineContext,
  type TokenManagerConfig,
} from './engine-context';
import type { EnvironmentFallback } from './environment-fallback';
import {
  ConnectionRemovedError,
  NotConfiguredError,
  ReauthorizationRequiredError,
  TokenError,
} from './errors';
import type { TokenEndpoint } from './intuit-oauth';
import { SecretRegistry, withLogFields, type LogFn } from './log';
import { RecordSync } from './record-sync';
import { RefreshAttempts } from './refresh-attempt';
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
import { nextStatusBoundary, StatusBroadcast, type StatusListener } from './status-broadcast';
import { noTelemetry, type EngineTelemetry } from './telemetry';
import type { AuthorizationAnswer } from './token-chain';
import { computeTokenStatus, MIN_USABLE_MS, servedToken, skewMs, type ProcessFacts } from './token-status';

export type { TokenManagerConfig } from './engine-context';
export { interruptedRefreshMessage } from './refresh-attempt';
export { DEFAULT_RETRY_POLICY, systemTimers, type RetryPolicy, type Timers } from './refresh-timing';

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
  /**
   * The connection's record was removed from the store while this manager served it (an added
   * connection, removed by another process): its chain is forgotten here; the owner drops the manager.
   */
  onRemoved?: () => void;
}

export type AdoptAuthorizationInput = AuthorizationAnswer;

/**
 * Room each connection keeps in the secrets registry (log redaction): its chain's tokens now and the
 * ones before (still alive for a while), with room to spare for a Connect in between.
 */
const LIVE_TOKENS_PER_CONNECTION = 8;

/** The access token callers get without a refresh, and until when (the hot path). */
interface HotToken {
  until: number;
  promise: Promise<string>;
}

export class TokenManager {
  readonly connectionId: ConnectionId;
  readonly secrets: SecretRegistry;
  private readonly config: TokenManagerConfig;
  private readonly oauth: TokenEndpoint | null;
  private readonly now: () => number;
  private readonly timers: Timers;
  private readonly log: LogFn;
  private readonly retry: RetryPolicy;
  private readonly random: () => number;
  private readonly refreshOnStart: boolean;

  /** The record as the store has it, the changes not written yet, and whether the store answers. */
  private readonly session: ConnectionSession;
  /** The chain in use and what only this process knows about it. */
  private readonly inUse: ChainInUse;
  private readonly fallback: EnvironmentFallback;
  private readonly ctx: EngineContext;
  private readonly attempts: RefreshAttempts;
  private readonly changes: ConnectionChanges;
  private readonly sync: RecordSync;
  private readonly broadcast: StatusBroadcast;
  /** Gives back the room this connection's live tokens took in the secrets registry. */
  private readonly releaseSecrets: () => void;

  // ---- refresh coordination
  private inflight: Promise<string> | null = null;
  private retrying: { attempt: number; maxAttempts: number } | null = null;
  /** When the back-off wait of a failing refresh ends (shown as the next refresh time). */
  private retryAt: number | null = null;
  private timer: unknown = null;
  private nextRefreshAt: number | null = null;
  private readonly backoff: BackoffSleep;
  private disposed = false;
  private hot: HotToken | null = null;

  constructor(options: TokenManagerOptions) {
    const connectionId = options.connectionId ?? DEFAULT_CONNECTION_ID;
    const config = options.config;
    const now = options.now ?? Date.now;
    const timers = options.timers ?? systemTimers;
    // Every line names its connection (a key of its own in QB_LOG_FORMAT=json).
    const log = withLogFields(options.log ?? (() => undefined), { connection: connectionId });
    const secrets = options.secrets ?? new SecretRegistry();
    this.connectionId = connectionId;
    this.config = config;
    this.oauth = options.oauth;
    this.now = now;
    this.timers = timers;
    this.log = log;
    this.retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.random = options.random ?? Math.random;
    this.refreshOnStart = options.refreshOnStart ?? true;
    this.secrets = secrets;
    secrets.pin(config.refreshToken, config.accessToken);
    this.releaseSecrets = secrets.reserve(LIVE_TOKENS_PER_CONNECTION);
    this.backoff = new BackoffSleep(timers);
    this.ctx = createEngineContext(
      {
        connectionId,
        config,
        store: options.store,
        now,
        timers,
        log,
        secrets,
        telemetry: options.telemetry ?? noTelemetry,
        clientName: options.clientName,
        lockWaitMs: options.lockWaitMs ?? 30_000,
        storeRetryMs: options.storeRetryMs ?? 5_000,
      },
      {
        chainChanged: () => {
          this.hot = null;
        },
        storeFailed: () => this.clearTimer(),
        retryStore: () => void this.sync.recover(),
        removed: () => options.onRemoved?.(),
      },
    );
    this.session = this.ctx.session;
    this.inUse = this.ctx.inUse;
    this.fallback = this.ctx.fallback;
    this.attempts = new RefreshAttempts(this.ctx, { stopSchedule: () => this.clearTimer() });
    this.changes = new ConnectionChanges(this.ctx);
    this.sync = new RecordSync(this.ctx, {
      closed: () => this.disposed,
      changed: () => {
        this.reschedule(false);
        this.emit();
      },
      persistUnsaved: () => this.persistUnsaved(),
    });
    this.broadcast = new StatusBroadcast({
      timers,
      now,
      log,
      status: () => this.getStatus(),
      nextBoundary: (at) => this.nextStatusBoundary(at),
      onBoundary: () => this.emit(),
    });
  }

  /**
   * Opens the store, reads the connection's record and decides which chain to use (DESIGN rule 6).
   * Call once before anything else. A store that cannot be reached does not stop the start (the status
   * says so and the store is asked again until it answers); a wrong QB_STORE_KEY or an unusable store
   * configuration does (StoreKeyError, StoreConfigError), as any configuration error does.
   */
  async start(): Promise<TokenStatus> {
    await this.sync.start();
    this.reschedule(true);
    this.emit();
    return this.getStatus();
  }

  // ---------------------------------------------------------------- public surface

  getStatus(): TokenStatus {
    return computeTokenStatus(this.ctx.view(), this.facts(), this.now());
  }

  /** The company id the status names (computeTokenStatus's rule), without building the whole status: the API client asks on every request. */
  realmId(): string | null {
    return this.inUse.chain?.realmId ?? this.ctx.view()?.profile.realmId ?? this.config.realmId;
  }

  /**
   * The status a record read just now would give, with this process's facts: the alert claim decides
   * on the record it read under the lock, not on this process's view, which may be a moment old.
   */
  statusFor(record: ConnectionRecord): TokenStatus {
    return computeTokenStatus(record, this.facts(), this.now());
  }

  onStatusChanged(listener: StatusListener): () => void {
    return this.broadcast.subscribe(listener);
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
    if (this.inUse.unsaved) {
      await this.persistUnsaved();
      // Disposed while that write ran: no token is cached for later calls (they must see "disposed").
      this.assertOpen();
    }
    const now = this.now();
    const chain = this.inUse.chain;
    const fallback = this.fallback;
    if (!fallback.active && chain?.accessToken && chain.accessTokenExpiresAt !== null) {
      const until = chain.accessTokenExpiresAt - MIN_USABLE_MS;
      if (now < until) {
        this.hot = { until, promise: Promise.resolve(chain.accessToken) };
        return chain.accessToken;
      }
    }
    // While falling back, the schedule (not every caller) retries the refresh after its cooldown.
    if (fallback.active && !this.inflight && fallback.usable(now)) return this.useEnvironmentToken(null);
    if (!chain) {
      if (fallback.usable(now)) return this.useEnvironmentToken(null);
      throw this.noChain();
    }
    const rejection = rejectionOf(this.ctx.view());
    if (rejection) {
      if (fallback.usable(now)) return this.useEnvironmentToken(null);
      throw new ReauthorizationRequiredError(undefined, rejection.error.intuitTid);
    }
    // Keys Intuit rejected stay rejected until the configuration changes: no token call per caller.
    const clientError = this.inUse.clientError;
    if (clientError && !this.inflight) {
      if (fallback.usable(now)) return this.useEnvironmentToken(null);
      throw new TokenError('invalid_client', clientError.message, { intuitTid: clientError.intuitTid });
    }
    try {
      return await this.refreshCoalesced('on-demand');
    } catch (err) {
      if (fallback.usable(this.now())) return this.useEnvironmentToken(err);
      throw err;
    }
  }

  /** Forces a refresh (the UI's button); concurrent calls share one token-endpoint call. */
  async refresh(trigger: RefreshTrigger = 'manual'): Promise<TokenStatus> {
    this.assertOpen();
    if (!this.inUse.chain) throw this.noChain();
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
    if (this.fallback.refusedWith(staleAccessToken)) this.hot = null;
    const current = servedToken(this.inUse.chain, this.facts(), now);
    // A different token answers the 401 only if callers are really being given it (not a stand-in).
    const handedOut = current?.source === 'cached' || this.fallback.active;
    if (current && handedOut && current.token !== staleAccessToken && now < current.expiresAt - MIN_USABLE_MS)
      return current.token;
    if (this.inflight) return this.inflight;
    const chain = this.inUse.chain;
    if (!chain) throw this.noChain();
    const rejection = rejectionOf(this.ctx.view());
    if (rejection) throw new ReauthorizationRequiredError(undefined, rejection.error.intuitTid);
    // The stale token is dead at Intuit whatever its expiry says.
    if (chain.accessToken === staleAccessToken) this.inUse.set({ ...chain, accessTokenExpiresAt: now });
    this.session.pending.push({
      type: 'retried_after_401',
      events: [
        this.ctx.event(
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
    await this.changes.clearAccessToken();
    return this.changed();
  }

  /**
   * Takes over a new authorization (the Connect flow): stores the chain first, then serves it.
   * Clears a previous rejection or configuration error; the 5-year cap starts anew.
   */
  async adoptAuthorization(input: AdoptAuthorizationInput): Promise<TokenStatus> {
    this.assertOpen();
    await this.settle();
    await this.changes.adoptAuthorization(input);
    return this.changed();
  }

  /**
   * Takes over a bare refresh token (`qb-token connections add`): stored first, like a new
   * authorization; the first call that needs an access token refreshes with it.
   */
  async adoptRefreshToken(refreshToken: string, realmId: string | null): Promise<TokenStatus> {
    this.assertOpen();
    await this.settle();
    await this.changes.adoptRefreshToken(refreshToken, realmId);
    return this.changed();
  }

  /** Renames the connection or records its company name (from CompanyInfo), in the shared record. */
  async updateProfile(changes: ProfileEdits): Promise<TokenStatus> {
    this.assertOpen();
    try {
      await this.changes.updateProfile(changes);
    } finally {
      this.emit();
    }
    return this.getStatus();
  }

  /**
   * Disconnect, under one hold of the connection's lock: `revoke` (default: none) gets the refresh token
   * in use, read there, then the tokens are forgotten; the status becomes not_configured.
   */
  async disconnect(revoke: RevokeStep = forgetOnly): Promise<TokenStatus> {
    this.assertOpen();
    await this.settle();
    await this.changes.disconnect(revoke);
    return this.changed();
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
    this.sync.stopWatching();
    this.clearTimer();
    this.broadcast.stopBoundaryTimer();
    this.session.close();
    this.backoff.cut();
    await this.settle();
    await this.sync.whenRead();
    this.broadcast.close();
    this.releaseSecrets();
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
          this.attempts.reportAttempt(
            trigger,
            err instanceof NotConfiguredError || err instanceof ConnectionRemovedError
              ? 'not_configured'
              : 'store_error',
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

  /** One attempt inside the cross-process lock (refresh-attempt.ts). Returns the access token to hand out. */
  private async attempt(trigger: RefreshTrigger, staleAccessToken: string | null): Promise<string> {
    if (!this.oauth)
      throw new NotConfiguredError(
        'QB_CLIENT_ID and QB_CLIENT_SECRET are not set: the refresh token cannot be used.',
      );
    const oauth = this.oauth;
    return this.ctx.underLock((latest) => this.attempts.run(latest, trigger, staleAccessToken, oauth));
  }

  /** Writes an unsaved chain (and health changes not yet written) under the lock. */
  private async persistUnsaved(): Promise<void> {
    const { session, inUse } = this;
    if (!inUse.unsaved && session.pending.length === 0) return;
    try {
      await this.ctx.underLock(async (latest) => {
        // Read under the lock: a refresh that held it may have saved this chain and rotated past it,
        // and the chain read before waiting would overwrite the newer refresh token in the store.
        if (inUse.unsaved && inUse.chain) {
          await session.write(latest, inUse.chain, []);
          inUse.unsaved = false;
          inUse.stored = true;
          this.ctx.store.endRefresh?.(this.connectionId);
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

  /** Waits for an in-flight refresh, ignoring its outcome. */
  private async settle(): Promise<void> {
    while (this.inflight) await this.inflight.catch(() => undefined);
  }

  // ---------------------------------------------------------------- schedule

  private scheduleAllowed(): boolean {
    return (
      !this.disposed &&
      this.inUse.chain !== null &&
      this.oauth !== null &&
      this.session.healthy &&
      !this.inUse.clientError &&
      rejectionOf(this.ctx.view()) === null
    );
  }

  /** One timer: at access expiry minus the skew; at once on start when there is no usable token. */
  private reschedule(starting: boolean): void {
    this.clearTimer();
    if (!this.scheduleAllowed() || this.inflight) return;
    const chain = this.inUse.chain;
    if (!chain) return;
    const now = this.now();
    const at = scheduledRefreshAt({
      chain,
      now,
      skewSeconds: this.config.refreshSkewSeconds,
      starting,
      refreshOnStart: this.refreshOnStart,
      lastRefreshFailed: this.ctx.view()?.health.lastRefresh?.ok === false,
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
    const chain = this.inUse.chain;
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

  // ---------------------------------------------------------------- status

  private facts(): ProcessFacts {
    const inUse = this.inUse;
    return {
      connectionId: this.connectionId,
      environment: this.config.environment,
      demo: this.config.demo,
      configuredRealmId: this.config.realmId,
      refreshSkewSeconds: this.config.refreshSkewSeconds,
      canConnect: this.config.canConnect,
      canRefresh: this.oauth !== null,
      chainStored: inUse.stored,
      refreshing: this.inflight !== null,
      retrying: this.retrying,
      nextRefreshAt: this.retryAt ?? this.nextRefreshAt,
      autoRefresh: this.scheduleAllowed(),
      environmentAccessToken: this.fallback.token(),
      environmentFallback: this.fallback.active,
      unsaved: inUse.unsaved,
      clientError: inUse.clientError?.toInfo() ?? null,
      configWarnings: this.config.warnings ?? [],
      store: this.session.storeFacts(),
    };
  }

  /** QB_ACCESS_TOKEN stands in; the first time, the history says so and the listeners hear it. */
  private useEnvironmentToken(cause: unknown): string {
    const { token, notice } = this.fallback.standIn(cause);
    if (notice) {
      this.hot = null;
      this.session.pending.push({
        type: 'events',
        events: [this.ctx.event('fell_back_to_environment', notice.message, { intuitTid: notice.intuitTid })],
      });
      this.emit();
    }
    return token;
  }

  /** After Connect, Clear or Disconnect: the schedule follows the new chain and the listeners hear it. */
  private changed(): TokenStatus {
    this.reschedule(false);
    this.emit();
    return this.getStatus();
  }

  private emit(): void {
    this.hot = null;
    this.broadcast.emit();
  }

  /** When the status changes next by time alone, for the boundary timer (null: nothing to wait for). */
  private nextStatusBoundary(now: number): number | null {
    if (this.disposed || this.inflight) return null;
    if (rejectionOf(this.ctx.view())) return null;
    return nextStatusBoundary({
      chain: this.inUse.chain,
      facts: this.facts(),
      now,
      skewSeconds: this.config.refreshSkewSeconds,
      refreshAt: this.nextRefreshAt,
    });
  }

  /** Why there is no chain to use: none configured, or the connection was removed from the store. */
  private noChain(): Error {
    return this.inUse.removed ? new ConnectionRemovedError(this.connectionId) : new NotConfiguredError();
  }

  private assertOpen(): void {
    if (this.disposed) throw new Error('The token manager has been disposed.');
  }
}
