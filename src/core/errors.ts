// The engine's error classes, and the one function every adapter uses to turn any failure into
// a ResultError. Messages name the likely cause (from Intuit's documentation) and never carry a token value: they
// are built from kinds, statuses and Intuit's transaction id only.
import {
  TRANSIENT_ERROR_KINDS,
  type RefreshErrorInfo,
  type RefreshErrorKind,
  type ResultError,
  type ResultErrorCode,
} from '../shared/contract';

/** A token-endpoint call (refresh, code exchange) failed. */
export class TokenError extends Error {
  override name = 'TokenError';
  readonly kind: RefreshErrorKind;
  readonly intuitTid: string | null;
  /** HTTP status when a response arrived. */
  readonly status: number | null;
  /** Server-requested wait (429/503 Retry-After), ms. */
  readonly retryAfterMs: number | null;

  constructor(
    kind: RefreshErrorKind,
    message: string,
    details: { intuitTid?: string | null; status?: number | null; retryAfterMs?: number | null } = {},
  ) {
    super(message);
    this.kind = kind;
    this.intuitTid = details.intuitTid ?? null;
    this.status = details.status ?? null;
    this.retryAfterMs = details.retryAfterMs ?? null;
  }

  /** Whether a later attempt with the same refresh token may succeed. */
  get transient(): boolean {
    return TRANSIENT_ERROR_KINDS.includes(this.kind);
  }

  toInfo(): RefreshErrorInfo {
    return { kind: this.kind, message: this.message, intuitTid: this.intuitTid };
  }
}

export type ApiErrorCode = Extract<
  ResultErrorCode,
  | 'unauthorized'
  | 'forbidden'
  | 'rate_limited'
  | 'api_error'
  | 'bad_request'
  | 'network'
  | 'timeout'
  | 'bad_response'
>;

/** An Accounting API call failed (thrown by the QuickBooksClient). */
export class ApiError extends Error {
  override name = 'ApiError';
  /** HTTP status; 0 when no response arrived. */
  readonly status: number;
  readonly code: ApiErrorCode;
  readonly intuitTid: string | null;
  /** Intuit's fault code when the body had one (e.g. "3200", "3100", "3001"). */
  readonly faultCode: string | null;
  readonly retryAfterMs: number | null;

  constructor(details: {
    status: number;
    code: ApiErrorCode;
    message: string;
    intuitTid?: string | null;
    faultCode?: string | null;
    retryAfterMs?: number | null;
  }) {
    super(details.message);
    this.status = details.status;
    this.code = details.code;
    this.intuitTid = details.intuitTid ?? null;
    this.faultCode = details.faultCode ?? null;
    this.retryAfterMs = details.retryAfterMs ?? null;
  }
}

/** No refresh token and no access token are configured or stored. */
export class NotConfiguredError extends Error {
  override name = 'NotConfiguredError';
  constructor(
    message = 'QuickBooks is not connected: set QB_CLIENT_ID, QB_CLIENT_SECRET and QB_REFRESH_TOKEN (or use Connect).',
  ) {
    super(message);
  }
}

/** The refresh token was rejected (invalid_grant): only reconnecting helps. */
export class ReauthorizationRequiredError extends Error {
  override name = 'ReauthorizationRequiredError';
  readonly intuitTid: string | null;
  constructor(
    message = 'QuickBooks rejected the refresh token (invalid_grant): it expired, was revoked or was rotated away. Reconnect to QuickBooks.',
    intuitTid: string | null = null,
  ) {
    super(message);
    this.intuitTid = intuitTid;
  }
}

/** A configuration variable has a value the app cannot use. Stops start-up. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  /** The variable at fault, e.g. "QB_ENVIRONMENT". */
  readonly variable: string | null;
  constructor(message: string, variable: string | null = null) {
    super(message);
    this.variable = variable;
  }
}

/** The stored tokens could not be written; the new chain is kept in memory and saving is retried. */
export class StoreError extends Error {
  override name = 'StoreError';
}

/** The store cannot be reached right now (PostgreSQL down, a lost connection). Transient. */
export class StoreUnavailableError extends StoreError {
  override name = 'StoreUnavailableError';
}

/** Another holder kept the connection's lock longer than the wait allows. Transient. */
export class StoreLockTimeoutError extends StoreError {
  override name = 'StoreLockTimeoutError';
}

/**
 * A record could not be decrypted: QB_STORE_KEY is wrong or missing. Not corruption: the record is
 * left as it is and nothing is refreshed until the key is right.
 */
export class StoreKeyError extends StoreError {
  override name = 'StoreKeyError';
}

/** The store's own configuration is unusable (QB_STORE_URL, QB_DATA_DIR); the message names the variable. */
export class StoreConfigError extends StoreError {
  override name = 'StoreConfigError';
}

/** The Connect flow or Disconnect failed: the consent was refused or could not be completed, or Intuit did not revoke. */
export class ConnectError extends Error {
  override name = 'ConnectError';
  readonly code: Extract<ResultErrorCode, 'connect_failed' | 'revoke_failed'>;
  readonly intuitTid: string | null;
  constructor(
    code: Extract<ResultErrorCode, 'connect_failed' | 'revoke_failed'>,
    message: string,
    intuitTid: string | null = null,
  ) {
    super(message);
    this.code = code;
    this.intuitTid = intuitTid;
  }
}

/** A connection id as messages show it: a long one (from a URL) clipped. */
function shownId(connectionId: string): string {
  return connectionId.length > 64 ? `${connectionId.slice(0, 64)}…` : connectionId;
}

/** A connection id that names no connection of this desk (or one another process removed). */
export class UnknownConnectionError extends Error {
  override name = 'UnknownConnectionError';
  constructor(readonly connectionId: string) {
    super(
      `There is no connection "${shownId(connectionId)}": list them with qb-token connections list, or GET /api/integrations/quickbooks/connections.`,
    );
  }
}

/**
 * Another process removed this connection (or its record was deleted) while this one still served it:
 * nothing is refreshed or written for it here, and its chain in memory is forgotten.
 */
export class ConnectionRemovedError extends UnknownConnectionError {
  override name = 'ConnectionRemovedError';
  constructor(connectionId: string) {
    super(connectionId);
    this.message = `The connection "${shownId(connectionId)}" was removed from the token store (by another process, or by hand): nothing was refreshed or written for it here. Connect the company again to add it back.`;
  }
}

/** Maps any failure to the contract's ResultError. Unknown errors become a generic message (no stack, no details). */
export function toResultError(err: unknown): ResultError {
  if (err instanceof TokenError) return { code: err.kind, message: err.message, intuitTid: err.intuitTid };
  if (err instanceof ApiError) return { code: err.code, message: err.message, intuitTid: err.intuitTid };
  if (err instanceof ReauthorizationRequiredError) {
    return { code: 'reauthorization_required', message: err.message, intuitTid: err.intuitTid };
  }
  if (err instanceof NotConfiguredError) return { code: 'not_configured', message: err.message };
  if (err instanceof ConfigError) return { code: 'bad_request', message: err.message };
  if (err instanceof StoreUnavailableError) return { code: 'store_unavailable', message: err.message };
  if (err instanceof StoreLockTimeoutError) return { code: 'store_busy', message: err.message };
  if (err instanceof StoreKeyError || err instanceof StoreConfigError) {
    return { code: 'store_misconfigured', message: err.message };
  }
  // Store messages name places and codes (QB_STORE_URL's password masked), never a token value.
  if (err instanceof StoreError) return { code: 'internal', message: err.message };
  if (err instanceof ConnectError) return { code: err.code, message: err.message, intuitTid: err.intuitTid };
  if (err instanceof UnknownConnectionError) return { code: 'unknown_connection', message: err.message };
  return { code: 'internal', message: 'Unexpected internal error; see the app log for details.' };
}

/** Human explanation of each refresh failure kind: the likely cause, from Intuit's documentation. */
export const LIKELY_CAUSE: Record<RefreshErrorKind, string> = {
  invalid_grant:
    'the refresh token expired, was revoked, or was rotated away (a newer value was issued and the old one not saved); reconnect to QuickBooks',
  invalid_client:
    'the client id or secret is wrong, or sandbox keys are used against production; check QB_CLIENT_ID, QB_CLIENT_SECRET and QB_ENVIRONMENT',
  // Transient kinds say what holds for every caller; whether and when a retry follows is each
  // surface's to say (the app's schedule retries, a CLI run exits).
  network:
    'the token endpoint could not be reached (connection refused or reset); the refresh token is kept and stays valid',
  timeout: 'the token endpoint did not answer in time; the refresh token is kept and stays valid',
  server: 'Intuit answered with a server error; the refresh token is kept and stays valid',
  rate_limited:
    'Intuit is throttling requests (HTTP 429); the refresh token is kept and stays valid, and a later attempt after a pause can succeed',
  bad_response:
    'the token endpoint answered with something that is not a valid token response (HTML or malformed JSON, often a proxy or outage page); the refresh token is kept',
};
