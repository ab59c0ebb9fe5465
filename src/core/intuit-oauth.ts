// Intuit's OAuth 2.0 protocol (token, revoke, authorize) on top of openid-client v6, with
// Intuit's specifics: Basic client auth, the refresh-token expiry fields (the hard 5-year one is
// asked for by header), `intuit_tid` captured from every response, every answer validated with
// zod before use, and every failure classified into a RefreshErrorKind. Nothing here retries: a
// token call is never replayed behind the engine's back (the TokenManager decides).
import * as oidc from 'openid-client';
import { z } from 'zod';
import { LIKELY_CAUSE, TokenError } from './errors';
import { markRefreshStep } from './refresh-markers';

interface IntuitOAuthOptions {
  clientId: string;
  clientSecret: string;
  tokenUrl: string;
  revokeUrl: string;
  authorizeUrl: string;
  /** Per-request timeout, ms (QB_HTTP_TIMEOUT_MS). */
  timeoutMs: number;
}

/** A validated token-endpoint answer. Lifetimes are relative seconds, exactly as Intuit sent them. */
export interface IntuitTokenResponse {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  refreshExpiresIn: number;
  hardExpiresIn: number | null;
  intuitTid: string | null;
}

interface RefreshOptions {
  /**
   * Called synchronously the moment a 200 answer that passes the same validation as refresh()'s result
   * is in this process, before the OAuth library's own processing (microtasks that a busy process can
   * stretch to milliseconds). The engine saves the rotated refresh token from here: Intuit has already
   * retired the old one, so every moment before the save is a moment in which a crash loses the
   * connection. Implementations may not call it; refresh() still resolves with the answer either way.
   */
  onAnswer?: (answer: IntuitTokenResponse) => void;
}

/** What a revoke came to: Intuit revoked the token, or held nothing to revoke (it was already invalid). */
export interface RevokeResult {
  intuitTid: string | null;
  outcome: 'revoked' | 'already_invalid';
}

/** The OAuth error codes of a 400 that mean "no such token": there is nothing left to revoke. */
const ALREADY_INVALID: ReadonlySet<string> = new Set(['invalid_grant', 'invalid_token']);

/** The `error` of an OAuth error body, or null when the body is not one. */
function oauthErrorOf(body: string): string | null {
  try {
    const parsed: unknown = JSON.parse(body);
    const error =
      typeof parsed === 'object' && parsed !== null ? (parsed as { error?: unknown }).error : null;
    return typeof error === 'string' ? error : null;
  } catch {
    return null;
  }
}

/** What the TokenManager needs from the protocol (tests and benchmarks may pass their own). */
export interface TokenEndpoint {
  refresh(refreshToken: string, options?: RefreshOptions): Promise<IntuitTokenResponse>;
}

const tokenResponseSchema = z.object({
  access_token: z.string().min(1),
  refresh_token: z.string().min(1),
  token_type: z.string().optional(),
  expires_in: z.number().positive(),
  x_refresh_token_expires_in: z.number().nonnegative(),
  x_refresh_token_hard_expires_in: z.number().nonnegative().optional(),
});

/** What the custom fetch saw of the one HTTP exchange a call made. */
interface Exchange {
  status: number | null;
  intuitTid: string | null;
  retryAfterMs: number | null;
  contentType: string | null;
  timedOut: boolean;
}

function isLoopback(url: string): boolean {
  const { protocol, hostname } = new URL(url);
  return protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(hostname);
}

function parseRetryAfter(value: string | null): number | null {
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - Date.now());
}

export class IntuitOAuth implements TokenEndpoint {
  private readonly options: IntuitOAuthOptions;

  constructor(options: IntuitOAuthOptions) {
    for (const url of [options.tokenUrl, options.revokeUrl, options.authorizeUrl]) {
      const { protocol } = new URL(url);
      if (protocol !== 'https:' && !isLoopback(url)) {
        throw new TokenError(
          'invalid_client',
          `Refusing plain http to ${new URL(url).host}: only https or loopback.`,
        );
      }
    }
    this.options = options;
  }

  /** `grant_type=refresh_token`. Rejects with a classified TokenError. */
  async refresh(refreshToken: string, options: RefreshOptions = {}): Promise<IntuitTokenResponse> {
    const { config, exchange } = this.configuration((status, body) => {
      markRefreshStep('answer-received');
      const onAnswer = options.onAnswer;
      if (status !== 200 || !onAnswer) return;
      let json: unknown;
      try {
        json = JSON.parse(new TextDecoder().decode(body));
      } catch {
        return; // openid-client reports it
      }
      const parsed = tokenResponseSchema.safeParse(json);
      if (parsed.success) onAnswer(toTokenResponse(parsed.data, exchange.intuitTid));
    });
    return this.tokenCall(exchange, () => oidc.refreshTokenGrant(config, refreshToken));
  }

  /**
   * `grant_type=authorization_code`. Uses openid-client's genericGrantRequest rather than
   * authorizationCodeGrant: the latter wants the whole callback URL and re-checks state/iss, which the
   * Connect flow has already done (it owns the state), and Intuit's redirect carries realmId beside the
   * code, which the flow also reads. The request sent is the same standard form POST.
   */
  async exchangeCode(code: string, redirectUri: string): Promise<IntuitTokenResponse> {
    const { config, exchange } = this.configuration();
    return this.tokenCall(exchange, () =>
      oidc.genericGrantRequest(config, 'authorization_code', { code, redirect_uri: redirectUri }),
    );
  }

  /**
   * Revokes a refresh or access token. Done with plain fetch: Intuit's revoke endpoint takes a JSON
   * body `{"token": …}`, while openid-client's tokenRevocation sends RFC 7009's form-encoded body.
   * A token Intuit no longer knows (expired, rotated away, revoked) is answered 400 with an empty
   * body, where RFC 7009 would answer 200: that resolves as `already_invalid`, since nothing is left
   * to revoke. Any other 400 (a malformed request, the app's keys) still rejects.
   */
  async revoke(token: string): Promise<RevokeResult> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.options.timeoutMs);
    let response: Response;
    let body: string;
    try {
      response = await fetch(this.options.revokeUrl, {
        method: 'POST',
        headers: {
          authorization: `Basic ${this.basicCredentials()}`,
          'content-type': 'application/json',
          accept: 'application/json',
        },
        body: JSON.stringify({ token }),
        signal: controller.signal,
      });
      body = await response.text().catch(() => '');
    } catch (err) {
      throw classifyThrown(err, controller.signal.aborted, null, 'revoke');
    } finally {
      clearTimeout(timer);
    }
    const intuitTid = response.headers.get('intuit_tid');
    if (response.ok) return { intuitTid, outcome: 'revoked' };
    const oauthError = oauthErrorOf(body);
    if (response.status === 400 && (body.trim() === '' || ALREADY_INVALID.has(oauthError ?? ''))) {
      return { intuitTid, outcome: 'already_invalid' };
    }
    throw classifyStatus(
      response.status,
      oauthError,
      intuitTid,
      parseRetryAfter(response.headers.get('retry-after')),
    );
  }

  /** The consent URL. Intuit wants response_type=code, the scopes space-separated, and state. */
  buildAuthorizeUrl(params: { state: string; redirectUri: string; scopes: string[] }): string {
    const { config } = this.configuration();
    return oidc
      .buildAuthorizationUrl(config, {
        redirect_uri: params.redirectUri,
        scope: params.scopes.join(' '),
        state: params.state,
        response_type: 'code',
      })
      .toString();
  }

  private basicCredentials(): string {
    // RFC 6749 2.3.1: form-urlencode each part before joining (what ClientSecretBasic does too).
    const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
    return Buffer.from(`${encode(this.options.clientId)}:${encode(this.options.clientSecret)}`).toString(
      'base64',
    );
  }

  /**
   * A Configuration from Intuit's metadata, built by hand (no discovery fetch at start: the endpoints
   * are fixed, and tests point them at the emulator), plus a fetch that records this one exchange.
   * One per call so concurrent calls never share their captured response details.
   */
  private configuration(onAnswer?: (status: number, body: ArrayBuffer) => void): {
    config: oidc.Configuration;
    exchange: Exchange;
  } {
    const { clientId, clientSecret, tokenUrl, revokeUrl, authorizeUrl, timeoutMs } = this.options;
    const server: oidc.ServerMetadata = {
      // Intuit's published issuer and keys: only used if an id_token arrives (the `openid` scope).
      issuer: 'https://oauth.platform.intuit.com/op/v1',
      jwks_uri: 'https://oauth.platform.intuit.com/op/v1/jwks',
      authorization_endpoint: authorizeUrl,
      token_endpoint: tokenUrl,
      revocation_endpoint: revokeUrl,
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    };
    const config = new oidc.Configuration(server, clientId, undefined, oidc.ClientSecretBasic(clientSecret));
    if ([tokenUrl, revokeUrl, authorizeUrl].some(isLoopback)) oidc.allowInsecureRequests(config);
    // openid-client's own timeout is in whole seconds; ours (below) fires first and is told apart.
    config.timeout = Math.ceil(timeoutMs / 1000) + 5;
    const exchange: Exchange = {
      status: null,
      intuitTid: null,
      retryAfterMs: null,
      contentType: null,
      timedOut: false,
    };
    config[oidc.customFetch] = async (url, init) => {
      const headers = new Headers(init.headers);
      headers.set('x-include-refresh-token-hard-expires-in', 'true');
      const controller = new AbortController();
      const timer = setTimeout(() => {
        exchange.timedOut = true;
        controller.abort(new Error('token endpoint timeout'));
      }, timeoutMs);
      const signal = init.signal ? AbortSignal.any([init.signal, controller.signal]) : controller.signal;
      try {
        const response = await fetch(url, { ...init, headers, signal } as RequestInit);
        exchange.status = response.status;
        exchange.intuitTid = response.headers.get('intuit_tid');
        exchange.contentType = response.headers.get('content-type');
        exchange.retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
        // Read the body now, under our timeout, so a stalled body also counts as a timeout.
        const body = await response.arrayBuffer();
        try {
          onAnswer?.(response.status, body);
        } catch {
          // An observer's failure is not the exchange's: openid-client still processes the answer.
        }
        return new Response(body, {
          status: response.status,
          statusText: response.statusText,
          headers: response.headers,
        });
      } finally {
        clearTimeout(timer);
      }
    };
    return { config, exchange };
  }

  private async tokenCall(exchange: Exchange, call: () => Promise<unknown>): Promise<IntuitTokenResponse> {
    let raw: unknown;
    try {
      raw = await call();
    } catch (err) {
      throw classifyOidcError(err, exchange);
    }
    const parsed = tokenResponseSchema.safeParse(raw);
    if (parsed.success) return toTokenResponse(parsed.data, exchange.intuitTid);
    const fields = [...new Set(parsed.error.issues.map((issue) => String(issue.path[0] ?? 'body')))].join(
      ', ',
    );
    throw new TokenError(
      'bad_response',
      `Token endpoint answer is missing or has invalid fields (${fields}): ${LIKELY_CAUSE.bad_response}.`,
      {
        intuitTid: exchange.intuitTid,
        status: exchange.status,
      },
    );
  }
}

function toTokenResponse(
  body: z.infer<typeof tokenResponseSchema>,
  intuitTid: string | null,
): IntuitTokenResponse {
  return {
    accessToken: body.access_token,
    refreshToken: body.refresh_token,
    expiresIn: body.expires_in,
    refreshExpiresIn: body.x_refresh_token_expires_in,
    hardExpiresIn: body.x_refresh_token_hard_expires_in ?? null,
    intuitTid,
  };
}

function classifyStatus(
  status: number,
  oauthError: string | null,
  intuitTid: string | null,
  retryAfterMs: number | null,
): TokenError {
  const details = { intuitTid, status, retryAfterMs };
  // The error code is the server's text and lands in messages shown unredacted (lastRefresh, API
  // answers): only a plain OAuth code (lowercase and underscores, as Intuit sends) is echoed.
  const said = oauthError
    ? ` (${/^[a-z_]{1,64}$/.test(oauthError) ? oauthError : 'unreadable error code'})`
    : '';
  if (status === 429)
    return new TokenError('rate_limited', `HTTP 429${said}: ${LIKELY_CAUSE.rate_limited}.`, details);
  if (status >= 500)
    return new TokenError('server', `HTTP ${status}${said}: ${LIKELY_CAUSE.server}.`, details);
  if (oauthError === 'invalid_grant') {
    return new TokenError(
      'invalid_grant',
      `HTTP ${status} invalid_grant: ${LIKELY_CAUSE.invalid_grant}.`,
      details,
    );
  }
  if (oauthError === 'invalid_client' || (status === 401 && oauthError === null)) {
    return new TokenError(
      'invalid_client',
      `HTTP ${status} invalid_client: ${LIKELY_CAUSE.invalid_client}.`,
      details,
    );
  }
  return new TokenError(
    'bad_response',
    `Unexpected HTTP ${status}${said} from the token endpoint: ${LIKELY_CAUSE.bad_response}.`,
    details,
  );
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

function errorChain(err: unknown): unknown[] {
  const chain: unknown[] = [];
  let current: unknown = err;
  while (current && chain.length < 8 && !chain.includes(current)) {
    chain.push(current);
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}

function classifyThrown(err: unknown, timedOut: boolean, intuitTid: string | null, what: string): TokenError {
  if (timedOut) {
    return new TokenError(
      'timeout',
      `No answer from the ${what} endpoint in time: ${LIKELY_CAUSE.timeout}.`,
      { intuitTid },
    );
  }
  const chain = errorChain(err);
  const code = chain
    .map((link) => (link as { code?: unknown }).code)
    .find((value): value is string => typeof value === 'string' && NETWORK_CODES.has(value));
  if (code)
    return new TokenError('network', `Network failure (${code}): ${LIKELY_CAUSE.network}.`, { intuitTid });
  if (
    chain.some(
      (link) => link instanceof Error && /socket hang up|other side closed|fetch failed/i.test(link.message),
    )
  ) {
    return new TokenError('network', `Network failure: ${LIKELY_CAUSE.network}.`, { intuitTid });
  }
  return new TokenError(
    'network',
    `The ${what} request failed before an answer arrived: ${LIKELY_CAUSE.network}.`,
    {
      intuitTid,
    },
  );
}

/**
 * openid-client throws ResponseBodyError for a JSON OAuth error body, ClientError for a non-JSON or
 * non-conforming answer, and the fetch's TypeError for network failures. The status and tid come
 * from what our custom fetch captured, so the classification never depends on message text alone.
 */
function classifyOidcError(err: unknown, exchange: Exchange): TokenError {
  if (err instanceof TokenError) return err;
  const { status, intuitTid, retryAfterMs } = exchange;
  if (status === null || exchange.timedOut) return classifyThrown(err, exchange.timedOut, intuitTid, 'token');
  if (err instanceof oidc.ResponseBodyError)
    return classifyStatus(status, err.error, intuitTid, retryAfterMs);
  // Intuit's 401 carries `WWW-Authenticate: Basic realm="Intuit", error="invalid_client"`, which
  // openid-client surfaces as a challenge error (before reading the JSON body): take the error from it.
  if (err instanceof oidc.WWWAuthenticateChallengeError) {
    const challenged = err.cause.map((challenge) => challenge.parameters.error).find(Boolean) ?? null;
    return classifyStatus(
      status,
      challenged ?? (status === 401 ? 'invalid_client' : null),
      intuitTid,
      retryAfterMs,
    );
  }
  if (status >= 200 && status < 300) {
    return new TokenError(
      'bad_response',
      `Token endpoint answered ${status} but not with a usable token response: ${LIKELY_CAUSE.bad_response}.`,
      {
        intuitTid,
        status,
      },
    );
  }
  // An error status with an HTML or unparsable body. 429 and 5xx are classified by status. A 400/401
  // without a readable OAuth error is not taken as terminal: Intuit always says invalid_grant /
  // invalid_client in JSON, so this is more likely a proxy or outage page (transient bad_response).
  if (/html/i.test(exchange.contentType ?? '')) {
    return new TokenError(
      'bad_response',
      `Token endpoint answered HTTP ${status} with an HTML page: ${LIKELY_CAUSE.bad_response}.`,
      {
        intuitTid,
        status,
        retryAfterMs,
      },
    );
  }
  if (status === 429 || status >= 500) return classifyStatus(status, null, intuitTid, retryAfterMs);
  return new TokenError(
    'bad_response',
    `Unexpected HTTP ${status} from the token endpoint: ${LIKELY_CAUSE.bad_response}.`,
    {
      intuitTid,
      status,
    },
  );
}
