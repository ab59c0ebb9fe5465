// The token engine for one connection, as the outside sees it: TokenManager builds the parts, serves
// the cached access token on the hot path, waits out a refresh in flight before Connect / Clear /
// Disconnect, and after any change reschedules and tells the listeners. What it is built from is in
// token-manager-options.ts.
//
// The rest is in parts that share one EngineContext (engine-context.ts): which token a caller gets
// when the cache has none and the answer to a 401 (access-token-source.ts), one refresh at a time with
// back-off (refresh-flight.ts), the refresh timer (refresh-schedule.ts), one attempt inside the lock
// and the save on Intuit's answer (refresh-attempt.ts), Connect / Clear / rename / Disconnect
// (connection-changes.ts), taking in what the store holds (record-sync.ts), writing what could not be
// written (unsaved-chain-save.ts), the QB_ACCESS_TOKEN stand-in (environment-fallback.ts), the status
// with this process's facts (engine-status.ts) and its push with the boundary timer (status-broadcast.ts).
// What is true about the connection lives in its shared record (connection-record.ts), read and written
// under the lock (connection-session.ts); TokenStatus is computed from that record plus what only this
// process knows (token-status.ts). Everything the outside sees is built from previews.
import {
  DEFAULT_CONNECTION_ID,
  type ConnectionId,
  type RefreshTrigger,
  type TokenStatus,
} from '../shared/contract';
import { AccessTokenSource, noChainError } from './access-token-source';
import { ConnectionChanges, forgetOnly, type RevokeStep } from './connection-changes';
import type { ConnectionRecord } from './connection-record';
import type { ProfileEdits } from './connection-session';
import {
  createEngineContext,
  type ChainInUse,
  type EngineContext,
  type TokenManagerConfig,
} from './engine-context';
import { EngineStatus } from './engine-status';
import { SecretRegistry, withLogFields } from './log';
import { RecordSync } from './record-sync';
import { RefreshFlight } from './refresh-flight';
import { RefreshSchedule } from './refresh-schedule';
import { DEFAULT_RETRY_POLICY, systemTimers } from './refresh-timing';
import { StatusBroadcast, type StatusListener } from './status-broadcast';
import { noTelemetry } from './telemetry';
import type { AdoptAuthorizationInput, TokenManagerOptions } from './token-manager-options';
import { saveUnsavedChain } from './unsaved-chain-save';

export type { TokenManagerConfig } from './engine-context';
export type { AdoptAuthorizationInput, TokenManagerOptions } from './token-manager-options';
export { interruptedRefreshMessage } from './refresh-attempt';
export { DEFAULT_RETRY_POLICY, systemTimers, type RetryPolicy, type Timers } from './refresh-timing';

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

  /** The chain in use and what only this process knows about it. */
  private readonly inUse: ChainInUse;
  private readonly ctx: EngineContext;
  private readonly flight: RefreshFlight;
  private readonly schedule: RefreshSchedule;
  private readonly status: EngineStatus;
  private readonly source: AccessTokenSource;
  private readonly changes: ConnectionChanges;
  private readonly sync: RecordSync;
  private readonly broadcast: StatusBroadcast;
  /** Gives back the room this connection's live tokens took in the secrets registry. */
  private readonly releaseSecrets: () => void;
  private readonly now: () => number;
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
    const retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    const closed = (): boolean => this.disposed;
    this.connectionId = connectionId;
    this.config = config;
    this.now = now;
    this.secrets = secrets;
    secrets.pin(config.refreshToken, config.accessToken);
    this.releaseSecrets = secrets.reserve(LIVE_TOKENS_PER_CONNECTION);
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
        storeFailed: () => this.schedule.stop(),
        retryStore: () => void this.sync.recover(),
        removed: () => options.onRemoved?.(),
      },
    );
    this.inUse = this.ctx.inUse;
    this.flight = new RefreshFlight(
      this.ctx,
      { oauth: options.oauth, retry, random: options.random ?? Math.random, timers },
      {
        closed,
        started: () => {
          this.schedule.stop();
          this.emit();
        },
        waiting: () => this.emit(),
        ended: () => this.followChain(),
        stopSchedule: () => this.schedule.stop(),
      },
    );
    this.schedule = new RefreshSchedule(
      this.ctx,
      {
        timers,
        canRefresh: options.oauth !== null,
        refreshOnStart: options.refreshOnStart ?? true,
        cooldownMs: retry.cooldownMs,
      },
      { closed, refreshing: () => this.flight.current !== null, refresh: () => this.flight.run('scheduled') },
    );
    this.status = new EngineStatus(this.ctx, {
      canRefresh: options.oauth !== null,
      flight: this.flight,
      schedule: this.schedule,
      closed,
    });
    this.source = new AccessTokenSource(this.ctx, this.flight, this.status, {
      assertOpen: () => this.assertOpen(),
      cache: (token, until) => {
        this.hot = { until, promise: Promise.resolve(token) };
      },
      dropCache: () => {
        this.hot = null;
      },
      emit: () => this.emit(),
    });
    this.changes = new ConnectionChanges(this.ctx);
    this.sync = new RecordSync(this.ctx, {
      closed,
      changed: () => this.followChain(),
      persistUnsaved: () => saveUnsavedChain(this.ctx),
    });
    this.broadcast = new StatusBroadcast({
      timers,
      now,
      log,
      status: () => this.getStatus(),
      nextBoundary: (at) => this.status.nextBoundary(at),
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
    this.schedule.reschedule(true);
    this.emit();
    return this.getStatus();
  }

  getStatus(): TokenStatus {
    return this.status.current();
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
    return this.status.of(record);
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
    return this.source.get();
  }

  /** Forces a refresh (the UI's button); concurrent calls share one token-endpoint call. */
  async refresh(trigger: RefreshTrigger = 'manual'): Promise<TokenStatus> {
    this.assertOpen();
    if (!this.inUse.chain) throw noChainError(this.inUse, this.connectionId);
    await this.flight.run(trigger);
    return this.getStatus();
  }

  /**
   * After an API 401 with `staleAccessToken`: if the token already changed since that request was sent,
   * returns the new one without refreshing; otherwise one coalesced refresh (counted in stats and history).
   */
  refreshAfter401(staleAccessToken: string): Promise<string> {
    return this.source.after401(staleAccessToken);
  }

  /** Drops the cached access token only; the refresh token (stored or not) is kept. */
  async clear(): Promise<TokenStatus> {
    this.assertOpen();
    await this.flight.settle();
    await this.changes.clearAccessToken();
    return this.changed();
  }

  /**
   * Takes over a new authorization (the Connect flow): stores the chain first, then serves it.
   * Clears a previous rejection or configuration error; the 5-year cap starts anew.
   */
  async adoptAuthorization(input: AdoptAuthorizationInput): Promise<TokenStatus> {
    this.assertOpen();
    await this.flight.settle();
    await this.changes.adoptAuthorization(input);
    return this.changed();
  }

  /**
   * Takes over a bare refresh token (`qb-token connections add`): stored first, like a new
   * authorization; the first call that needs an access token refreshes with it.
   */
  async adoptRefreshToken(refreshToken: string, realmId: string | null): Promise<TokenStatus> {
    this.assertOpen();
    await this.flight.settle();
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
    await this.flight.settle();
    await this.changes.disconnect(revoke);
    return this.changed();
  }

  /** Resolves once no refresh is in flight (whatever its outcome). */
  whenIdle(): Promise<void> {
    return this.flight.settle();
  }

  /** Stops the timers and the store watch, cuts a back-off wait short and waits for an in-flight refresh. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.hot = null;
    this.sync.stopWatching();
    this.schedule.stop();
    this.broadcast.stopBoundaryTimer();
    this.ctx.session.close();
    this.flight.cutBackoff();
    await this.flight.settle();
    await this.sync.whenRead();
    this.broadcast.close();
    this.releaseSecrets();
  }

  /** After Connect, Clear or Disconnect: the schedule follows the new chain and the listeners hear it. */
  private changed(): TokenStatus {
    this.followChain();
    return this.getStatus();
  }

  /** The chain or what is known of it may have changed: the timer is set anew and the listeners hear it. */
  private followChain(): void {
    this.schedule.reschedule(false);
    this.emit();
  }

  /** Any change may end what the hot cache holds: the next caller takes the slow path, which re-caches. */
  private emit(): void {
    this.hot = null;
    this.broadcast.emit();
  }

  private assertOpen(): void {
    if (this.disposed) throw new Error('The token manager has been disposed.');
  }
}
