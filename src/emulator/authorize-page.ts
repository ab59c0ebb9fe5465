// GET /connect/oauth2: Intuit's consent screen, reduced to a Connect and a Cancel button.
// Approval creates a single-use code and redirects to redirect_uri with code, state and realmId.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EmulatorContext } from './context';
import { escapeHtml, mediaType, readBody, sendText } from './http-util';
import { DEFAULT_REALM_ID } from './settings';

export const AUTHORIZE_PATH = '/connect/oauth2';
const DECISION_PATH = '/connect/oauth2/decision';

interface ConsentRequest {
  clientId: string;
  redirectUri: string;
  state: string;
  scope: string;
  realmId: string;
}

function validate(ctx: EmulatorContext, params: URLSearchParams): ConsentRequest | string {
  const clientId = params.get('client_id');
  if (!clientId) return 'client_id is required';
  if (clientId !== ctx.demo.clientId) return 'client_id is not a known app';
  const responseType = params.get('response_type');
  if (responseType !== null && responseType !== 'code') return 'response_type must be "code"';
  const redirectUri = params.get('redirect_uri');
  if (!redirectUri) return 'redirect_uri is required';
  try {
    const parsed = new URL(redirectUri);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      return 'redirect_uri must be an http(s) URL';
  } catch {
    return 'redirect_uri must be an absolute URL';
  }
  const realmId = params.get('realm_id') ?? ctx.demo.realmId ?? DEFAULT_REALM_ID;
  if (!/^\d{1,32}$/.test(realmId)) return 'realm_id must be digits';
  return {
    clientId,
    redirectUri,
    state: params.get('state') ?? '',
    scope: params.get('scope') ?? 'com.intuit.quickbooks.accounting',
    realmId,
  };
}

function redirect(res: ServerResponse, target: string, params: Record<string, string>): void {
  const url = new URL(target);
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  res.writeHead(302, { location: url.toString(), 'cache-control': 'no-store' });
  res.end();
}

function approve(ctx: EmulatorContext, res: ServerResponse, consent: ConsentRequest): void {
  const code = ctx.store.createCode(consent.clientId, consent.redirectUri, consent.realmId, consent.scope);
  redirect(res, consent.redirectUri, { code, state: consent.state, realmId: consent.realmId });
}

function errorPage(res: ServerResponse, message: string): void {
  sendText(
    res,
    400,
    'text/html; charset=utf-8',
    `<!DOCTYPE html><html><head><title>Error</title></head><body><h1>Something went wrong</h1><p>${escapeHtml(message)}</p></body></html>`,
  );
}

function consentPage(ctx: EmulatorContext, consent: ConsentRequest): string {
  const hidden = (name: string, value: string): string =>
    `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Connect to QuickBooks (emulator)</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;color:#393a3d}
button{font-size:1rem;padding:.6rem 1.4rem;border-radius:4px;border:1px solid #2ca01c;cursor:pointer}
#connect{background:#2ca01c;color:#fff}#cancel{background:#fff;color:#393a3d;border-color:#8d9096}</style></head>
<body><h1>Intuit emulator</h1>
<p>An app wants to connect to <strong>${escapeHtml(ctx.settings.companyName)}</strong> (company ${escapeHtml(consent.realmId)}).</p>
<p>Scope: <code>${escapeHtml(consent.scope)}</code></p>
<form method="post" action="${DECISION_PATH}">
${hidden('client_id', consent.clientId)}${hidden('redirect_uri', consent.redirectUri)}${hidden('state', consent.state)}${hidden('scope', consent.scope)}${hidden('realm_id', consent.realmId)}
<button id="connect" type="submit" name="decision" value="connect">Connect</button>
<button id="cancel" type="submit" name="decision" value="cancel">Cancel</button>
</form></body></html>`;
}

export async function handleAuthorize(
  ctx: EmulatorContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  if (url.pathname === DECISION_PATH && req.method === 'POST') {
    const body = await readBody(req);
    if (mediaType(req) !== 'application/x-www-form-urlencoded')
      return errorPage(res, 'The consent form must be form-encoded');
    const params = new URLSearchParams(body);
    const consent = validate(ctx, params);
    if (typeof consent === 'string') return errorPage(res, consent);
    if (params.get('decision') === 'connect') return approve(ctx, res, consent);
    return redirect(res, consent.redirectUri, { error: 'access_denied', state: consent.state });
  }
  if (url.pathname === AUTHORIZE_PATH && req.method === 'GET') {
    const consent = validate(ctx, url.searchParams);
    if (typeof consent === 'string') return errorPage(res, consent);
    if (ctx.settings.autoApprove) return approve(ctx, res, consent);
    sendText(res, 200, 'text/html; charset=utf-8', consentPage(ctx, consent), {
      'content-security-policy':
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:",
    });
    return;
  }
  errorPage(res, `${req.method} ${url.pathname} is not part of the consent flow`);
}
