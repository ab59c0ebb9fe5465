// Turns whatever node-postgres throws into the store errors the engine understands (errors.ts):
// unreachable or restarting server -> StoreUnavailableError (transient: the engine serves from memory
// and tries again), a lock wait that ran out -> StoreLockTimeoutError, a login, database, privilege or
// TLS problem -> StoreConfigError naming QB_STORE_URL. Messages are built from codes and the masked URL
// only: a server's message can quote a statement's values, so it is never passed on as is.
import { StoreConfigError, StoreError, StoreLockTimeoutError, StoreUnavailableError } from '../errors';
import { STORE_URL_VARIABLE, type StoreUrl } from './store-url';

/** Node socket error codes meaning "the server is not there right now". */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);

/** node-postgres's own messages for a connection that is gone or never came. */
const UNREACHABLE_MESSAGES = [
  /Connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /Client has encountered a connection error and is not queryable/i,
  /Client was closed and is not queryable/i,
  /Cannot use a pool after calling end/i,
];

const TLS_MESSAGES = [/does not support SSL/i, /certificate/i, /self[- ]signed/i, /SSL/];

const SQLSTATE_REASONS: Record<string, string> = {
  '57P01': 'the server is shutting down',
  '57P02': 'the server crashed',
  '57P03': 'the server is starting up',
  '53300': 'the server has too many connections',
  '53100': 'the server is out of disk space',
  '53200': 'the server is out of memory',
};

interface PgLikeError {
  code?: unknown;
  message?: unknown;
}

function codeOf(err: unknown): string {
  const code = (err as PgLikeError | null)?.code;
  return typeof code === 'string' ? code : '';
}

function messageOf(err: unknown): string {
  const message = (err as PgLikeError | null)?.message;
  return typeof message === 'string' ? message : '';
}

/** A server error's SQLSTATE (five characters, digits among them), as opposed to a Node socket code. */
function isSqlState(code: string): boolean {
  return /^[0-9A-Z]{5}$/.test(code) && /\d/.test(code);
}

/** True when the failure means the server could not be reached or the session was lost. */
function isUnavailable(err: unknown): boolean {
  if (err instanceof StoreUnavailableError) return true;
  const code = codeOf(err);
  if (UNREACHABLE_CODES.has(code) || (isSqlState(code) && code.startsWith('08')) || code in SQLSTATE_REASONS)
    return true;
  const message = messageOf(err);
  return UNREACHABLE_MESSAGES.some((pattern) => pattern.test(message));
}

/**
 * The store error for a failure while `doing` something ("opening the store", "reading connection
 * default"). StoreErrors pass through unchanged.
 */
export function toStoreError(err: unknown, url: StoreUrl, doing: string): StoreError {
  if (err instanceof StoreError) return err;
  const where = `PostgreSQL at ${url.masked} (${STORE_URL_VARIABLE})`;
  const code = codeOf(err);
  const message = messageOf(err);
  if (code === '55P03') {
    return new StoreLockTimeoutError(`${where}: gave up waiting for the connection's lock while ${doing}`);
  }
  if (code === '28P01' || code === '28000') {
    return new StoreConfigError(
      `${where} refused the login of user "${url.user}" while ${doing}: check the user and password in ${STORE_URL_VARIABLE}`,
    );
  }
  if (code === '3D000') {
    return new StoreConfigError(
      `${where}: the database "${url.database}" does not exist; create it (CREATE DATABASE ${url.database}) or fix ${STORE_URL_VARIABLE}`,
    );
  }
  if (code === '42501') {
    return new StoreConfigError(
      `${where}: user "${url.user}" lacks a privilege needed while ${doing} (it must be able to create the qb_token_desk schema in "${url.database}", or own it)`,
    );
  }
  if (isUnavailable(err)) {
    const reason = SQLSTATE_REASONS[code] ?? (code ? code : 'the connection was lost or refused');
    return new StoreUnavailableError(`${where} cannot be reached (${reason}) while ${doing}`);
  }
  const tls =
    code.includes('CERT') ||
    code.startsWith('ERR_TLS') ||
    code.startsWith('ERR_SSL') ||
    TLS_MESSAGES.some((p) => p.test(message));
  if (tls && !isSqlState(code)) {
    return new StoreConfigError(
      `${where}: the TLS connection failed while ${doing} (${code || 'TLS'}); check sslmode in ${STORE_URL_VARIABLE} and the server's certificate`,
    );
  }
  return new StoreError(`${where} failed while ${doing} (${code ? `SQLSTATE ${code}` : 'unexpected error'})`);
}
