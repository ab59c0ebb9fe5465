// Connect and Disconnect over HTTP (headless mode):
//   GET  /connect    (admin)  302 to Intuit's consent page; the redirect URI is this server's /callback
//                             (or QB_REDIRECT_URI). `?environment=sandbox|production` adds a company
//                             in that environment, `?connection=ID` reconnects that connection
//   GET  /callback   (public) completes the flow and answers a page that returns to the dashboard; a
//                             wrong state, a replay or Intuit's error is refused with a clear page
//   POST /api/integrations/quickbooks/disconnect  (admin, JSON {"force"?: boolean})
//   POST /api/integrations/quickbooks/connections/{id}/disconnect  (the same, for one connection)
// The callback is public because it arrives as a navigation from Intuit's site, which carries no
// SameSite=Strict session cookie; the flow's one-time `state` (only an admin can start one) is
// what protects it.
import type { ServerResponse } from 'node:http';
import { ConnectRefusedError } from '../core/connect-flow';
import { CONNECT_PAGE_CSP, refusedPage, successPage, type ConnectPage } from '../core/connect-pages';
import type { ConnectFlow } from '../core/desk';
import { toResultError } from '../core/errors';
import { httpStatusForDeskError } from './error-status';
import type { LogFn } from '../core/log';
import { CONNECTION_PATHS, DEFAULT_CONNECTION_ID, HTTP_PATHS, type ConnectRequest } from '../shared/contract';
import { CONNECTION_ROUTE, connectionIdOf, readForce } from './connection-routes';
import { securityHeaders } from './headers';
import { HttpError } from './http-io';
import type { Router } from './router';
import { answerFromDesk } from './token-routes';

interface ConnectRoutesOptions {
  flow: ConnectFlow;
  /** QB_REDIRECT_URI; null = this server's own origin + /callback. */
  redirectUri: string | null;
  log?: LogFn;
}

/** The path the callback route listens on: QB_REDIRECT_URI's path when set, else /callback. */
export function callbackPath(redirectUri: string | null): string {
  if (!redirectUri) return HTTP_PATHS.callback;
  try {
    return new URL(redirectUri).pathname;
  } catch {
    return HTTP_PATHS.callback;
  }
}

export function registerConnectRoutes(router: Router, options: ConnectRoutesOptions): void {
  const log = options.log ?? (() => undefined);

  router.get(HTTP_PATHS.connect, ({ res, origin, url }) => {
    const redirectUri = options.redirectUri ?? origin + HTTP_PATHS.callback;
    const request = connectRequestOf(url.searchParams);
    let authorizeUrl: string;
    try {
      ({ authorizeUrl } = options.flow.begin(redirectUri, request));
    } catch (err) {
      const error = toResultError(err);
      sendPage(
        res,
        refusedPage({
          reason: null,
          message: error.message,
          next: 'Nothing was changed.',
          link: { href: `${origin}/`, text: 'Back to the dashboard' },
        }),
        httpStatusForDeskError(error.code),
      );
      return;
    }
    res.writeHead(302, {
      ...securityHeaders('api'),
      Location: authorizeUrl,
      'Cache-Control': 'no-store',
      'Content-Length': 0,
    });
    res.end();
  });

  router.get(
    callbackPath(options.redirectUri),
    async ({ res, url, origin }) => {
      const dashboard = `${origin}/`;
      try {
        const status = await options.flow.complete(url.searchParams);
        const id = status.connection.id;
        sendPage(
          res,
          successPage({
            realmId: status.realmId,
            next: 'Returning to the dashboard…',
            // The dashboard opens on the company just connected (the default one: the plain URL, as always).
            redirectTo:
              id === DEFAULT_CONNECTION_ID ? dashboard : `${dashboard}#connection=${encodeURIComponent(id)}`,
          }),
        );
      } catch (err) {
        const reason = err instanceof ConnectRefusedError ? err.reason : null;
        const error = toResultError(err);
        log(`Connect callback refused (${reason ?? error.code}).`);
        sendPage(
          res,
          refusedPage({
            reason,
            message: error.message,
            next: 'The connection as it was before is unchanged.',
            link: { href: dashboard, text: 'Back to the dashboard' },
          }),
        );
      }
    },
    { access: 'public' },
  );

  router.post(HTTP_PATHS.disconnect, async (ctx) => {
    const force = await readForce(ctx);
    await answerFromDesk(ctx.res, () => options.flow.disconnect({ force }));
  });

  router.post(CONNECTION_ROUTE + CONNECTION_PATHS.disconnect, async (ctx) => {
    const force = await readForce(ctx);
    const connectionId = connectionIdOf(ctx);
    await answerFromDesk(ctx.res, () => options.flow.disconnect({ force, connectionId }));
  });
}

/** `?environment=` and `?connection=` of GET /connect; anything else there is refused. */
function connectRequestOf(query: URLSearchParams): ConnectRequest {
  const request: ConnectRequest = {};
  for (const key of query.keys()) {
    if (key !== 'environment' && key !== 'connection')
      throw new HttpError(
        400,
        'bad_request',
        `GET /connect takes environment and connection only, not "${key}".`,
      );
  }
  const environment = query.get('environment');
  if (environment !== null) {
    if (environment !== 'sandbox' && environment !== 'production')
      throw new HttpError(400, 'bad_request', 'environment must be "sandbox" or "production".');
    request.environment = environment;
  }
  const connection = query.get('connection');
  if (connection !== null) request.connectionId = connection;
  return request;
}

function sendPage(res: ServerResponse, page: ConnectPage, status = page.status): void {
  res.writeHead(status, {
    ...securityHeaders('ui'),
    'Content-Security-Policy': CONNECT_PAGE_CSP,
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(page.html),
    'Cache-Control': 'no-store',
  });
  res.end(page.html);
}
