// `qb-token-desk/next`: App Router handlers for the original feature's endpoint
// (/api/integrations/quickbooks/refresh-token): GET the status, POST a forced refresh, DELETE the
// cached access token; the same per company on the desk's paths (connections/{id}/refresh-token)
// and the list of companies (connections). They take a standard Request and answer a standard
// Response, so nothing is imported from Next.js. Bodies are the contract's Result, as the headless
// server answers them.
// A token-management endpoint is never public by default: `authorize` is required and only an
// explicit `true` lets a request through.
import { ConfigError, toResultError } from '../core/errors';
import { httpStatusForDeskError, retryAfterSecondsForDeskError } from '../server/error-status';
import type { ConnectionSummary, Result, ResultError, TokenStatus } from '../shared/contract';
import { isValidConnectionId } from '../shared/ids';
import { engineErrorOf, UnknownConnectionError } from './errors';
import type { QuickBooks } from './quickbooks';

/** What a request acts on, for `authorize`. */
export interface AuthorizeTarget {
  /** The connection id (or realm id) from the URL, on createConnectionRouteHandlers' routes; absent elsewhere. */
  connectionId?: string;
}

export interface RouteHandlerOptions {
  quickbooks: QuickBooks;
  /**
   * Decides who may call, e.g. your session check (and, on a company's route, whether this user may
   * manage that company). Only `true` (or a promise of it) lets the request through; anything else,
   * or no function at all, answers 401.
   */
  authorize: (request: Request, target: AuthorizeTarget) => boolean | Promise<boolean>;
}

export interface ConnectionRouteHandlerOptions extends RouteHandlerOptions {
  /** The dynamic segment holding the connection id (default `id`, as in `connections/[id]/refresh-token`). */
  param?: string;
}

export type RouteHandler = (request: Request) => Promise<Response>;

/** The second argument the App Router passes a dynamic route's handler (a promise since Next.js 15). */
export interface DynamicRouteContext {
  params:
    Promise<Record<string, string | string[] | undefined>> | Record<string, string | string[] | undefined>;
}

export type ConnectionRouteHandler = (request: Request, context: DynamicRouteContext) => Promise<Response>;

export interface RouteHandlers {
  /** The token status (TokenStatus: previews only). */
  GET: RouteHandler;
  /** Forces a refresh; concurrent calls (from any process on the store) share one token call. */
  POST: RouteHandler;
  /** Clears the cached access token; the refresh token is kept. */
  DELETE: RouteHandler;
}

export interface ConnectionRouteHandlers {
  /** The company's token status. */
  GET: ConnectionRouteHandler;
  /** Forces a refresh of the company's token. */
  POST: ConnectionRouteHandler;
  /** Clears the company's cached access token. */
  DELETE: ConnectionRouteHandler;
}

type Action<T> = (quickbooks: QuickBooks) => Promise<T>;

const status: Action<TokenStatus> = (quickbooks) => quickbooks.ready();
const refresh: Action<TokenStatus> = (quickbooks) => quickbooks.refresh();
const clear: Action<TokenStatus> = (quickbooks) => quickbooks.clear();

/** The original feature's endpoint (`/api/integrations/quickbooks/refresh-token`) for `quickbooks`'s company. */
export function createRouteHandlers(options: RouteHandlerOptions): RouteHandlers {
  const { quickbooks, authorize } = required(options, 'createRouteHandlers');
  const guarded =
    (action: Action<TokenStatus>): RouteHandler =>
    async (request) =>
      (await refusal(authorize, request, {})) ?? perform(() => action(quickbooks));
  return { GET: guarded(status), POST: guarded(refresh), DELETE: guarded(clear) };
}

/**
 * The desk's per-company endpoint, `/api/integrations/quickbooks/connections/{id}/refresh-token`,
 * for a dynamic route (`app/api/integrations/quickbooks/connections/[id]/refresh-token/route.ts`):
 * the same three actions on `quickbooks.connection(id)`. An id the store does not hold answers 404
 * `unknown_connection`, only to a caller `authorize` let through.
 */
export function createConnectionRouteHandlers(
  options: ConnectionRouteHandlerOptions,
): ConnectionRouteHandlers {
  const { quickbooks, authorize } = required(options, 'createConnectionRouteHandlers');
  const param = options.param ?? 'id';
  const guarded =
    (action: Action<TokenStatus>): ConnectionRouteHandler =>
    async (request, context) => {
      const value = (await context?.params)?.[param];
      const id = typeof value === 'string' ? value : '';
      const denied = await refusal(authorize, request, { connectionId: id });
      if (denied) return denied;
      // Only an id of the desk's form reaches the store (and the error message).
      if (!isValidConnectionId(id)) return failure(new UnknownConnectionError(id));
      return perform(() => action(quickbooks.connection(id)));
    };
  return { GET: guarded(status), POST: guarded(refresh), DELETE: guarded(clear) };
}

/** The desk's `GET /api/integrations/quickbooks/connections`: every connection in the store (ConnectionSummary[]). */
export function createConnectionListHandler(options: RouteHandlerOptions): { GET: RouteHandler } {
  const { quickbooks, authorize } = required(options, 'createConnectionListHandler');
  return {
    GET: async (request) =>
      (await refusal(authorize, request, {})) ??
      perform<ConnectionSummary[]>(() => quickbooks.listConnections()),
  };
}

function required(options: RouteHandlerOptions, factory: string): RouteHandlerOptions {
  const given = options ?? ({} as Partial<RouteHandlerOptions>);
  if (!given.quickbooks)
    throw new TypeError(`${factory}: \`quickbooks\` (from createQuickBooks()) is required.`);
  return given as RouteHandlerOptions;
}

async function perform<T>(action: () => Promise<T>): Promise<Response> {
  try {
    return answer(200, { ok: true, value: await action() });
  } catch (err) {
    return failure(err);
  }
}

function failure(err: unknown): Response {
  const error = resultErrorOf(err);
  // A store that is down or locked is worth asking again shortly, as the desk's server says too.
  const retryAfter = retryAfterSecondsForDeskError(error.code);
  return answer(
    httpStatusForDeskError(error.code),
    { ok: false, error },
    retryAfter === null ? {} : { 'Retry-After': String(retryAfter) },
  );
}

/** The 401 (or 500) answer when the caller is not let through; null when it is. */
async function refusal(
  authorize: RouteHandlerOptions['authorize'] | undefined,
  request: Request,
  target: AuthorizeTarget,
): Promise<Response | null> {
  if (typeof authorize !== 'function') {
    return unauthorized(
      'This endpoint is closed: createRouteHandlers was given no authorize(request) function.',
    );
  }
  let verdict: unknown;
  try {
    verdict = await authorize(request, target);
  } catch {
    // The app's own check failed: refuse, and say nothing about why (it is the app's code).
    return answer(500, {
      ok: false,
      error: { code: 'internal', message: 'authorize(request) threw; the request was refused.' },
    });
  }
  return verdict === true ? null : unauthorized('Not authorized to manage the QuickBooks tokens.');
}

function unauthorized(message: string): Response {
  return answer(401, { ok: false, error: { code: 'unauthorized', message } });
}

function resultErrorOf(err: unknown): ResultError {
  // A store the configuration makes unusable is answered as the desk's server answers it.
  const engineError = engineErrorOf(err);
  // Any other configuration the app cannot start with is the app's state, not a bad request from the caller.
  if (engineError instanceof ConfigError) return { code: 'not_configured', message: engineError.message };
  return toResultError(engineError);
}

function answer<T>(status: number, body: Result<T>, extraHeaders: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: {
      ...extraHeaders,
      'Content-Type': 'application/json; charset=utf-8',
      // Token status is per-moment and private: never cached by a browser or a CDN.
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    },
  });
}
