// The one contract every surface speaks: IPC (desktop), HTTP + SSE (headless) and the renderer.
// Types and constants only. This file must import nothing: it is compiled into the main
// process, the preload, the renderer and Node tools alike.

export type TokenState =
  | 'valid'
  | 'expiring'
  | 'expired'
  /** A refresh token is in hand but no access token is cached (none fetched yet, or Clear dropped it): the next call fetches one. Neutral, not an alarm. */
  | 'no_token'
  | 'refreshing'
  | 'reauthorization_required'
  | 'not_configured';

/** Names one QuickBooks connection (one company's token chain) in a desk, a store and every surface. */
export type ConnectionId = string;

/** The connection the QB_* environment defines; every action without a connection id acts on it. */
export const DEFAULT_CONNECTION_ID: ConnectionId = 'default';

/** Which connection a status belongs to. */
interface ConnectionRef {
  id: ConnectionId;
  /** Display name chosen by the admin (or derived: "QuickBooks sandbox"). */
  name: string;
  /** The company's name once CompanyInfo was read; null until then. */
  companyName: string | null;
}

export type StoreKind = 'file' | 'postgres' | 'desktop';

/** Where the connection's record lives, as shown to admins. Never a password or key. */
interface StoreInfo {
  kind: StoreKind;
  /** A file path, or `host:port/database` for PostgreSQL (never the password). */
  location: string;
  /** Token values are encrypted at rest (QB_STORE_KEY, or the OS keychain on the desktop). */
  encrypted: boolean;
  /** False while the store cannot be reached (e.g. PostgreSQL is down); a still-valid access token keeps being served from memory. */
  reachable: boolean;
  /** The store cannot be used as configured (a wrong QB_STORE_KEY, an unusable QB_DATA_DIR): nothing refreshes until it is fixed. */
  misconfigured: boolean;
  /** What is wrong with the store, in a sentence naming the variable to fix; null while it works. */
  problem: string | null;
}

export type TokenSource = 'cached' | 'environment' | 'none';

export type QbEnvironment = 'sandbox' | 'production';

export type RefreshTrigger = 'scheduled' | 'manual' | 'on-401' | 'on-demand';

export type RefreshErrorKind =
  'invalid_grant' | 'invalid_client' | 'network' | 'timeout' | 'server' | 'rate_limited' | 'bad_response';

export const REFRESH_ERROR_KINDS: readonly RefreshErrorKind[] = [
  'invalid_grant',
  'invalid_client',
  'network',
  'timeout',
  'server',
  'rate_limited',
  'bad_response',
];

/** Kinds that a later attempt with the same refresh token may fix. */
export const TRANSIENT_ERROR_KINDS: readonly RefreshErrorKind[] = [
  'network',
  'timeout',
  'server',
  'rate_limited',
  'bad_response',
];

export interface RefreshErrorInfo {
  kind: RefreshErrorKind;
  /** Plain sentence naming the likely cause. Never contains a token value. */
  message: string;
  /** Intuit's transaction id from the response header, when a response arrived. */
  intuitTid: string | null;
}

export interface AccessTokenInfo {
  /** An ellipsis plus the last 4 characters, never more. */
  preview: string;
  expiresAt: string;
}

export interface RefreshTokenInfo {
  preview: string;
  source: 'stored' | 'environment';
  /** Rolling expiry (about 100 days after the last issue); null when unknown (never refreshed yet). */
  expiresAt: string | null;
  /** Absolute 5-year cap; null when Intuit has not told us. */
  hardExpiresAt: string | null;
  lastRotatedAt: string | null;
  /** When Intuit refused this refresh token (invalid_grant): it is dead, reconnect. Null while it is accepted. */
  rejectedAt: string | null;
}

export interface AutoRefreshInfo {
  enabled: boolean;
  nextRefreshAt: string | null;
  skewSeconds: number;
  /** Set while transient failures are being retried with back-off. */
  retrying: { attempt: number; maxAttempts: number } | null;
}

export interface LastRefreshInfo {
  at: string;
  ok: boolean;
  trigger: RefreshTrigger;
  durationMs: number;
  error?: RefreshErrorInfo;
  /** Which process made the refresh, when it named itself (a library client name, `qb-token`, a server). */
  client?: string;
}

export interface TokenStats {
  refreshes: number;
  failures: number;
  retriedOn401: number;
  /** Failed refresh attempts in a row; a success resets it. */
  consecutiveFailures: number;
  /** When the current run of failed refreshes began; null after a success. */
  failingSince: string | null;
}

export type HistoryEventType =
  | 'refreshed'
  | 'rotated'
  | 'failed'
  | 'retried_after_401'
  | 'cleared'
  | 'fell_back_to_environment'
  | 'environment_token_adopted'
  | 'store_recovered'
  | 'connected'
  | 'disconnected';

export interface HistoryEvent {
  at: string;
  type: HistoryEventType;
  /** Plain sentence for people. Never contains a token value. */
  message: string;
  trigger?: RefreshTrigger;
  intuitTid?: string | null;
  /** Which process recorded the event, when it named itself (a library client name, `qb-token`, a server). */
  client?: string;
  /** For `refreshed` and a Connect's `connected`: when the access token it issued expires (the token timeline draws it as a bar). */
  accessTokenExpiresAt?: string;
}

export const HISTORY_LIMIT = 50;

export interface TokenStatus {
  /** The connection this status describes. */
  connection: ConnectionRef;
  state: TokenState;
  source: TokenSource;
  environment: QbEnvironment;
  realmId: string | null;
  demo: boolean;
  accessToken: AccessTokenInfo | null;
  refreshToken: RefreshTokenInfo | null;
  autoRefresh: AutoRefreshInfo;
  lastRefresh: LastRefreshInfo | null;
  stats: TokenStats;
  /** Newest first, at most HISTORY_LIMIT. */
  history: HistoryEvent[];
  /** Plain sentences an admin should read. */
  warnings: string[];
  /** Whether the Connect flow can run (client id and secret are configured). */
  canConnect: boolean;
  /** Where the record lives; null when no store could be opened. */
  store: StoreInfo | null;
}

/** How the last refresh of a connection went, in a line (the list shows it; the dashboard has the rest). */
interface LastRefreshOutcome {
  at: string;
  ok: boolean;
  /** Set when it failed. */
  errorKind: RefreshErrorKind | null;
}

/**
 * One connection at a glance, for the list of companies (every surface builds it from the
 * connection's TokenStatus with `summarizeStatus`, src/shared/connections.ts). Times are absolute.
 */
export interface ConnectionSummary {
  id: ConnectionId;
  /** Display name chosen by the admin (or derived: "QuickBooks sandbox"). */
  name: string;
  /** From CompanyInfo once read; null until then. */
  companyName: string | null;
  environment: QbEnvironment;
  realmId: string | null;
  state: TokenState;
  accessTokenExpiresAt: string | null;
  refreshTokenExpiresAt: string | null;
  lastRefresh: LastRefreshOutcome | null;
  /** The connection the QB_* environment defines: it cannot be removed, only disconnected. */
  isDefault: boolean;
  demo: boolean;
}

/** What Test connection reports: the company behind the realm, read through the auto-refreshing client. */
export interface ConnectionTestResult {
  companyName: string;
  realmId: string;
  intuitTid: string | null;
  durationMs: number;
}

export type ResultErrorCode =
  | RefreshErrorKind
  | 'not_configured'
  | 'reauthorization_required'
  | 'unauthorized'
  | 'forbidden'
  | 'api_error'
  | 'bad_request'
  | 'forbidden_sender'
  | 'revoke_failed'
  | 'connect_failed'
  /** The connection id names no connection of this desk. */
  | 'unknown_connection'
  /** The token store cannot be reached right now (PostgreSQL down, the data directory failing); try again shortly. */
  | 'store_unavailable'
  /** Another process held the connection's lock longer than the wait allows; try again shortly. */
  | 'store_busy'
  /**
   * The store cannot be used as configured: a wrong or missing QB_STORE_KEY, a keychain that cannot
   * open the tokens, an unusable QB_DATA_DIR or QB_STORE_URL. The message says what to fix.
   */
  | 'store_misconfigured'
  | 'internal';

export interface ResultError {
  code: ResultErrorCode;
  /** Plain sentence. Never contains a token value or a stack trace. */
  message: string;
  intuitTid?: string | null;
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: ResultError };

export interface DisconnectOptions {
  /** Forget the stored tokens even though revoking them at Intuit failed. */
  force?: boolean;
  /** The connection to disconnect (default: the default connection). */
  connectionId?: ConnectionId;
}

/**
 * Connect (the OAuth consent at Intuit). The user picks the company there: the connection for that
 * realm is reconnected, or a new one is added for it ("Add company").
 */
export interface ConnectRequest {
  /** Reconnect this connection: the flow uses its environment's keys. */
  connectionId?: ConnectionId;
  /** Add a company in this environment (default: QB_ENVIRONMENT's). Ignored with `connectionId`. */
  environment?: QbEnvironment;
}

export interface RemoveConnectionOptions {
  /** Remove it even though revoking its refresh token at Intuit failed. */
  force?: boolean;
}

/**
 * The renderer's only window into the app: `window.qbTokens` (IPC) or the HTTP bridge (headless).
 * Every action takes an optional connection id; without one it acts on the default connection.
 */
export interface QbTokensBridge {
  getStatus(connectionId?: ConnectionId): Promise<Result<TokenStatus>>;
  refresh(connectionId?: ConnectionId): Promise<Result<TokenStatus>>;
  clear(connectionId?: ConnectionId): Promise<Result<TokenStatus>>;
  testConnection(connectionId?: ConnectionId): Promise<Result<ConnectionTestResult>>;
  connect(request?: ConnectRequest): Promise<Result<TokenStatus>>;
  disconnect(options?: DisconnectOptions): Promise<Result<TokenStatus>>;
  /** Every connection of the desk, the default one first. */
  listConnections(): Promise<Result<ConnectionSummary[]>>;
  /** Revokes the connection's refresh token at Intuit (as Disconnect does), then drops it. Not the default one. */
  removeConnection(
    connectionId: ConnectionId,
    options?: RemoveConnectionOptions,
  ): Promise<Result<ConnectionSummary[]>>;
  /** Every connection's status changes (each names its connection). Returns the function that unsubscribes. */
  onStatusChanged(callback: (status: TokenStatus) => void): () => void;
  /** The list of connections after one was added or removed (here or by another process). */
  onConnectionsChanged(callback: (connections: ConnectionSummary[]) => void): () => void;
  /**
   * Desktop only: the app menu or a keyboard shortcut chose an action; the page runs it as if its
   * button were clicked (so its outcome shows). Absent in headless mode. Returns the unsubscribe.
   */
  onCommand?(callback: (command: DesktopCommand) => void): () => void;
}

/** The actions main's menu and shortcuts can ask the page to run (src/shared/shortcuts.ts has the keys). */
export type DesktopCommand = 'refresh' | 'clear' | 'testConnection';

export const BRIDGE_METHODS = [
  'getStatus',
  'refresh',
  'clear',
  'testConnection',
  'connect',
  'disconnect',
  'listConnections',
  'removeConnection',
  'onStatusChanged',
  'onConnectionsChanged',
  'onCommand',
] as const satisfies readonly (keyof QbTokensBridge)[];

/** IPC channels: one per request/response action, plus the status push. */
export const IPC_CHANNELS = {
  getStatus: 'tokens:get-status',
  refresh: 'tokens:refresh',
  clear: 'tokens:clear',
  testConnection: 'tokens:test-connection',
  connect: 'tokens:connect',
  disconnect: 'tokens:disconnect',
  listConnections: 'tokens:list-connections',
  removeConnection: 'tokens:remove-connection',
} as const satisfies Record<
  Exclude<keyof QbTokensBridge, 'onStatusChanged' | 'onConnectionsChanged' | 'onCommand'>,
  string
>;

export type InvokeChannel = (typeof IPC_CHANNELS)[keyof typeof IPC_CHANNELS];

export const STATUS_CHANGED_CHANNEL = 'tokens:status-changed';

/** Main -> page: the list of connections after one was added or removed. */
export const CONNECTIONS_CHANGED_CHANNEL = 'tokens:connections-changed';

/** Main → page push of a DesktopCommand (desktop only). */
export const COMMAND_CHANNEL = 'tokens:command';

/** Headless HTTP paths (the seed's), relative to the server's origin. */
export const HTTP_PATHS = {
  refreshToken: '/api/integrations/quickbooks/refresh-token',
  companyInfo: '/api/integrations/quickbooks/company-info',
  events: '/api/integrations/quickbooks/events',
  disconnect: '/api/integrations/quickbooks/disconnect',
  /** GET: every connection (ConnectionSummary[]). Per connection, under `/connections/{id}`: see CONNECTION_PATHS. */
  connections: '/api/integrations/quickbooks/connections',
  /** GET; `?environment=` adds a company in that environment, `?connection=` reconnects that one. */
  connect: '/connect',
  callback: '/callback',
  /** Liveness: no auth, no details. */
  healthz: '/healthz',
  /** Readiness: engine started and store reachable; 503 with a one-line reason otherwise. No auth. */
  readyz: '/readyz',
  /** Prometheus text format; the admin secret or QB_METRICS_TOKEN. */
  metrics: '/metrics',
} as const;

/**
 * Per-connection paths, below `${HTTP_PATHS.connections}/{id}`: the same actions as the original
 * paths (which act on the default connection). DELETE on the connection's own path removes it.
 */
export const CONNECTION_PATHS = {
  refreshToken: '/refresh-token',
  companyInfo: '/company-info',
  disconnect: '/disconnect',
} as const;

/** The SSE event name carrying a TokenStatus (of any connection: `status.connection.id` says which). */
export const SSE_STATUS_EVENT = 'status';

/** The SSE event carrying ConnectionSummary[]: sent on connect and whenever a connection is added or removed. */
export const SSE_CONNECTIONS_EVENT = 'connections';

/** Refresh-token lifetime below which the status warns and the UI prompts to reconnect. */
export const REFRESH_TOKEN_WARNING_DAYS = 14;
