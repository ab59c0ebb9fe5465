// Connect and Disconnect over HTTP (headless mode):
//   GET  /connect    (admin)  302 to Intuit's consent page; the redirect URI is this server's /callback
//                             (or QB_REDIRECT_URI)
//   GET  /callback   (public) completes the flow and answers a page that returns to the dashboard; a
//                             wrong state, a replay or Intuit's error is refused with a clear page
//   POST /api/integrations/quickbooks/disconnect  (admin, JSON {"force"?: boolean})
// The callback is public because it arrives as a navigation from Intuit's site, which carries no
// SameSite=Strict session cookie; the flow's one-time `state` (only an admin can start one) is
// what protects it.
import type { ServerResponse } from 'node:http';
import { ConnectRefusedError } from '../core/connect-flow';
import { CONNECT_PAGE_CSP, refusedPage, successPage, type ConnectPage } from '../core/connect-pages';
import type { ConnectFlow } from '../core/desk';
import { toResultError } from '../core/errors';
import type { LogFn } from '../core/log';
import { HTTP_PATHS } from '../shared/contract';
import { securityHeaders } from './headers';
import { expectOnlyKeys, HttpError, readJsonObject } from './http-io';
import type { Router } from './router';
import { answerFromDesk } from './token-routes';

export interface ConnectRoutesOptions {
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

  router.get(HTTP_PATHS.connect, ({ res, origin }) => {
    const redirectUri = options.redirectUri ?? origin + HTTP_PATHS.callback;
    let authorizeUrl: string;
    try {
      ({ authorizeUrl } = options.flow.begin(redirectUri));
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
        error.code === 'not_configured' ? 409 : 400,
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
        sendPage(
          res,
          successPage({
            realmId: status.realmId,
            next: 'Returning to the dashboard…',
            redirectTo: dashboard,
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

  router.post(HTTP_PATHS.disconnect, async ({ req, res }) => {
    const body = await readJsonObject(req);
    expectOnlyKeys(body, ['force']);
    if (body.force !== undefined && typeof body.force !== 'boolean') {
      throw new HttpError(400, 'bad_request', 'The field "force" must be true or false.');
    }
    await answerFromDesk(res, () => options.flow.disconnect({ force: body.force === true }));
  });
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
