// What is true about one connection, shared by every process and machine that uses the same
// store: the token chain, who the connection is, and its health. TokenStatus is computed from this
// record and the clock (token-status.ts), so after one process gets invalid_grant every other one
// reports reauthorization_required too. Holds token values in `tokens`: never log a record.
import type {
  ConnectionId,
  HistoryEvent,
  LastRefreshInfo,
  QbEnvironment,
  RefreshErrorInfo,
  TokenStats,
} from '../shared/contract';
import type { ActiveCondition } from '../shared/conditions';
import type { StoredTokens } from './token-store';

export interface ConnectionProfile {
  /** Display name chosen by the admin, or derived ("QuickBooks sandbox"). */
  name: string;
  environment: QbEnvironment;
  realmId: string | null;
  /** From CompanyInfo, once read. */
  companyName: string | null;
}

export interface ConnectionHealth {
  lastRefresh: LastRefreshInfo | null;
  /**
   * Intuit refused the chain's refresh token (invalid_grant). Keyed by the refused token's
   * fingerprint: a record whose chain moved on to another refresh token is no longer rejected.
   */
  rejection: { refreshTokenSha256: string; at: number; error: RefreshErrorInfo } | null;
  /** Failed refreshes in a row (any kind); a success resets it. Alerts and notifications read it. */
  consecutiveFailures: number;
  stats: TokenStats;
  /** Newest first, at most HISTORY_LIMIT. Messages carry previews only. */
  history: HistoryEvent[];
  /**
   * What the alert webhook last announced for this connection (src/server/ops/alert-ledger.ts),
   * so several servers on one store send each alert once. Every save carries it over unchanged.
   */
  announced?: AnnouncedConditions;
}

export interface AnnouncedConditions {
  conditions: ActiveCondition[];
  at: string;
  /** The instance that announced the last change (host name and process id). */
  by: string;
}

export interface ConnectionRecord {
  /** Layout version of the record (the single-connection store of 0.1 was version 1). */
  version: 2;
  id: ConnectionId;
  /** Bumped on every write; LISTEN/NOTIFY and file watchers carry it, never a token. */
  revision: number;
  profile: ConnectionProfile;
  /** The token chain; null when the connection has none (disconnected, or never connected). */
  tokens: StoredTokens | null;
  health: ConnectionHealth;
}
