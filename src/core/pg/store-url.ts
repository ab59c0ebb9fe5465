// QB_STORE_URL: where the PostgreSQL store lives. Parsed once (validation for config.ts, the pool's
// settings for the store), with `sslmode` read the way libpq reads it (pg-connection-string's libpq
// mode). Whatever is shown to people (errors, the status, logs) carries the password masked.
import { parse, type ConnectionOptions } from 'pg-connection-string';

export const STORE_URL_VARIABLE = 'QB_STORE_URL';

/** sslmode values accepted. `prefer` and `allow` are refused: they may fall back to no encryption without a word. */
const SSL_MODES = ['disable', 'require', 'verify-ca', 'verify-full', 'no-verify'] as const;
type SslMode = (typeof SSL_MODES)[number];

const EXAMPLE = 'postgres://user:password@db.example.com:5432/qb_tokens';
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/;

export interface StoreUrl {
  host: string;
  port: number;
  database: string;
  user: string;
  /** Null when the URL has none (the pool's settings then come from the URL alone). */
  password: string | null;
  sslMode: SslMode | null;
  /** The pool's TLS settings (false: none). */
  ssl: ConnectionOptions['ssl'];
  /** `host:port/database`, for TokenStatus.store: never the password. */
  location: string;
  /** The URL with its password replaced by `***`. */
  masked: string;
}

/**
 * The URL with its password masked. Passwords often hold characters a URL should escape (`/ ? # @`
 * from a random generator), so the credentials are everything up to the last `@`, and a libpq
 * `password=` parameter is masked too. A value that is not a URL at all is not echoed.
 */
export function maskStoreUrl(value: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(value)?.[0];
  if (!scheme || /\s/.test(value)) return '(not a URL)';
  const rest = value.slice(scheme.length);
  const at = rest.lastIndexOf('@');
  const maskQuery = (text: string) => text.replace(/([?&]password=)[^&#]*/gi, '$1***');
  if (at === -1) {
    // Nothing written before an `@`; "user:pass" alone would read as host:port, so only a value
    // that parses, with no password in it, is echoed.
    try {
      return new URL(value).password ? `${scheme}***` : maskQuery(value);
    } catch {
      return `${scheme}(not shown: not a valid URL)`;
    }
  }
  const credentials = rest.slice(0, at);
  const colon = credentials.indexOf(':');
  const user = colon === -1 ? credentials : credentials.slice(0, colon);
  return `${scheme}${user}${colon === -1 ? '' : ':***'}@${maskQuery(rest.slice(at + 1))}`;
}

/** Parses QB_STORE_URL. Throws an Error whose message names QB_STORE_URL and what was expected (password masked). */
export function parseStoreUrl(value: string): StoreUrl {
  const masked = maskStoreUrl(value);
  const fail = (why: string): never => {
    throw new Error(`${STORE_URL_VARIABLE} ${why}, got ${masked}`);
  };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return fail(`must be a PostgreSQL URL such as ${EXAMPLE}`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    return fail(`must start with postgres:// or postgresql:// (e.g. ${EXAMPLE})`);
  }
  if (!url.hostname) fail(`must name the server's host (e.g. ${EXAMPLE})`);
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!database || database.includes('/')) fail(`must name one database after the host (e.g. ${EXAMPLE})`);
  if (!url.username) fail(`must name the user to connect as (e.g. ${EXAMPLE})`);
  const sslMode = url.searchParams.get('sslmode');
  if (sslMode !== null && !(SSL_MODES as readonly string[]).includes(sslMode)) {
    fail(
      `has sslmode=${sslMode}; use one of ${SSL_MODES.join(', ')} (prefer and allow may silently connect without encryption)`,
    );
  }
  let options: ConnectionOptions;
  try {
    options = parse(value, { useLibpqCompat: true });
  } catch (err) {
    // e.g. sslmode=verify-ca without sslrootcert, or an sslcert file that cannot be read.
    return fail(`cannot be used: ${(err as Error).message.split('\n')[0]}`);
  }
  const port = url.port ? Number(url.port) : 5432;
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return {
    host,
    port,
    database,
    user: decodeURIComponent(url.username),
    password: url.password ? decodeURIComponent(url.password) : null,
    sslMode: sslMode as SslMode | null,
    ssl: options.ssl ?? false,
    location: `${url.hostname}:${port}/${database}`,
    masked,
  };
}

/** Null when the URL is usable, else the message for a ConfigError. */
export function storeUrlProblem(value: string): string | null {
  try {
    parseStoreUrl(value);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/** A standing warning when tokens would cross a network to the server without TLS. */
export function plaintextTransportWarning(url: StoreUrl): string | null {
  if (url.sslMode !== null || LOOPBACK.test(url.host)) return null;
  return `The connection to PostgreSQL at ${url.location} is not encrypted (${STORE_URL_VARIABLE} has no sslmode): add sslmode=verify-full (or sslmode=disable to accept it).`;
}
