// POST /oauth2/v1/tokens/bearer and POST /v2/oauth2/tokens/revoke, as Intuit documents them,
// with the injected token faults applied in front of (or after) the real processing.
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TokenGrant } from './authorizations';
import type { EmulatorContext } from './context';
import { mediaType, parseBasicAuth, parseJsonObject, readBody, sendJson, sendText } from './http-util';
import type { TokenFault } from './types';

interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

const HARD_EXPIRY_HEADER = 'x-include-refresh-token-hard-expires-in';

function oauthError(status: number, error: string, description?: string): Answer {
  const body: Record<string, string> = { error };
  if (description) body.error_description = description;
  return status === 401
    ? { status, body, headers: { 'www-authenticate': 'Basic realm="Intuit", error="invalid_client"' } }
    : { status, body };
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** client_secret_basic or client_secret_post; null when the client is not the demo client. */
function authenticateClient(
  ctx: EmulatorContext,
  req: IncomingMessage,
  form: URLSearchParams | null,
): string | null {
  let id: string | null | undefined;
  let secret: string | null | undefined;
  if (req.headers.authorization !== undefined) {
    const basic = parseBasicAuth(req.headers.authorization);
    if (!basic) return null;
    ({ id, secret } = basic);
  } else {
    id = form?.get('client_id');
    secret = form?.get('client_secret');
  }
  if (!id || !secret) return null;
  if (id !== ctx.demo.clientId || !sameSecret(secret, ctx.demo.clientSecret)) return null;
  return id;
}

function successBody(grant: TokenGrant, includeHard: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = {
    x_refresh_token_expires_in: grant.refreshExpiresIn,
    refresh_token: grant.refreshToken,
    access_token: grant.accessToken,
    token_type: 'bearer',
    expires_in: grant.expiresIn,
  };
  if (includeHard) body.x_refresh_token_hard_expires_in = grant.hardExpiresIn;
  return body;
}

// Async only for the id_token signature; each grant's state change happens synchronously, before any await.
async function processToken(
  ctx: EmulatorContext,
  req: IncomingMessage,
  form: URLSearchParams | null,
): Promise<Answer> {
  if (!form) {
    return oauthError(400, 'invalid_request', 'Content-Type must be application/x-www-form-urlencoded');
  }
  const clientId = authenticateClient(ctx, req, form);
  if (!clientId) return oauthError(401, 'invalid_client');
  const grantType = form.get('grant_type');
  if (!grantType) return oauthError(400, 'invalid_request', 'grant_type is required');
  const includeHard = String(req.headers[HARD_EXPIRY_HEADER] ?? '').toLowerCase() === 'true';

  if (grantType === 'refresh_token') {
    const refreshToken = form.get('refresh_token');
    if (!refreshToken) return oauthError(400, 'invalid_request', 'refresh_token is required');
    const outcome = ctx.store.refresh(refreshToken, clientId);
    if (!outcome.ok) return oauthError(400, 'invalid_grant', outcome.description);
    return { status: 200, body: successBody(outcome.grant, includeHard) };
  }
  if (grantType === 'authorization_code') {
    const code = form.get('code');
    if (!code) return oauthError(400, 'invalid_request', 'code is required');
    const outcome = ctx.store.exchangeCode(code, clientId, form.get('redirect_uri') ?? undefined);
    if (!outcome.ok) return oauthError(400, 'invalid_grant', outcome.description);
    const body = successBody(outcome.grant, includeHard);
    if (outcome.grant.scope.split(/\s+/).includes('openid')) {
      body.id_token = await ctx.idTokens.sign({
        clientId,
        realmId: outcome.grant.realmId,
        nowMs: ctx.now(),
      });
    }
    return { status: 200, body };
  }
  return oauthError(400, 'unsupported_grant_type');
}

function send(ctx: EmulatorContext, res: ServerResponse, answer: Answer): void {
  if (res.destroyed || res.writableEnded) return;
  if (answer.status === 200) ctx.counters.tokenSuccesses += 1;
  sendJson(res, answer.status, answer.body, answer.headers);
}

function resetConnection(res: ServerResponse): void {
  const socket = res.socket;
  if (!socket) return;
  // An RST rather than a FIN, like a load balancer dropping the connection.
  if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
  else socket.destroy();
}

/** Answers a fault that replaces the processing; returns false for the kinds that process first. */
function answerFaultInstead(
  ctx: EmulatorContext,
  res: ServerResponse,
  fault: TokenFault,
  process: () => Promise<Answer>,
): boolean {
  switch (fault.kind) {
    case 'status': {
      const headers: Record<string, string> = {};
      if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(fault.retryAfterSeconds);
      const error = fault.status === 429 ? 'rate_limit_exceeded' : 'server_error';
      sendJson(res, fault.status, { error, error_description: `Injected HTTP ${fault.status}` }, headers);
      return true;
    }
    case 'invalid_grant':
      send(ctx, res, oauthError(400, 'invalid_grant'));
      return true;
    case 'invalid_client':
      send(ctx, res, oauthError(401, 'invalid_client'));
      return true;
    case 'html':
      sendText(
        res,
        fault.status ?? 503,
        'text/html; charset=utf-8',
        '<!DOCTYPE html><html><head><title>Service Unavailable</title></head>' +
          '<body><h1>Service Unavailable</h1><p>The server is temporarily unable to service your request.</p></body></html>',
      );
      return true;
    case 'malformed_json':
      // Cut off mid-value, as a truncated proxy response would be.
      sendText(
        res,
        200,
        'application/json;charset=UTF-8',
        '{"x_refresh_token_expires_in":8726400,"refresh_token":"RT1-',
      );
      return true;
    case 'delay': {
      // A slow network in front of Intuit: if the client gives up first, nothing was processed.
      let gone = false;
      res.on('close', () => {
        gone = true;
      });
      ctx.later(fault.ms, () => {
        if (!gone) void process().then((answer) => send(ctx, res, answer));
      });
      return true;
    }
    case 'hang':
      return true; // never answered; close() destroys the socket
    case 'reset':
      resetConnection(res);
      return true;
    case 'hang_after_processing':
      void process();
      return true;
    case 'delay_after_processing':
      void process().then((answer) => ctx.later(fault.ms, () => send(ctx, res, answer)));
      return true;
  }
}

export async function handleToken(
  ctx: EmulatorContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (refusedUnlessPost(req, res, 'token')) return;
  const body = await readBody(req);
  const form = mediaType(req) === 'application/x-www-form-urlencoded' ? new URLSearchParams(body) : null;
  const grantType = form?.get('grant_type');
  if (grantType === 'refresh_token' || grantType === 'authorization_code')
    ctx.counters.tokenCalls[grantType] += 1;
  else ctx.counters.tokenCalls.other += 1;

  const process = (): Promise<Answer> => processToken(ctx, req, form);
  const fault = ctx.tokenFaults.take();
  if (fault && answerFaultInstead(ctx, res, fault, process)) return;
  send(ctx, res, await process());
}

/**
 * Intuit's revoke, as its docs show it: Basic client auth and a JSON body `{"token": ...}`; 200 with
 * an empty body, after which the whole authorization is gone. A form body `token=...` is accepted
 * too (node-quickbooks sends one; see README). A token that is not valid now gets 400 with an empty
 * body, as intuit-oauth's users report from Intuit.
 */
export async function handleRevoke(
  ctx: EmulatorContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (refusedUnlessPost(req, res, 'revoke')) return;
  const body = await readBody(req);
  ctx.counters.revokeCalls += 1;
  const basic = parseBasicAuth(req.headers.authorization);
  if (!basic || basic.id !== ctx.demo.clientId || !sameSecret(basic.secret, ctx.demo.clientSecret)) {
    const answer = oauthError(401, 'invalid_client');
    sendJson(res, answer.status, answer.body, answer.headers);
    return;
  }
  const type = mediaType(req);
  let token: unknown;
  if (type === 'application/json') {
    const json = parseJsonObject(body);
    if (!json) {
      sendJson(res, 400, {
        error: 'invalid_request',
        error_description: 'Body must be JSON: {"token": "..."}',
      });
      return;
    }
    token = json.token;
  } else if (type === 'application/x-www-form-urlencoded') {
    token = new URLSearchParams(body).get('token');
  } else {
    sendJson(res, 400, {
      error: 'invalid_request',
      error_description: 'Content-Type must be application/json with a body {"token": "..."}',
    });
    return;
  }
  if (typeof token !== 'string' || token.length === 0) {
    sendJson(res, 400, { error: 'invalid_request', error_description: 'token is required' });
    return;
  }
  const status = ctx.store.revoke(token) === 'revoked' ? 200 : 400;
  res.writeHead(status, { 'content-length': '0', 'cache-control': 'no-store' });
  res.end();
}

/** Intuit's token and revoke endpoints answer anything but POST with 405 and an OAuth-style body. */
function refusedUnlessPost(req: IncomingMessage, res: ServerResponse, endpoint: 'token' | 'revoke'): boolean {
  if (req.method === 'POST') return false;
  sendJson(
    res,
    405,
    { error: 'invalid_request', error_description: `The ${endpoint} endpoint accepts POST only` },
    { allow: 'POST' },
  );
  return true;
}
