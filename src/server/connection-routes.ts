// Several companies over HTTP: the list, and the seed's actions per connection.
//   GET    /api/integrations/quickbooks/connections                        ConnectionSummary[]
//   GET    /api/integrations/quickbooks/connections/{id}/refresh-token     TokenStatus
//   POST   /api/integrations/quickbooks/connections/{id}/refresh-token     force a refresh
//   DELETE /api/integrations/quickbooks/connections/{id}/refresh-token     clear the cached access token
//   GET    /api/integrations/quickbooks/connections/{id}/company-info      CompanyInfo (test connection)
//   DELETE /api/integrations/quickbooks/connections/{id}  {"force"?}       revoke, then remove (not the default)
// (POST .../connections/{id}/disconnect is with the Connect routes.) An unknown id answers 404
// `unknown_connection`. The original paths (token-routes.ts) act on the default connection.
import { CONNECTION_PATHS, DEFAULT_CONNECTION_ID, HTTP_PATHS } from '../shared/contract';
import type { ConnectionsDesk, TokenDesk } from '../core/desk';
import { expectOnlyKeys, HttpError, readJsonObject, sendOk } from './http-io';
import type { RequestContext, Router } from './router';
import { answerFromDesk, sendDeskError } from './token-routes';

/** The path of one connection, `{id}` standing for its id. */
export const CONNECTION_ROUTE = `${HTTP_PATHS.connections}/{id}`;

export function registerConnectionRoutes(router: Router, connections: ConnectionsDesk): void {
  /** Runs `fn` with the connection's desk, or answers 404 for an unknown id. */
  const withDesk =
    (fn: (desk: TokenDesk, ctx: RequestContext) => void | Promise<void>) => async (ctx: RequestContext) => {
      let desk: TokenDesk;
      try {
        desk = connections.desk(connectionIdOf(ctx));
      } catch (err) {
        sendDeskError(ctx.res, err);
        return;
      }
      await fn(desk, ctx);
    };

  router
    .get(HTTP_PATHS.connections, ({ res }) => sendOk(res, connections.list()))
    .get(
      CONNECTION_ROUTE + CONNECTION_PATHS.refreshToken,
      withDesk((desk, { res }) => sendOk(res, desk.getStatus())),
    )
    .post(
      CONNECTION_ROUTE + CONNECTION_PATHS.refreshToken,
      withDesk(async (desk, { req, res }) => {
        expectOnlyKeys(await readJsonObject(req), []);
        await answerFromDesk(res, () => desk.refresh('manual'));
      }),
    )
    .delete(
      CONNECTION_ROUTE + CONNECTION_PATHS.refreshToken,
      withDesk(async (desk, { req, res }) => {
        expectOnlyKeys(await readJsonObject(req), []);
        await answerFromDesk(res, () => desk.clear());
      }),
    )
    .get(
      CONNECTION_ROUTE + CONNECTION_PATHS.companyInfo,
      withDesk((desk, { res }) => answerFromDesk(res, () => desk.testConnection())),
    )
    .delete(CONNECTION_ROUTE, async (ctx) => {
      const force = await readForce(ctx);
      const id = connectionIdOf(ctx);
      // A refusal about this request (400), not an upstream failure (the desk's bad_request is Intuit's).
      if (id === DEFAULT_CONNECTION_ID) {
        throw new HttpError(
          400,
          'bad_request',
          'The default connection is defined by the QB_* environment and cannot be removed: disconnect it (POST .../disconnect), and unset QB_REFRESH_TOKEN.',
        );
      }
      await answerFromDesk(ctx.res, () => connections.remove(id, { force }));
    });
}

export function connectionIdOf(ctx: RequestContext): string {
  const id = ctx.params?.id;
  if (id === undefined) throw new HttpError(400, 'bad_request', 'The path names no connection.');
  return id;
}

/** The optional body `{"force": boolean}` of Disconnect and remove. */
export async function readForce({ req }: RequestContext): Promise<boolean> {
  const body = await readJsonObject(req);
  expectOnlyKeys(body, ['force']);
  if (body.force !== undefined && typeof body.force !== 'boolean') {
    throw new HttpError(400, 'bad_request', 'The field "force" must be true or false.');
  }
  return body.force === true;
}
