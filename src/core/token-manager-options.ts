// What a TokenManager is built from (the connection, its store and token endpoint, and what tests and
// operators tune), and what Connect hands it. Re-exported by token-manager.ts, where importers find it.
import type { ConnectionId } from '../shared/contract';
import type { ConnectionStore } from './connection-store';
import type { TokenManagerConfig } from './engine-context';
import type { TokenEndpoint } from './intuit-oauth';
import type { LogFn, SecretRegistry } from './log';
import type { RetryPolicy, Timers } from './refresh-timing';
import type { EngineTelemetry } from './telemetry';
import type { AuthorizationAnswer } from './token-chain';

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
