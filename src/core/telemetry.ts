// What the engine reports as it works, for operators (Prometheus metrics in the headless server)
// and benchmarks. Counters and durations only: never a token value, never a secret. Gauges such as
// "seconds left on the access token" are read from TokenStatus at scrape time instead.
import type { ConnectionId, RefreshErrorKind, RefreshTrigger } from '../shared/contract';

export type RefreshOutcome = 'ok' | RefreshErrorKind | 'store_error' | 'not_configured';

export type StoreErrorKind = 'unavailable' | 'lock_timeout' | 'key' | 'config' | 'corrupt' | 'write';

export interface EngineTelemetry {
  /** One refresh attempt ended (each back-off retry is an attempt of its own). */
  refreshAttempted(event: {
    connectionId: ConnectionId;
    trigger: RefreshTrigger;
    outcome: RefreshOutcome;
    durationMs: number;
  }): void;
  /** How long a refresh waited for the connection's lock (file lock or PostgreSQL lock). */
  lockWaited(event: { connectionId: ConnectionId; waitMs: number }): void;
  /** A store operation failed. */
  storeFailed(event: { connectionId: ConnectionId; kind: StoreErrorKind }): void;
  /** An Accounting API request ended; `status` 0 when no response arrived. */
  apiRequested(event: { connectionId: ConnectionId; status: number; durationMs: number }): void;
  /** An API call answered 401 and is retried once after a refresh. */
  retriedAfter401(event: { connectionId: ConnectionId }): void;
}

export const noTelemetry: EngineTelemetry = {
  refreshAttempted: () => undefined,
  lockWaited: () => undefined,
  storeFailed: () => undefined,
  apiRequested: () => undefined,
  retriedAfter401: () => undefined,
};
