// Authorized calls to the QuickBooks Online Accounting API. Everything that makes a call
// safe lives here: per-connection pacing within Intuit's limits (10 in flight, 10 a second, 500 a
// minute per company: request-queue.ts), one refresh and one retry after a 401, a connection-wide
// wait after a 429 that came anyway (Retry-After, else Intuit's minute), timeouts, and errors
// that carry intuit_tid and never a token value. `request` reads JSON; `fetch` is the same
// machinery for any method, answering with a Response (the library's `fetch` is this one). What an
// answer means (the JSON, or which ApiError) is api-answers.ts.
import { apiErrorFor, noAnswerError, parseJsonBody, parseRetryAfter, type ApiAttempt } from './api-answers';
import { ApiError } from './errors';
import { ApiTransport, WireTimeoutError, type WireHeaders } from './api-transport';
import { RequestQueue } from './request-queue';
import { noTelemetry, type EngineTelemetry } from './telemetry';
import { DEFAULT_CONNECTION_ID, type ConnectionId } from '../shared/contract';

export { ApiError } from './errors';
export { parseRetryAfter } from './api-answers';

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
  /** Requests sent in any second (default 10, Intuit's limit per company and app); Infinity: unpaced. */
  maxRequestsPerSecond?: number;
  /** Requests sent in any minute (default 500, Intuit's limit per company); Infinity: unpaced. */
  maxRequestsPerMinute?: number;
  /** Retries after a 429 before giving up (default 3). */
  maxRateLimitRetries?: number;
  /** First wait after a 429 without Retry-After, doubled on each retry (default 60 s, as Intuit suggests). */
  rateLimitBackoffMs?: number;
  /** Longest single wait after a 429; a longer Retry-After is reported instead of waited out (default 60 s). */
  maxRetryAfterMs?: number;
  /** One line per request (method, path, status, duration, intuit_tid); never a token value. */
  log?: (line: string) => void;
  /** Requests by status and duration, and retries after a 401, for operators (default: none). */
  telemetry?: EngineTelemetry;
  /** The connection the requests are for, in telemetry (default: the default connection). */
  connectionId?: ConnectionId;
}

interface RequestOptions {
  /** Extra query parameters; `minorversion` is added unless given here. */
  query?: Record<string, string>;
  signal?: AbortSignal;
}

interface ApiResponse<T = unknown> {
  status: number;
  body: T;
  intuitTid: string | null;
}

interface CompanyInfoResult {
  companyName: string;
  realmId: string;
  intuitTid: string | null;
  raw: unknown;
}

interface QueryResult<T = unknown> {
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

/** One request as the retry loop replays it: the body is read once, so a retry can resend it. */
interface Outgoing {
  url: URL;
  method: string;
  /** Caller headers (lower-case names) without Authorization, which is set per attempt. */
  headers: Readonly<Record<string, string>>;
  body: Uint8Array<ArrayBuffer> | null;
  signal: AbortSignal | undefined;
}

/** `GET /v3/company/…/query "select …"`: for logs and messages, built only when one is written. */
function describeRequest(request: Outgoing): string {
  return `${request.method} ${describePath(request.url)}`;
}

const JSON_GET_HEADERS: Readonly<Record<string, string>> = { accept: 'application/json' };

const DEFAULTS = {
  minorVersion: 75,
  fetchTimeoutMs: 30_000,
  maxConcurrent: 10,
  maxRequestsPerSecond: 10,
  maxRequestsPerMinute: 500,
  maxRateLimitRetries: 3,
  rateLimitBackoffMs: 60_000,
  maxRetryAfterMs: 60_000,
};

export class QuickBooksClient {
  private readonly tokens: AccessTokenSource;
  private readonly apiBaseUrl: string;
  readonly realmId: string;
  private readonly settings: typeof DEFAULTS;
  private readonly queue: RequestQueue;
  /** Null without a log: the per-request line is not even built then (it is on the hot path). */
  private readonly log: ((line: string) => void) | null;
  private readonly telemetry: EngineTelemetry;
  private readonly transport = new ApiTransport();
  private readonly connectionId: ConnectionId;

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
      maxRequestsPerSecond: options.maxRequestsPerSecond ?? DEFAULTS.maxRequestsPerSecond,
      maxRequestsPerMinute: options.maxRequestsPerMinute ?? DEFAULTS.maxRequestsPerMinute,
      maxRateLimitRetries: options.maxRateLimitRetries ?? DEFAULTS.maxRateLimitRetries,
      rateLimitBackoffMs: options.rateLimitBackoffMs ?? DEFAULTS.rateLimitBackoffMs,
      maxRetryAfterMs: options.maxRetryAfterMs ?? DEFAULTS.maxRetryAfterMs,
    };
    this.queue = new RequestQueue({
      maxConcurrent: this.settings.maxConcurrent,
      limits: [
        { limit: this.settings.maxRequestsPerSecond, spanMs: 1_000 },
        { limit: this.settings.maxRequestsPerMinute, spanMs: 60_000 },
      ],
    });
    this.log = options.log ?? null;
    this.telemetry = options.telemetry ?? noTelemetry;
    this.connectionId = options.connectionId ?? DEFAULT_CONNECTION_ID;
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
    const attempt = await this.send({
      url,
      method: 'GET',
      headers: JSON_GET_HEADERS,
      body: null,
      signal: options.signal,
    });
    const intuitTid = attempt.headers.get('intuit_tid');
    return {
      status: attempt.status,
      body: parseJsonBody(attempt, intuitTid, () => `GET ${describePath(url)}`) as T,
      intuitTid,
    };
  }

  /**
   * An authorized request of any method, answered like the platform's fetch: `pathOrUrl` is a path
   * relative to `/v3/company/{realmId}/`, a path from the API base when it starts with `/`, or an
   * absolute URL on the API base's origin (the bearer token goes nowhere else). Adds the bearer,
   * `Accept: application/json` unless given, and `Content-Type: application/json` for a string body
   * without one. Resolves with the 2xx answer (its body read, so the concurrency slot is free);
   * rejects with ApiError for any other answer or none.
   */
  async fetch(pathOrUrl: string | URL, init: RequestInit = {}): Promise<Response> {
    const url = this.resolveUrl(pathOrUrl);
    const method = (init.method ?? 'GET').toUpperCase();
    const headers = new Headers(init.headers);
    headers.delete('authorization');
    if (!headers.has('accept')) headers.set('Accept', 'application/json');
    let body: Uint8Array<ArrayBuffer> | null = null;
    if (init.body !== undefined && init.body !== null) {
      if (method === 'GET' || method === 'HEAD')
        throw new TypeError(`QuickBooks fetch: a ${method} request cannot have a body.`);
      // Read once through the platform's own body rules, so a retry after 401 or 429 can resend it.
      const probe = new Request(url, { method: 'POST', body: init.body, duplex: 'half' } as RequestInit);
      body = new Uint8Array(await probe.arrayBuffer());
      if (!headers.has('content-type')) {
        const implied = probe.headers.get('content-type');
        headers.set(
          'Content-Type',
          typeof init.body === 'string' || implied === null ? 'application/json' : implied,
        );
      }
    }
    const attempt = await this.send({
      url,
      method,
      headers: Object.fromEntries(headers),
      body,
      signal: init.signal ?? undefined,
    });
    const answerHeaders = attempt.headers.toHeaders();
    // The body is already decoded and buffered: these would describe the bytes on the wire.
    answerHeaders.delete('content-encoding');
    answerHeaders.delete('content-length');
    const noBody = attempt.status === 204 || attempt.status === 205 || method === 'HEAD';
    return new Response(noBody ? null : new Uint8Array(attempt.bytes), {
      status: attempt.status,
      statusText: attempt.statusText,
      headers: answerHeaders,
    });
  }

  /** Runs the request to a 2xx answer: one refresh and retry after a 401, bounded waits after 429s. */
  private async send(request: Outgoing): Promise<ApiAttempt> {
    let retriedAfter401 = false;
    let rateLimitRetries = 0;
    for (;;) {
      // The slot is held only while a request is on the wire: refreshes and waits happen outside it.
      // A retry goes first: it keeps the place its first attempt had.
      const attempt = await this.queue.run(() => this.attempt(request), {
        signal: request.signal,
        first: retriedAfter401 || rateLimitRetries > 0,
      });
      const { status, headers, tokenUsed } = attempt;

      if (status >= 200 && status < 300) return attempt;

      const what = describeRequest(request);
      const intuitTid = headers.get('intuit_tid');
      if (status === 401 && !retriedAfter401) {
        retriedAfter401 = true;
        this.log?.(`${what}: 401, refreshing the access token once and retrying`);
        this.telemetry.retriedAfter401({ connectionId: this.connectionId });
        await this.tokens.refreshAfter401(tokenUsed);
        continue;
      }
      if (status === 429 && rateLimitRetries < this.settings.maxRateLimitRetries) {
        const waitMs = this.rateLimitWait(headers, rateLimitRetries);
        if (waitMs !== null) {
          rateLimitRetries += 1;
          this.log?.(`${what}: 429 throttled, retry ${rateLimitRetries} in ${waitMs} ms`);
          // Intuit throttles the company, not this request: the connection's other requests wait too.
          this.queue.pauseUntil(Date.now() + waitMs);
          continue;
        }
      }
      throw apiErrorFor(attempt, intuitTid, what, retriedAfter401);
    }
  }

  /** An absolute URL must be on the API base's origin: the bearer token is sent nowhere else. */
  private resolveUrl(pathOrUrl: string | URL): URL {
    const text = String(pathOrUrl);
    if (!/^[a-z][a-z\d+.-]*:/i.test(text)) return this.buildUrl(text);
    const url = new URL(text);
    const base = new URL(this.apiBaseUrl);
    if (url.origin !== base.origin) {
      throw new TypeError(
        `QuickBooks fetch: ${url.origin} is not the QuickBooks API (${base.origin}, QB_API_BASE_URL); the access token is sent only there.`,
      );
    }
    if (!url.searchParams.has('minorversion'))
      url.searchParams.set('minorversion', String(this.settings.minorVersion));
    return url;
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

  private async attempt(request: Outgoing): Promise<ApiAttempt> {
    const tokenUsed = await this.tokens.getAccessToken();
    const started = Date.now();
    try {
      const answer = await this.transport.send({
        url: request.url,
        method: request.method,
        headers: { ...request.headers, authorization: `Bearer ${tokenUsed}` },
        body: request.body,
        timeoutMs: this.settings.fetchTimeoutMs,
        signal: request.signal,
      });
      const durationMs = Date.now() - started;
      this.telemetry.apiRequested({ connectionId: this.connectionId, status: answer.status, durationMs });
      this.log?.(
        `${describeRequest(request)} -> ${answer.status} in ${durationMs} ms, intuit_tid=${answer.headers.get('intuit_tid') ?? '-'}`,
      );
      return { ...answer, tokenUsed };
    } catch (error) {
      this.telemetry.apiRequested({
        connectionId: this.connectionId,
        status: 0,
        durationMs: Date.now() - started,
      });
      if (request.signal?.aborted) throw request.signal.reason;
      const timedOut = error instanceof WireTimeoutError;
      const what = describeRequest(request);
      this.log?.(
        `${what} failed after ${Date.now() - started} ms: ${timedOut ? 'timeout' : 'network error'}`,
      );
      throw noAnswerError({
        error,
        timedOut,
        what,
        timeoutMs: this.settings.fetchTimeoutMs,
        origin: request.url.origin,
        tokenUsed,
      });
    }
  }

  /** How long to wait before retrying a 429, or null when the server asks for more than we allow. */
  private rateLimitWait(headers: WireHeaders, retriesSoFar: number): number | null {
    const retryAfterMs = parseRetryAfter(headers.get('retry-after'));
    if (retryAfterMs !== null) return retryAfterMs <= this.settings.maxRetryAfterMs ? retryAfterMs : null;
    return Math.min(this.settings.rateLimitBackoffMs * 2 ** retriesSoFar, this.settings.maxRetryAfterMs);
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
