// startEmulator(): one node:http server on 127.0.0.1 that plays Intuit's OAuth endpoints, the
// Accounting API subset and a control API, with an in-process control handle over the same state.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { isForeignOrigin, isLoopbackHost } from '../shared/loopback-host';
import { handleApi } from './accounting-api';
import { AuthorizationStore } from './authorizations';
import { AUTHORIZE_PATH, handleAuthorize } from './authorize-page';
import { REALM_ID_PATTERN } from './companies';
import { type EmulatorContext, FaultQueue, emptyCounters } from './context';
import { handleControl } from './control-endpoint';
import { BodyTooLargeError, bearerToken, sendJson } from './http-util';
import { INTUIT_ISSUER, IdTokenSigner } from './id-token';
import { newClientId, newClientSecret, newIntuitTid } from './ids';
import { MAX_REDIRECT_URIS, redirectUriProblem } from './redirect-uris';
import { DEFAULT_REALM_ID, parseSettingsPatch, settingsFromOptions } from './settings';
import { Throttle } from './throttle';
import { handleRevoke, handleToken } from './token-endpoint';
import type {
  ApiFault,
  DemoCredentials,
  EmulatorControl,
  EmulatorCounters,
  EmulatorHandle,
  EmulatorOptions,
  EmulatorUrls,
  TokenFault,
} from './types';

const TOKEN_PATH = '/oauth2/v1/tokens/bearer';
const REVOKE_PATH = '/v2/oauth2/tokens/revoke';
const CONTROL_PATH = '/__control';
const SCOPE = 'com.intuit.quickbooks.accounting';

function urlsFor(port: number): EmulatorUrls {
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    tokenUrl: `${url}${TOKEN_PATH}`,
    revokeUrl: `${url}${REVOKE_PATH}`,
    authorizeUrl: `${url}${AUTHORIZE_PATH}`,
    apiBaseUrl: url,
    controlUrl: `${url}${CONTROL_PATH}`,
  };
}

/** Intuit's discovery document; the issuer is Intuit's own (clients compare it), the endpoints are the emulator's. */
function discoveryDocument(urls: EmulatorUrls): Record<string, unknown> {
  return {
    issuer: INTUIT_ISSUER,
    authorization_endpoint: urls.authorizeUrl,
    token_endpoint: urls.tokenUrl,
    userinfo_endpoint: `${urls.url}/v1/openid_connect/userinfo`,
    revocation_endpoint: urls.revokeUrl,
    jwks_uri: `${urls.url}/op/v1/jwks`,
    response_types_supported: ['code'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    scopes_supported: ['openid', 'email', 'profile', 'address', 'phone'],
    token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
    claims_supported: ['aud', 'exp', 'iat', 'iss', 'realmid', 'sub'],
  };
}

const DISCOVERY_PATHS = new Set([
  '/.well-known/openid_sandbox_configuration',
  '/.well-known/openid_configuration',
  '/.well-known/openid-configuration',
]);

export async function startEmulator(options: EmulatorOptions = {}): Promise<EmulatorHandle> {
  const settings = settingsFromOptions(options);
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(
      `emulator options: port must be an integer 0-65535 (0 = any free port), got ${String(port)}`,
    );
  }
  const log = options.logger ?? ((): void => undefined);
  let clockOffsetMs = 0;
  const baseClock = options.clock ?? Date.now;
  const now = (): number => baseClock() + clockOffsetMs;
  const store = new AuthorizationStore(settings, now);
  const demo: DemoCredentials = {
    clientId: options.demo?.clientId ?? newClientId(),
    clientSecret: options.demo?.clientSecret ?? newClientSecret(),
    realmId: options.demo?.realmId ?? DEFAULT_REALM_ID,
    refreshToken: '',
  };
  if (!REALM_ID_PATTERN.test(demo.realmId)) throw new Error('emulator options: demo.realmId must be digits');
  demo.refreshToken = store.authorize(
    demo.clientId,
    demo.realmId,
    SCOPE,
    options.demo?.refreshToken,
  ).refreshToken;

  const timers = new Set<NodeJS.Timeout>();
  let closing: Promise<void> | null = null;
  const sockets = new Set<Socket>();
  let counters = emptyCounters();
  // The demo authorization made at start-up is not a token the client was issued.
  let issuedBaseline = store.refreshTokensIssued;
  let urls = urlsFor(0);
  let boundPort = 0;

  const ctx: EmulatorContext = {
    settings,
    store,
    idTokens: new IdTokenSigner(),
    demo,
    get urls() {
      return urls;
    },
    get counters() {
      return counters;
    },
    tokenFaults: new FaultQueue<TokenFault>(),
    apiFaults: new FaultQueue<ApiFault>(),
    now,
    later(ms, run) {
      if (closing) return; // a delay that outlived close() would hold the process open
      const timer = setTimeout(() => {
        timers.delete(timer);
        run();
      }, ms);
      timers.add(timer);
    },
    arrivals: new Map(),
    throttle: new Throttle(settings),
  };

  const control: EmulatorControl = {
    injectTokenFault(fault: TokenFault, count = 1) {
      ctx.tokenFaults.push(fault, count);
    },
    injectApiFault(fault: ApiFault, count = 1) {
      ctx.apiFaults.push(fault, count);
    },
    clearFaults() {
      ctx.tokenFaults.clear();
      ctx.apiFaults.clear();
    },
    revokeAccessTokens(accessToken?: string) {
      store.revokeAccessTokens(accessToken);
    },
    advanceClock(seconds: number) {
      if (!Number.isFinite(seconds)) throw new Error('advanceClock: seconds must be a finite number');
      clockOffsetMs += seconds * 1000;
    },
    now,
    counters(): EmulatorCounters {
      return structuredClone({
        ...counters,
        refreshTokensIssued: store.refreshTokensIssued - issuedBaseline,
      });
    },
    resetCounters() {
      counters = emptyCounters();
      issuedBaseline = store.refreshTokensIssued;
    },
    configure(patch) {
      const { logger: _logger, clock: _clock, ...rest } = patch as EmulatorOptions;
      const defined = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
      Object.assign(settings, parseSettingsPatch(defined));
    },
    registerRedirectUri(redirectUri: string) {
      const problem = redirectUriProblem(redirectUri);
      if (problem) throw new Error(`registerRedirectUri: ${problem}`);
      if (settings.redirectUris.includes(redirectUri)) return;
      if (settings.redirectUris.length >= MAX_REDIRECT_URIS)
        throw new Error(`registerRedirectUri: at most ${MAX_REDIRECT_URIS} redirect URIs can be registered`);
      settings.redirectUris.push(redirectUri);
    },
    issueAuthorization(realmId?: string) {
      const realm = realmId ?? demo.realmId;
      if (!REALM_ID_PATTERN.test(realm)) throw new Error('issueAuthorization: realmId must be digits');
      const grant = store.authorize(demo.clientId, realm, SCOPE);
      return { accessToken: grant.accessToken, refreshToken: grant.refreshToken, realmId: grant.realmId };
    },
    isRefreshTokenValid(refreshToken: string) {
      return store.isRefreshTokenValid(refreshToken);
    },
    issuedTokenValues() {
      return [demo.clientSecret, ...store.issuedValues()];
    },
  };

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const port = boundPort;
    // A DNS-rebinding page would read demo tokens from /__control: only this server's own name is served.
    if (!isLoopbackHost(req.headers.host, port)) {
      return sendJson(res, 403, {
        error: 'forbidden',
        error_description: `Requests must be addressed to ${urls.url} (Host header refused)`,
      });
    }
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
    if (path === TOKEN_PATH) return handleToken(ctx, req, res);
    if (path === REVOKE_PATH) return handleRevoke(ctx, req, res);
    if (path === AUTHORIZE_PATH || path.startsWith(`${AUTHORIZE_PATH}/`))
      return handleAuthorize(ctx, req, res, url);
    if (path === CONTROL_PATH || path.startsWith(`${CONTROL_PATH}/`)) {
      // A cross-site page may post blindly to loopback; the control API is for tools, never for pages.
      if (isForeignOrigin(req.headers.origin, port)) {
        return sendJson(res, 403, {
          error: 'forbidden',
          error_description: 'Cross-origin requests to the control API are refused (Origin header refused)',
        });
      }
      return handleControl(
        control,
        () => [...settings.redirectUris],
        req,
        res,
        path.slice(CONTROL_PATH.length) || '/',
      );
    }
    const api = /^\/v3\/company\/([^/]+)\/(.+)$/.exec(path);
    if (api?.[1] && api[2]) {
      const realmId = decodeURIComponent(api[1]);
      return handleApi(
        ctx,
        req,
        res,
        url,
        realmId,
        api[2].split('/').map((part) => decodeURIComponent(part)),
      );
    }
    if (req.method === 'GET' && DISCOVERY_PATHS.has(path)) return sendJson(res, 200, discoveryDocument(urls));
    if (req.method === 'GET' && path === '/op/v1/jwks') return sendJson(res, 200, await ctx.idTokens.jwks());
    if (req.method === 'GET' && path === '/v1/openid_connect/userinfo') {
      const token = bearerToken(req.headers.authorization);
      const check = token ? store.checkAccessToken(token) : null;
      if (!check?.ok) return sendJson(res, 401, { error: 'invalid_token' });
      return sendJson(res, 200, {
        sub: `emulator-user-${check.realmId}`,
        email: 'demo@example.com',
        emailVerified: true,
      });
    }
    if (req.method === 'GET' && path === '/') return sendJson(res, 200, { emulator: 'intuit', ...urls });
    sendJson(res, 404, {
      error: 'not_found',
      error_description: `${req.method} ${path} is not an emulated endpoint`,
    });
  }

  const server = createServer((req, res) => {
    res.setHeader('intuit_tid', newIntuitTid());
    res.on('finish', () => log(`${req.method} ${(req.url ?? '').split('?')[0]} ${res.statusCode}`));
    route(req, res).catch((error: unknown) => {
      if (res.headersSent || res.destroyed) {
        res.destroy();
        return;
      }
      if (error instanceof URIError) {
        sendJson(res, 400, {
          error: 'invalid_request',
          error_description: 'Malformed percent-encoding in the URL',
        });
        return;
      }
      if (error instanceof BodyTooLargeError) {
        sendJson(res, 413, { error: 'invalid_request', error_description: 'Request body too large' });
        return;
      }
      log(`emulator error on ${req.method} ${(req.url ?? '').split('?')[0]}: ${(error as Error).name}`);
      sendJson(res, 500, { error: 'server_error' });
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_error, socket: Socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string')
    throw new Error('emulator: could not read the bound port');
  urls = urlsFor(address.port);
  boundPort = address.port;
  const pruner = setInterval(() => store.prune(), 60_000);
  pruner.unref();

  return {
    ...urls,
    ...demo,
    port: address.port,
    control,
    close() {
      closing ??= new Promise<void>((resolve) => {
        clearInterval(pruner);
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close(() => resolve());
        // Hung requests and idle keep-alive connections would hold close() open forever.
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}
