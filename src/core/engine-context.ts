// What the parts of one connection's engine share. TokenManager (the refresh coordination) builds it
// once and hands it to the parts that act on the connection: refresh-attempt.ts (one attempt inside
// the lock), connection-changes.ts (Connect, Clear, a rename, Disconnect) and record-sync.ts (what the
// store holds: the start, other processes' writes, the store answering again). The chain in use and
// what only this process knows about it are `inUse`; the QB_ACCESS_TOKEN stand-in is `fallback`.
// Token values live only in `inUse.chain`, the session's record and `config`.
import type { ConnectionId, HistoryEvent, HistoryEventType, QbEnvironment } from '../shared/contract';
import {
  defaultProfile,
  historyEvent,
  type ConnectionProfile,
  type ConnectionRecord,
} from './connection-record';
import type { ConnectionSession } from './connection-session';
import type { ConnectionStore } from './connection-store';
import type { EnvironmentFallback } from './environment-fallback';
import type { TokenError } from './errors';
import type { LogFn, SecretRegistry } from './log';
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
  /** A previous process was stopped with a token call in flight using the chain's refresh token. */
  interrupted: RefreshInFlightNote | null = null;
  /** Intuit refused this process's client keys (invalid_client): nothing is refreshed until that changes. */
  clientError: TokenError | null = null;

  /** `changed` runs whenever the chain is replaced (the owner drops the access token it caches). */
  constructor(private readonly changed: () => void) {}

  set(chain: StoredTokens | null): void {
    this.chain = chain;
    this.changed();
  }
}

export type HistoryEventExtra = Parameters<typeof historyEvent>[3];

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
  /** Runs `fn` under the connection's lock with the record as it is now in the store (see ConnectionSession). */
  underLock<T>(fn: (latest: ConnectionRecord | null) => Promise<T>): Promise<T>;
}

/**
 * The profile a record written by this engine carries, before any edit made here: the stored one (or a
 * new one named after the configuration), with the environment the QB_* variables define and, until a
 * chain knows better, their realm.
 */
export function configuredProfile(
  config: TokenManagerConfig,
  base: ConnectionRecord | null,
): ConnectionProfile {
  const profile = base?.profile ?? {
    ...defaultProfile(config.environment, config.realmId),
    ...(config.name ? { name: config.name } : {}),
  };
  return { ...profile, environment: config.environment, realmId: profile.realmId ?? config.realmId };
}
