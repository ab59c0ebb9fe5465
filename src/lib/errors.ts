// What the library throws. Three classes are the engine's own (NotConfiguredError,
// ReauthorizationRequiredError, ConfigError: the same classes the desk throws, so `instanceof` holds
// whichever layer raised them); QuickBooksApiError extends the engine's ApiError; TransientError
// gathers every "try again later" failure (token endpoint, API transport, store) under one class;
// a store the configuration makes unusable (QB_STORE_KEY, QB_DATA_DIR, QB_STORE_URL) is a
// ConfigError naming the variable. Each wrapped error keeps the engine's original as `cause`, which
// the route handlers map to the contract's ResultError exactly as the headless server does.
import {
  ApiError,
  ConfigError,
  ConnectionRemovedError,
  NotConfiguredError,
  ReauthorizationRequiredError,
  StoreConfigError,
  StoreKeyError,
  StoreLockTimeoutError,
  StoreUnavailableError,
  TokenError,
  UnknownConnectionError as EngineUnknownConnectionError,
} from '../core/errors';
import type { ConnectionStoreDescription } from '../core/connection-store';
import { DATA_DIR_VARIABLE } from '../core/fs/data-dir';
import { STORE_URL_VARIABLE } from '../core/pg/store-url';
import type { RefreshErrorKind } from '../shared/contract';

export { ConfigError, NotConfiguredError, ReauthorizationRequiredError };

/** Why a TransientError happened: a token-endpoint failure kind, or the store being out of reach. */
export type TransientKind =
  Exclude<RefreshErrorKind, 'invalid_grant' | 'invalid_client'> | 'store_unavailable';

/** A failure a later attempt may not have: Intuit or the store unreachable, throttling, a timeout. */
export class TransientError extends Error {
  override name = 'TransientError';
  readonly kind: TransientKind;
  /** Intuit's transaction id when an answer arrived (quote it to Intuit support). */
  readonly intuitTid: string | null;
  /** How long the server asked to wait, ms, when it said. */
  readonly retryAfterMs: number | null;

  constructor(
    kind: TransientKind,
    message: string,
    details: { intuitTid?: string | null; retryAfterMs?: number | null; cause?: unknown } = {},
  ) {
    super(message, { cause: details.cause });
    this.kind = kind;
    this.intuitTid = details.intuitTid ?? null;
    this.retryAfterMs = details.retryAfterMs ?? null;
  }
}

/**
 * The store has no connection by that id or realm id (or another process removed it). Names the id
 * and the store it looked in; `connectionId` holds the id as asked. The desk's own class, so a
 * handler that maps the desk's errors answers it as 404 `unknown_connection`.
 */
export class UnknownConnectionError extends EngineUnknownConnectionError {
  override name = 'UnknownConnectionError';

  constructor(
    connectionId: string,
    store?: Pick<ConnectionStoreDescription, 'kind' | 'location'>,
    removed = false,
  ) {
    super(connectionId);
    const where = store ? ` in the ${store.kind} store at ${store.location}` : '';
    const shown = JSON.stringify(connectionId.length > 64 ? `${connectionId.slice(0, 64)}…` : connectionId);
    this.message = removed
      ? `The connection ${shown} was removed${where} (by the desk or another process): list the connections with quickbooks.listConnections() or qb-token connections list.`
      : `There is no connection ${shown}${where}, by id or realm id: list the connections with quickbooks.listConnections() or qb-token connections list, and add a company with the desk's Add company or qb-token connections add.`;
  }
}

/** QuickBooks answered an API call with an error status (after the one refresh-and-retry on 401). */
export class QuickBooksApiError extends ApiError {
  override name = 'QuickBooksApiError';

  constructor(details: ConstructorParameters<typeof ApiError>[0] & { cause?: unknown }) {
    super(details);
    if (details.cause !== undefined) this.cause = details.cause;
  }

  /** 429 and 5xx: the same call may succeed later. */
  get transient(): boolean {
    return this.status === 429 || this.status >= 500;
  }
}

/** Turns whatever the engine threw into the library's classes; anything else passes unchanged. */
export function toLibraryError(err: unknown): unknown {
  if (err instanceof QuickBooksApiError || err instanceof TransientError) return err;
  if (err instanceof EngineUnknownConnectionError && !(err instanceof UnknownConnectionError)) {
    // The engine's refresh found the record gone under the lock: say so, as the library's own check does.
    const unknown = new UnknownConnectionError(
      err.connectionId,
      undefined,
      err instanceof ConnectionRemovedError,
    );
    unknown.cause = err;
    return unknown;
  }
  if (err instanceof ApiError) {
    // No answer at all (status 0): the transport failed, not QuickBooks.
    if (err.code === 'network' || err.code === 'timeout') {
      return new TransientError(err.code, err.message, { cause: err });
    }
    return new QuickBooksApiError({
      status: err.status,
      code: err.code,
      message: err.message,
      intuitTid: err.intuitTid,
      faultCode: err.faultCode,
      retryAfterMs: err.retryAfterMs,
      cause: err,
    });
  }
  if (err instanceof TokenError) {
    if (err.kind === 'invalid_grant') {
      const reauth = new ReauthorizationRequiredError(undefined, err.intuitTid);
      reauth.cause = err;
      return reauth;
    }
    if (err.kind === 'invalid_client') {
      const notConfigured = new NotConfiguredError(err.message);
      notConfigured.cause = err;
      return notConfigured;
    }
    return new TransientError(err.kind, err.message, {
      intuitTid: err.intuitTid,
      retryAfterMs: err.retryAfterMs,
      cause: err,
    });
  }
  if (err instanceof StoreUnavailableError || err instanceof StoreLockTimeoutError) {
    return new TransientError('store_unavailable', err.message, { cause: err });
  }
  if (isStoreMisconfigured(err)) {
    const config = new ConfigError(err.message, storeVariableOf(err));
    config.cause = err;
    return config;
  }
  return err;
}

/** The store cannot be used as configured: a wrong or missing QB_STORE_KEY, an unusable QB_DATA_DIR or QB_STORE_URL. */
function isStoreMisconfigured(err: unknown): err is StoreKeyError | StoreConfigError {
  return err instanceof StoreKeyError || err instanceof StoreConfigError;
}

/** The variable at fault: the key's, else the one the store's sentence names (each names its own). */
function storeVariableOf(err: StoreKeyError | StoreConfigError): string | null {
  if (err instanceof StoreKeyError) return 'QB_STORE_KEY';
  return [STORE_URL_VARIABLE, DATA_DIR_VARIABLE].find((name) => err.message.includes(name)) ?? null;
}

/** The engine's own error behind a library error (for mapping to the contract's ResultError). */
export function engineErrorOf(err: unknown): unknown {
  const wrapped =
    err instanceof TransientError ||
    err instanceof QuickBooksApiError ||
    err instanceof ReauthorizationRequiredError ||
    err instanceof NotConfiguredError ||
    (err instanceof ConfigError && isStoreMisconfigured(err.cause));
  return wrapped && err.cause instanceof Error ? err.cause : err;
}
