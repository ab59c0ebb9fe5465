// Authorized reads from the QuickBooks Online Accounting API. Everything that makes a call
// safe lives here: a per-realm concurrency ceiling (Intuit allows 10 in flight per company),
// one refresh and one retry after a 401, Retry-After-aware back-off on 429, timeouts, and errors
// that carry intuit_tid and never a token value.
import { describeApiFault, parseApiFault } from './api-faults';
import { ApiError, type ApiErrorCode } from './errors';
import { RequestQueue } from './request-queue';
import { previewToken } from '../shared/preview';

export { ApiError } from './errors';

export interface AccessTokenSource {
  getAccessToken(): Promise<string>;
  /** Called after a 401: returns a fresh token (refreshing at most once for all concurrent callers). */
  refreshAfter401(staleAccessToken: string): Promise<string>;
}

export interface QuickBooksClientOptions {
  tokens: AccessTokenSource;
  /** e.g. https://sandbox-quickbooks.api.intuit.com, or the emulator's apiBaseUrl. */
  apiBaseUrl: string;
  realmId: string;
  /** Sent as `minorversion` on every call (default 75; Intuit ignores lower values). */
  minorVersion?: number;
  /** Per attempt, including reading the body (default 30 s; Intuit itself gives up at 120 s). */
  fetchTimeoutMs?: number;
  /** Requests in flight at once for this realm (default 10, Intuit's ceiling); the rest wait in FIFO order. */
  maxConcurrent?: number;
  /** Retries after a 429 before giving up (default 3). */
  maxRateLimitRetries?: number;
  /** First wait after a 429 without Retry-After, doubled on each retry (default 1 s). */
  rateLimitBackoffMs?: number;
  /** Longest single wait after a 429; a longer Retry-After is reported instead of waited out (default 60 s). */
  maxRetryAfterMs?: number;
  /** One line per request (method, path, status, duration, intuit_tid); never a token value. */
  log?: (line: string) => void;
}

export interface RequestOptions {
  /** Extra query parameters; `minorversion` is added unless given here. */
  query?: Record<string, string>;
  signal?: AbortSignal;
}

export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
  intuitTid: string | null;
}

export interface CompanyInfoResult {
  companyName: string;
  realmId: string;
  intuitTid: string | null;
  raw: unknown;
}

export interface QueryResult<T = unknown> {
  /** The entity array of the QueryResponse (empty when nothing matched or for `count(*)`). */
  rows: T[];
  /** The entity name the rows came under (`Customer`, ...), or null when there were none. */
  entity: string | null;
  totalCount: number | null;
  startPosition: number | null;
  maxResults: number | null;
  intuitTid: string | null;
  raw: unknown;
}

interface Attempt {
  status: number;
  headers: Headers;
  text: string;
  tokenUsed: string;
}

const DEFAULTS = {
  minorVersion: 75,
  fetchTimeoutMs: 30_000,
  maxConcurrent: 10,
  maxRateLimitRetries: 3,
  rateLimitBackoffMs: 1_000,
  maxRetryAfterMs: 60_000,
};

export class QuickBooksClient {
  private readonly tokens: AccessTokenSource;
  private readonly apiBaseUrl: string;
  readonly realmId: string;
  private readonly settings: typeof DEFAULTS;
  private readonly queue: RequestQueue;
  private readonly log: (line: string) => void;

  constructor(options: QuickBooksClientOptions) {
    if (!options.realmId) throw new TypeError('QuickBooksClient: realmId is required (QB_REALM_ID).');
    let base: URL;
    try {
      base = new URL(options.apiBaseUrl);
    } catch {
      throw new TypeError(
        `QuickBooksClient: apiBaseUrl must be an absolute URL, got "${options.apiBaseUrl}".`,
      );
    }
    this.tokens = options.tokens;
    this.apiBaseUrl = base.href.replace(/\/+$/, '');
    this.realmId = options.realmId;
    this.settings = {
      minorVersion: options.minorVersion ?? DEFAULTS.minorVersion,
      fetchTimeoutMs: options.fetchTimeoutMs ?? DEFAULTS.fetchTimeoutMs,
      maxConcurrent: options.maxConcurrent ?? DEFAULTS.maxConcurrent,
      maxRateLimitRetries: options.maxRateLimitRetries ?? DEFAULTS.maxRateLimitRetries,
      rateLimitBackoffMs: options.rateLimitBackoffMs ?? DEFAULTS.rateLimitBackoffMs,
      maxRetryAfterMs: options.maxRetryAfterMs ?? DEFAULTS.maxRetryAfterMs,
    };
    this.queue = new RequestQueue(this.settings.maxConcurrent);
    this.log = options.log ?? (() => {});
  }

  /** Requests running and waiting right now, and the highest concurrency seen (for status and tests). */
  get load(): { inFlight: number; queued: number; peakInFlight: number } {
    return {
      inFlight: this.queue.inFlight,
      queued: this.queue.queued,
      peakInFlight: this.queue.peakInFlight,
    };
  }

  async getCompanyInfo(options: { signal?: AbortSignal } = {}): Promise<CompanyInfoResult> {
    const realm = encodeURIComponent(this.realmId);
    const response = await this.request(`companyinfo/${realm}`, options);
    const info = field(response.body, 'CompanyInfo');
    const companyName = field(info, 'CompanyName');
    if (typeof companyName !== 'string') {
      throw new ApiError({
        status: response.status,
        code: 'bad_response',
        intuitTid: response.intuitTid,
        message: 'QuickBooks answered the CompanyInfo request without CompanyInfo.CompanyName.',
      });
    }
    return { companyName, realmId: this.realmId, intuitTid: response.intuitTid, raw: response.body };
  }

  /** Runs a query statement, e.g. `select * from Customer`. */
  async query<T = unknown>(
    statement: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<QueryResult<T>> {
    if (!statement.trim()) throw new TypeError('QuickBooksClient.query: the statement is empty.');
    const response = await this.request('query', { query: { query: statement }, signal: options.signal });
    const queryResponse = field(response.body, 'QueryResponse');
    if (typeof queryResponse !== 'object' || queryResponse === null) {
      throw new ApiError({
        status: response.status,
        code: 'bad_response',
        intuitTid: response.intuitTid,
        message: 'QuickBooks answered the query without a QueryResponse.',
      });
    }
    const entry = Object.entries(queryResponse).find(([, value]) => Array.isArray(value));
    const numberOrNull = (name: string) => {
      const value = field(queryResponse, name);
      return typeof value === 'number' ? value : null;
    };
    return {
      rows: entry ? (entry[1] as T[]) : [],
      entity: entry ? entry[0] : null,
      totalCount: numberOrNull('totalCount'),
      startPosition: numberOrNull('startPosition'),
      maxResults: numberOrNull('maxResults'),
      intuitTid: response.intuitTid,
      raw: response.body,
    };
  }

  /**
   * An authorized GET. `path` is relative to `/v3/company/{realmId}/` (e.g. `customer/1`), or to the
   * API base when it starts with `/`. Resolves with the parsed JSON of a 2xx answer; rejects with ApiError.
   */
  async request<T = unknown>(path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    const url = this.buildUrl(path, options.query);
    const label = describePath(url);
    let retriedAfter401 = false;
    let rateLimitRetries = 0;
    for (;;) {
      // The slot is held only while a request is on the wire: refreshes and back-off waits happen outside it.
      const attempt = await this.queue.run(() => this.send(url, label, options.signal));
      const { status, headers, tokenUsed } = attempt;
      const intuitTid = headers.get('intuit_tid');

      if (status >= 200 && status < 300) {
        return { status, body: parseJsonBody(attempt, intuitTid, label) as T, intuitTid };
      }

      if (status === 401 && !retriedAfter401) {
        retriedAfter401 = true;
        this.log(`GET ${label}: 401, refreshing the access token once and retrying`);
        await this.tokens.refreshAfter401(tokenUsed);
        continue;
      }
      if (status === 429 && rateLimitRetries < this.settings.maxRateLimitRetries) {
        const waitMs = this.rateLimitWait(headers, rateLimitRetries);
        if (waitMs !== null) {
          rateLimitRetries += 1;
          this.log(`GET ${label}: 429 throttled, retry ${rateLimitRetries} in ${waitMs} ms`);
          await sleep(waitMs, options.signal);
          continue;
        }
      }
      throw this.errorFor(attempt, intuitTid, label, retriedAfter401);
    }
  }

  private buildUrl(path: string, query: Record<string, string> = {}): URL {
    const relative = path.startsWith('/')
      ? path
      : `/v3/company/${encodeURIComponent(this.realmId)}/${path.replace(/^\/+/, '')}`;
    const url = new URL(this.apiBaseUrl + relative);
    for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
    if (!url.searchParams.has('minorversion'))
      url.searchParams.set('minorversion', String(this.settings.minorVersion));
    return url;
  }

  private async send(url: URL, label: string, callerSignal: AbortSignal | undefined): Promise<Attempt> {
    const tokenUsed = await this.tokens.getAccessToken();
    const timeout = AbortSignal.timeout(this.settings.fetchTimeoutMs);
    const signal = callerSignal ? AbortSignal.any([callerSignal, timeout]) : timeout;
    const started = Date.now();
    try {
      const response = await fetch(url, {
        method: 'GET',
        headers: { Authorization: `Bearer ${tokenUsed}`, Accept: 'application/json' },
        signal,
      });
      const text = await response.text();
      this.log(
        `GET ${label} -> ${response.status} in ${Date.now() - started} ms, intuit_tid=${response.headers.get('intuit_tid') ?? '-'}`,
      );
      return { status: response.status, headers: response.headers, text, tokenUsed };
    } catch (error) {
      if (callerSignal?.aborted) throw callerSignal.reason;
      const timedOut = timeout.aborted;
      this.log(
        `GET ${label} failed after ${Date.now() - started} ms: ${timedOut ? 'timeout' : 'network error'}`,
      );
      throw new ApiError({
        status: 0,
        code: timedOut ? 'timeout' : 'network',
        message: timedOut
          ? `QuickBooks did not answer GET ${label} within ${this.settings.fetchTimeoutMs} ms.`
          : `Could not reach QuickBooks at ${url.origin} (${scrub(errorText(error), tokenUsed)}).`,
      });
    }
  }

  /** How long to wait before retrying a 429, or null when the server asks for more than we allow. */
  private rateLimitWait(headers: Headers, retriesSoFar: number): number | null {
    const retryAfterMs = parseRetryAfter(headers.get('retry-after'));
    if (retryAfterMs !== null) return retryAfterMs <= this.settings.maxRetryAfterMs ? retryAfterMs : null;
    return Math.min(this.settings.rateLimitBackoffMs * 2 ** retriesSoFar, this.settings.maxRetryAfterMs);
  }

  private errorFor(
    attempt: Attempt,
    intuitTid: string | null,
    label: string,
    retriedAfter401: boolean,
  ): ApiError {
    const { status, tokenUsed } = attempt;
    const fault = parseApiFault(tryParseJson(attempt.text));
    const said = fault ? describeApiFault(fault) : describeNonFaultBody(attempt);
    const retryAfterMs = parseRetryAfter(attempt.headers.get('retry-after'));
    let code: ApiErrorCode;
    let message: string;
    if (status === 401) {
      code = 'unauthorized';
      message = retriedAfter401
        ? `QuickBooks rejected GET ${label} with 401 again after the access token was refreshed: ${said}. The connection may have been revoked or lack the accounting scope for this company.`
        : `QuickBooks rejected GET ${label} with 401: ${said}.`;
    } else if (status === 403) {
      code = 'forbidden';
      message = `QuickBooks refused GET ${label} with 403: ${said}. The connected user lacks permission for this; refreshing the token does not help.`;
    } else if (status === 429) {
      code = 'rate_limited';
      message = `QuickBooks throttled GET ${label} (429: ${said})${
        retryAfterMs !== null ? `; it asks to retry after ${Math.ceil(retryAfterMs / 1000)} s` : ''
      }. Intuit allows 10 concurrent and 500 requests per minute per company.`;
    } else if (status === 400) {
      code = 'bad_request';
      message = `QuickBooks rejected GET ${label} as invalid (400): ${said}.`;
    } else {
      code = 'api_error';
      message = `QuickBooks answered GET ${label} with HTTP ${status}: ${said}.`;
    }
    return new ApiError({
      status,
      code,
      intuitTid,
      faultCode: fault?.errors[0]?.code ?? null,
      retryAfterMs,
      message: scrub(message, tokenUsed),
    });
  }
}

export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (value === null || value.trim() === '') return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.round(seconds * 1000));
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

function parseJsonBody(attempt: Attempt, intuitTid: string | null, label: string): unknown {
  const parsed = tryParseJson(attempt.text);
  if (parsed !== undefined && typeof parsed === 'object' && parsed !== null) return parsed;
  throw new ApiError({
    status: attempt.status,
    code: 'bad_response',
    intuitTid,
    message: `QuickBooks answered GET ${label} with HTTP ${attempt.status} but ${describeNonFaultBody(attempt)}; check QB_API_BASE_URL.`,
  });
}

function describeNonFaultBody(attempt: Attempt): string {
  const contentType = attempt.headers.get('content-type') ?? '';
  const text = attempt.text.trimStart();
  if (contentType.includes('html') || text.startsWith('<')) return 'the body was an HTML page, not JSON';
  if (text === '') return 'the body was empty';
  return tryParseJson(text) === undefined
    ? 'the body was not valid JSON'
    : 'the body carried no fault details';
}

function tryParseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined;
}

/** The request for logs and messages: path and query statement, without the minorversion noise. */
function describePath(url: URL): string {
  const statement = url.searchParams.get('query');
  const text = statement ? `${url.pathname} "${statement}"` : url.pathname;
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

/** Belt and braces: a server or proxy could echo the bearer token back in a message. */
function scrub(text: string, token: string): string {
  return token ? text.split(token).join(previewToken(token)) : text;
}

function errorText(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return error instanceof Error ? `${error.message}${cause}` : String(error);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
