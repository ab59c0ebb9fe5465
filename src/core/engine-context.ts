// What the parts of one connection's engine share, and how it is built. TokenManager builds it once
// and hands it to the parts that act on the connection: access-token-source.ts (a caller's token, a
// 401), refresh-flight.ts and refresh-schedule.ts (when refreshes run), refresh-attempt.ts (one
// attempt inside the lock), connection-changes.ts (Connect, Clear, a rename, Disconnect),
// record-sync.ts (what the store holds: the start, other processes' writes, the store answering
// again) and engine-status.ts (the status with this process's facts). The chain in use and what only
// this process knows about it are `inUse`; the QB_ACCESS_TOKEN stand-in is `fallback`. Token values
// live only in `inUse.chain`, the session's record, `config` and TokenManager's hot access-token cache.
import {
  DEFAULT_CONNECTION_ID,
  type ConnectionId,
  type HistoryEvent,
  type HistoryEventType,
  type QbEnvironment,
} from '../shared/contract';
import {
  defaultProfile,
  historyEvent,
  type ConnectionProfile,
  type ConnectionRecord,
} from './connection-record';
import { ConnectionSession } from './connection-session';
import type { ConnectionStore } from './connection-store';
import { EnvironmentFallback } from './environment-fallback';
import { ConnectionRemovedError, type TokenError } from './errors';
import type { LogFn, SecretRegistry } from './log';
import type { Timers } from './refresh-timing';
import type { EngineTelemetry } from './telemetry';
import type { RefreshInFlightNote, StoredTokens } from './token-store';

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

/** The chain this process uses, and what only this process knows about it. */
export class ChainInUse {
  /** It differs from the store's while unsaved, or when it came from QB_REFRESH_TOKEN. */
  chain: StoredTokens | null = null;
  /** The chain is what the store holds (refreshToken.source 'stored'). */
  stored = false;
  /** The chain's latest version could not be written: saved before anything is handed out. */
  unsaved = false;
  /**
   * A process was stopped with a token call in flight using the chain's refresh token (its note, found
   * under the lock by RefreshAttempts: outside it, a note may be a live process's).
   */
  interrupted: RefreshInFlightNote | null = null;
  /** Intuit refused this process's client keys (invalid_client): nothing is refreshed until that changes. */
  clientError: TokenError | null = null;
  /** The chain was forgotten because the connection's record was removed from the store (see underLock). */
  removed = false;

  /** `changed` runs whenever the chain is replaced (the owner drops the access token it caches). */
  constructor(private readonly changed: () => void) {}

  set(chain: StoredTokens | null): void {
    this.chain = chain;
    if (chain) this.removed = false;
    this.changed();
  }
}

type HistoryEventExtra = Parameters<typeof historyEvent>[3];

export interface EngineContext {
  readonly connectionId: ConnectionId;
  readonly config: TokenManagerConfig;
  readonly store: ConnectionStore;
  /** The record as the store has it, the changes not written yet, and whether the store answers. */
  readonly session: ConnectionSession;
  readonly inUse: ChainInUse;
  readonly fallback: EnvironmentFallback;
  /** Every token value the engine sees is added here (log redaction, leak scans). */
  readonly secrets: SecretRegistry;
  readonly telemetry: EngineTelemetry;
  /** Names this process in history events and lastRefresh. */
  readonly clientName: string | undefined;
  readonly now: () => number;
  readonly log: LogFn;
  /** A history event stamped now, redacted, naming this process's client. */
  event(type: HistoryEventType, message: string, extra?: HistoryEventExtra): HistoryEvent;
  /** The record as this process sees it: the shared one, with the chain in use and the changes not yet written. */
  view(): ConnectionRecord | null;
  /** What loading found (a record moved aside, an upgrade): a warning in the status, an event in the history. */
  noteLoadWarning(warning: string): void;
  /**
   * The store's record holds no chain: another process disconnected the connection. The chain this
   * process took from the store is forgotten (an unsaved one is newer and stays, as does one from
   * QB_REFRESH_TOKEN not stored yet).
   */
  takeInDisconnect(): void;
  /**
   * Runs `fn` under the connection's lock with the record as it is now in the store (see
   * ConnectionSession). An added connection whose record is gone since this process read or wrote
   * it was removed (by another process, or by hand): `fn` does not run, the chain in memory is
   * forgotten and ConnectionRemovedError is thrown, so no token call is made for it and no write
   * brings it back. Not so when the record was just moved aside as unreadable (its chain is written
   * back, never lost), nor with `recreates`: a new authorization (Connect, a refresh token given by
   * hand) is stored even so. The default connection is the QB_* environment's and is never removed:
   * its record, deleted by hand, is written back by whoever holds its chain. A record without a chain
   * (another process's Disconnect) is taken in before `fn` runs (takeInDisconnect), so nothing
   * refreshes or writes back the chain it forgot.
   */
  underLock<T>(
    fn: (latest: ConnectionRecord | null) => Promise<T>,
    options?: { recreates?: boolean },
  ): Promise<T>;
}

interface EngineContextInput {
  connectionId: ConnectionId;
  config: TokenManagerConfig;
  store: ConnectionStore;
  now: () => number;
  timers: Timers;
  log: LogFn;
  secrets: SecretRegistry;
  telemetry: EngineTelemetry;
  clientName: string | undefined;
  /** How long a refresh waits for the connection's lock before a transient error. */
  lockWaitMs: number;
  /** While the store does not answer, it is asked again this often, ms. */
  storeRetryMs: number;
}

/** What the owner (TokenManager) does when the shared parts need it. */
interface EngineContextHooks {
  /** The chain in use was replaced: the owner drops the access token it caches. */
  chainChanged(): void;
  /** The store failed (not a slow lock holder): the owner stops its refresh timer. */
  storeFailed(): void;
  /** The store's retry timer fired: the owner asks it again. */
  retryStore(): void;
  /** The connection's record was removed from the store (see EngineContext.underLock). */
  removed(): void;
}

export function createEngineContext(input: EngineContextInput, hooks: EngineContextHooks): EngineContext {
  const { connectionId, config, store, now, log, secrets, telemetry, clientName } = input;
  const session = new ConnectionSession({
    store,
    connectionId,
    now,
    timers: input.timers,
    log,
    telemetry,
    lockWaitMs: input.lockWaitMs,
    retryMs: input.storeRetryMs,
    profile: (base) => configuredProfile(config, base),
    onRead: (record) => {
      if (record?.tokens) secrets.add(record.tokens.refreshToken, record.tokens.accessToken);
    },
    onRetry: () => hooks.retryStore(),
    onFailed: () => hooks.storeFailed(),
  });
  const inUse = new ChainInUse(() => hooks.chainChanged());
  const event = (type: HistoryEventType, message: string, extra: HistoryEventExtra = {}): HistoryEvent =>
    historyEvent(now(), type, secrets.redact(message), {
      ...extra,
      ...(clientName !== undefined ? { client: clientName } : {}),
    });
  const noteLoadWarning = (warning: string): void => {
    session.loadWarnings.push(warning);
    session.pending.push({ type: 'events', events: [event('store_recovered', warning)] });
  };
  const fallback = new EnvironmentFallback(config.accessToken, now());
  const takeInDisconnect = (): void => {
    if (!inUse.chain || !inUse.stored || inUse.unsaved) return;
    inUse.set(null);
    inUse.stored = false;
    fallback.forgotten = true;
  };
  const removedFromStore = (latest: ConnectionRecord | null): boolean =>
    latest === null && connectionId !== DEFAULT_CONNECTION_ID && (session.shared !== null || inUse.removed);
  const forgetRemoved = (): void => {
    if (!inUse.removed) {
      log(
        'The connection was removed from the token store (by another process, or by hand): its tokens are forgotten here, and nothing is refreshed or written for it.',
        { level: 'warn' },
      );
    }
    inUse.set(null);
    inUse.stored = false;
    inUse.unsaved = false;
    inUse.interrupted = null;
    inUse.clientError = null;
    inUse.removed = true;
    session.forgetRecord();
    store.endRefresh?.(connectionId);
    hooks.removed();
  };
  return {
    connectionId,
    config,
    store,
    session,
    inUse,
    fallback,
    secrets,
    telemetry,
    clientName,
    now,
    log,
    event,
    view: () => session.view(inUse.chain),
    noteLoadWarning,
    takeInDisconnect,
    underLock: (fn, options = {}) =>
      session.underLock(async (latest, warnings) => {
        if (!options.recreates && warnings.length === 0 && removedFromStore(latest)) {
          forgetRemoved();
          throw new ConnectionRemovedError(connectionId);
        }
        if (latest && latest.tokens === null) takeInDisconnect();
        return fn(latest);
      }, noteLoadWarning),
  };
}

/**
 * The profile a record written by this engine carries, before any edit made here: the stored one (or a
 * new one named after the configuration), with the environment the QB_* variables define and, until a
 * chain knows better, their realm.
 */
function configuredProfile(config: TokenManagerConfig, base: ConnectionRecord | null): ConnectionProfile {
  const profile = base?.profile ?? {
    ...defaultProfile(config.environment, config.realmId),
    ...(config.name ? { name: config.name } : {}),
  };
  return { ...profile, environment: config.environment, realmId: profile.realmId ?? config.realmId };
}
