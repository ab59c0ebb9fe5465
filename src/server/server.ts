// The headless adapter: the desk's HTTP API, its SSE stream and the built UI, on 127.0.0.1 only.
// Request pipeline: Host check -> Origin check -> sign-in link -> route (admin secret unless the
// route is public) -> static UI (also behind the secret).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ConnectionsDesk, TokenDesk } from '../core/desk';
import type { LogFn } from '../core/log';
import { AccessPolicy, LOGIN_QUERY_PARAM } from './access';
import { securityHeaders } from './headers';
import { HttpError, sendError, sendHttpError } from './http-io';
import { keepIdleConnections } from './keep-alive';
import { Router, type RequestContext } from './router';
import { lookupStaticFile, sendHtmlPage, sendStaticFile } from './static-files';
import { StatusStream, type StatusStreamOptions } from './status-stream';
import { registerConnectionRoutes } from './connection-routes';
import { singleConnection } from '../core/single-connection';
import { registerTokenRoutes } from './token-routes';

/** The only address the server ever binds to. */
const LOOPBACK_HOST = '127.0.0.1';

export interface HeadlessServerOptions {
  /** The default connection's desk (the seed's paths act on it). */
  desk: TokenDesk;
  /** Every connection; default: the one desk alone. */
  connections?: ConnectionsDesk;
  /** The secret every API call must carry (Bearer or the session cookie). */
  adminToken: string;
  /** 0 picks a free port. */
  port: number;
  /** The built renderer (out/renderer); null or a missing build serves a "run npm run build" page. */
  staticDir: string | null;
  /** Lines for the operator (stderr in the CLI). Never given a secret. */
  log?: LogFn;
  /** Extra routes (e.g. the Connect flow), registered after the token routes. */
  routes?: (router: Router) => void;
  stream?: StatusStreamOptions;
}

export interface HeadlessServer {
  /** http://127.0.0.1:PORT */
  baseUrl: string;
  port: number;
  /** The UI's URL with the admin secret in it: opening it signs a browser in. */
  uiUrl: string;
  /** Routes can be added at any time; the router is consulted per request. */
  router: Router;
  /** The raw node server (tests inspect its address). */
  server: Server;
  /**
   * Stops listening and ends the SSE streams; requests in flight may finish. Call the desk's own
   * shutdown after this, then `closeConnections()` for anything still open.
   */
  close(): Promise<void>;
  closeConnections(): void;
}

export async function startHeadlessServer(options: HeadlessServerOptions): Promise<HeadlessServer> {
  const log: LogFn = options.log ?? (() => {});
  const router = new Router();
  const connections = options.connections ?? singleConnection(options.desk);
  const stream = new StatusStream(connections, options.stream);
  registerTokenRoutes(router, connections, stream);
  registerConnectionRoutes(router, connections);
  options.routes?.(router);

  // The policy needs the bound port (Host/Origin checks, cookie name), known only after listen.
  let access: AccessPolicy | null = null;
  let origin = '';

  const server = createServer((req, res) => {
    if (access === null) {
      sendError(res, 503, { code: 'internal', message: 'The server is starting.' });
      return;
    }
    handle(req, res, access, origin).catch((err: unknown) => {
      log(`Unhandled error answering ${req.method} ${safePath(req.url)}: ${describe(err)}`);
      if (!res.headersSent) sendError(res, 500, { code: 'internal', message: 'Unexpected internal error.' });
      else res.destroy();
    });
  });

  const markClosing = keepIdleConnections(server);

  async function handle(req: IncomingMessage, res: ServerResponse, policy: AccessPolicy, self: string) {
    const method = req.method ?? 'GET';
    // Health probes answer any Host and Origin: a load balancer (or a proxy forwarding its own
    // Host) must reach them, and they reveal nothing a rebinding page could use.
    const early = router.match(method, safePath(req.url));
    const probe = early.kind === 'found' && early.route.access === 'probe';
    if (!probe && !policy.isAllowedHost(req.headers.host)) {
      // Not echoing the Host back: it is attacker-chosen.
      sendError(res, 403, {
        code: 'forbidden',
        message: `Requests must be addressed to ${self} (Host header refused).`,
      });
      return;
    }
    if (!probe && policy.isForeignOrigin(req.headers.origin)) {
      sendError(res, 403, {
        code: 'forbidden',
        message: 'Cross-origin requests are refused (Origin header refused).',
      });
      return;
    }
    let url: URL;
    try {
      // Origin-form only ("/path?query"). Concatenating keeps "//x/y" a path instead of letting
      // the URL parser read it as another host.
      const target = req.url ?? '';
      if (!target.startsWith('/')) throw new TypeError('not origin-form');
      url = new URL(self + target);
    } catch {
      sendError(res, 400, { code: 'bad_request', message: 'The request URL is malformed.' });
      return;
    }
    const ctx: RequestContext = { req, res, url, origin: self };

    if (
      !probe &&
      method === 'GET' &&
      url.searchParams.has(LOGIN_QUERY_PARAM) &&
      !url.pathname.startsWith('/api/')
    ) {
      signIn(ctx, policy);
      return;
    }

    const match = router.match(method, url.pathname);
    if (match.kind === 'found') {
      const { access: needs, alsoBearer } = match.route;
      if (
        needs === 'admin' &&
        !policy.isAuthorized(req) &&
        !(alsoBearer && policy.hasBearer(req, alsoBearer))
      ) {
        refuseUnauthorized(res);
        return;
      }
      try {
        await match.route.handler({ ...ctx, params: match.params });
      } catch (err) {
        if (!(err instanceof HttpError)) throw err;
        // After an oversized body, stop the rest from arriving once the answer is out.
        if (err.headers.Connection === 'close') res.once('finish', () => req.destroy());
        sendHttpError(res, err);
      }
      return;
    }
    if (match.kind === 'method_not_allowed') {
      const allow = match.allow.join(', ');
      sendError(
        res,
        405,
        { code: 'bad_request', message: `${method} is not allowed here; use ${allow}.` },
        { Allow: allow },
      );
      return;
    }
    if (url.pathname.startsWith('/api/')) {
      sendError(res, 404, { code: 'bad_request', message: `No such endpoint: ${url.pathname}` });
      return;
    }
    await serveUi(ctx, policy, method);
  }

  function signIn({ res, url }: RequestContext, policy: AccessPolicy): void {
    const given = url.searchParams.get(LOGIN_QUERY_PARAM) ?? '';
    if (!policy.isAdminSecret(given)) {
      sendHtmlPage(res, 401, 'Wrong sign-in link', [
        'The secret in this link is not the one this server was started with.',
        'Open the URL that `npm run serve` printed when it started (or set QB_ADMIN_TOKEN).',
      ]);
      return;
    }
    const clean = new URL(url);
    clean.searchParams.delete(LOGIN_QUERY_PARAM);
    res.writeHead(303, {
      ...securityHeaders('ui'),
      'Set-Cookie': policy.sessionCookie(),
      // Relative, and never "//host": the redirect stays on this server.
      Location: `/${clean.pathname.replace(/^\/+/, '')}${clean.search}`,
      'Cache-Control': 'no-store',
      'Content-Length': 0,
    });
    res.end();
  }

  async function serveUi({ req, res, url }: RequestContext, policy: AccessPolicy, method: string) {
    if (method !== 'GET' && method !== 'HEAD') {
      sendError(
        res,
        405,
        { code: 'bad_request', message: `${method} is not allowed here; use GET, HEAD.` },
        { Allow: 'GET, HEAD' },
      );
      return;
    }
    // Authorization before the lookup: without the secret, a file that exists and one that does not
    // get the same answer, so the build's contents cannot be probed (no 404-vs-401 oracle).
    if (!policy.isAuthorized(req)) {
      if (url.pathname === '/' || url.pathname === '/index.html') {
        sendHtmlPage(res, 401, 'Sign in to QB Token Desk', [
          'This browser has not been signed in.',
          'Open the URL that `npm run serve` printed when it started: it carries the admin secret and signs this browser in.',
        ]);
      } else {
        refuseUnauthorized(res);
      }
      return;
    }
    const found = await lookupStaticFile(options.staticDir, url.pathname);
    if (found.kind === 'not_found') {
      sendError(res, 404, { code: 'bad_request', message: `No such file: ${url.pathname}` });
      return;
    }
    if (found.kind === 'no_build') {
      sendHtmlPage(res, 503, 'The UI has not been built', [
        'Run `npm run build` (or start with `npm run serve`, which builds first), then reload this page.',
        'The HTTP API under /api/integrations/quickbooks/ works without it.',
      ]);
      return;
    }
    await sendStaticFile(res, found.path, method === 'HEAD');
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, LOOPBACK_HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  origin = `http://${LOOPBACK_HOST}:${port}`;
  access = new AccessPolicy(options.adminToken, port);

  let closing: Promise<void> | null = null;
  return {
    baseUrl: origin,
    port,
    uiUrl: access.loginUrl(origin),
    router,
    server,
    close() {
      closing ??= new Promise<void>((resolve) => {
        markClosing();
        stream.close();
        server.close(() => resolve());
      });
      return closing;
    },
    closeConnections() {
      server.closeAllConnections();
    },
  };
}

function refuseUnauthorized(res: ServerResponse): void {
  sendError(
    res,
    401,
    {
      code: 'unauthorized',
      message: 'Missing or wrong admin secret: send Authorization: Bearer <QB_ADMIN_TOKEN>.',
    },
    { 'WWW-Authenticate': 'Bearer realm="qb-token-desk"' },
  );
}

/** The path without its query: the query may carry the sign-in secret. */
function safePath(url: string | undefined): string {
  return (url ?? '').split('?')[0];
}

/**
 * The error's name and errno code, not its message: the log is promised never to carry a secret,
 * and an unexpected error's text (a library's, a parser's) could quote anything it was handed.
 */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return 'non-error value thrown';
  const code = (err as NodeJS.ErrnoException).code;
  return typeof code === 'string' ? `${err.name} (${code})` : err.name;
}
