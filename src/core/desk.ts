// The surface every adapter (Electron main, headless server, CLI) uses. The token engine
// implements it; adapters turn its outcomes into Result objects with `toResultError`.
import type {
  ConnectionId,
  ConnectionSummary,
  ConnectionTestResult,
  ConnectRequest,
  DisconnectOptions,
  RefreshTrigger,
  RemoveConnectionOptions,
  TokenStatus,
} from '../shared/contract';

export interface TokenDesk {
  /** Current status snapshot (cheap; no I/O). */
  getStatus(): TokenStatus;
  /** Forces a refresh; concurrent calls share one token-endpoint call. Rejects with a TokenError. */
  refresh(trigger?: RefreshTrigger): Promise<TokenStatus>;
  /** Drops the cached access token only; the stored refresh token is kept. */
  clear(): Promise<TokenStatus>;
  /** A valid access token, refreshing first when needed (for the CLI's `token` and API calls). */
  getAccessToken(): Promise<string>;
  /** CompanyInfo through the auto-refreshing client. Rejects with a TokenError or ApiError. */
  testConnection(): Promise<ConnectionTestResult>;
  /** Called with the new status on every change. Returns the function that unsubscribes. */
  onStatusChanged(listener: (status: TokenStatus) => void): () => void;
  /** Stops timers and waits for an in-flight refresh to settle (the store is never left half-written). */
  dispose(): Promise<void>;
}

/**
 * Every connection of a desk (several QuickBooks companies), for the adapters. Each connection has
 * its own TokenDesk; the default one is the QB_* environment's.
 */
export interface ConnectionsDesk {
  /** The connection's desk (default: the default connection); throws UnknownConnectionError. */
  desk(id?: ConnectionId): TokenDesk;
  /** Every connection, the default one first (cheap; no I/O). */
  list(): ConnectionSummary[];
  /** Every connection's current status, in list order. */
  statuses(): TokenStatus[];
  /** Status changes of every connection (each names its connection). Returns the unsubscribe function. */
  onStatusChanged(listener: (status: TokenStatus) => void): () => void;
  /** The list after a connection was added or removed (here or by another process). */
  onConnectionsChanged(listener: (connections: ConnectionSummary[]) => void): () => void;
  /** Revokes the connection's refresh token (as Disconnect does), then drops it; not the default one. */
  remove(id: ConnectionId, options?: RemoveConnectionOptions): Promise<ConnectionSummary[]>;
}

/** The OAuth authorization-code flow, shared by the desktop loopback listener and the headless routes. */
export interface ConnectFlow {
  /**
   * Starts a flow: the URL to send the user to, and the state value it carries. `request` picks
   * the environment (its app keys); the company is whichever the user picks at Intuit.
   */
  begin(redirectUri: string, request?: ConnectRequest): { authorizeUrl: string; state: string };
  /** Completes it from the redirect's query string; the code is exchanged at most once. */
  complete(query: URLSearchParams): Promise<TokenStatus>;
  /** Revokes the refresh token at Intuit and forgets the stored tokens (see DisconnectOptions). */
  disconnect(options?: DisconnectOptions): Promise<TokenStatus>;
}
