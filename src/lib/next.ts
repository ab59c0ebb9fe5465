// `qb-token-desk/next`: App Router handlers for the original feature's endpoint
// (/api/integrations/quickbooks/refresh-token): GET the status, POST a forced refresh, DELETE the
// cached access token. They take a standard Request and answer a standard Response, so nothing is
// imported from Next.js. Bodies are the contract's Result, as the headless server answers them.
// A token-management endpoint is never public by default: `authorize` is required and only an
// explicit `true` lets a request through.
import { ConfigError, toResultError } from '../core/errors';
import { httpStatusForDeskError } from '../server/error-status';
import type { Result, ResultError, TokenStatus } from '../shared/contract';
import { engineErrorOf } from './errors';
import type { QuickBooks } from './quickbooks';

export interface RouteHandlerOptions {
  quickbooks: QuickBooks;
  /**
   * Decides who may call, e.g. your session check. Only `true` (or a promise of it) lets the
   * request through; anything else, or no function at all, answers 401.
   */
  authorize: (request: Request) => boolean | Promise<boolean>;
}

export type RouteHandler = (request: Request) => Promise<Response>;

export interface RouteHandlers {
  /** The token status (TokenStatus: previews only). */
  GET: RouteHandler;
  /** Forces a refresh; concurrent calls (from any process on the store) share one token call. */
  POST: RouteHandler;
  /** Clears the cached access token; the refresh token is kept. */
  DELETE: RouteHandler;
}

export function createRouteHandlers(options: RouteHandlerOptions): RouteHandlers {
  const { quickbooks, authorize } = options ?? ({} as Partial<RouteHandlerOptions>);
  if (!quickbooks)
    throw new TypeError('createRouteHandlers: `quickbooks` (from createQuickBooks()) is required.');

  const guarded =
    (action: () => Promise<TokenStatus>): RouteHandler =>
    async (request) => {
      const denied = await refusal(authorize, request);
      if (denied) return denied;
      try {
        return answer(200, { ok: true, value: await action() });
      } catch (err) {
        const error = resultErrorOf(err);
        return answer(httpStatusForDeskError(error.code), { ok: false, error });
      }
    };

  return {
    GET: guarded(() => quickbooks.ready()),
    POST: guarded(() => quickbooks.refresh()),
    DELETE: guarded(() => quickbooks.clear()),
  };
}

/** The 401 (or 500) answer when the caller is not let through; null when it is. */
async function refusal(
  authorize: RouteHandlerOptions['authorize'] | undefined,
  request: Request,
): Promise<Response | null> {
  if (typeof authorize !== 'function') {
    return unauthorized(
      'This endpoint is closed: createRouteHandlers was given no authorize(request) function.',
    );
  }
  let verdict: unknown;
  try {
    verdict = await authorize(request);
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
  // A configuration the app cannot start with is the app's state, not a bad request from the caller.
  if (err instanceof ConfigError) return { code: 'not_configured', message: err.message };
  return toResultError(engineErrorOf(err));
}

function answer<T>(status: number, body: Result<T>): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: {
      'Content-Type': 'application/json; charset=utf-8',
      // Token status is per-moment and private: never cached by a browser or a CDN.
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    },
  });
}
