// GET /connect/oauth2: Intuit's consent screen, reduced to a Connect and a Cancel button.
// Approval creates a single-use code and redirects to redirect_uri with code, state and realmId.
// As at Intuit, the request must carry client_id, response_type=code, scope, redirect_uri and state,
// and the redirect URI must be one registered for the app (settings.redirectUris). A bad request
// gets an error page and never a redirect (RFC 6749 4.1.2.1: an unchecked redirect URI is an open redirector).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EmulatorContext } from './context';
import { escapeHtml, mediaType, readBody, sendText } from './http-util';
import { isRegisteredRedirectUri } from './redirect-uris';
import { DEFAULT_REALM_ID } from './settings';

/** Intuit's scopes (those intuit-oauth names); the accounting scope is what the desk asks for. */
const KNOWN_SCOPES = new Set([
  'com.intuit.quickbooks.accounting',
  'com.intuit.quickbooks.payment',
  'payroll.compensation.read',
  'project-management.project',
  'app-foundations.custom-dimensions.read',
  'app-foundations.custom-field-definitions',
  'time-tracking.time-entry',
  'indirect-tax.tax-calculation.quickbooks',
  'openid',
  'profile',
  'email',
  'phone',
  'address',
]);

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
  const redirectUri = params.get('redirect_uri');
  if (!redirectUri) return 'redirect_uri is required';
  if (!isRegisteredRedirectUri(redirectUri, ctx.settings.redirectUris)) {
    return `redirect_uri ${redirectUri} is not registered for this app (registered: ${ctx.settings.redirectUris.join(', ')}); register it with the emulator's --redirect-uri flag or POST /__control/redirect-uris`;
  }
  if (params.get('response_type') !== 'code') return 'response_type must be "code"';
  const scope = params.get('scope')?.trim();
  if (!scope) return 'scope is required (for QuickBooks: com.intuit.quickbooks.accounting)';
  const unknown = scope.split(/\s+/).find((item) => !KNOWN_SCOPES.has(item));
  if (unknown !== undefined) return `scope ${unknown} is not an Intuit scope`;
  const state = params.get('state');
  if (!state) return 'state is required';
  const realmId = params.get('realm_id') ?? ctx.demo.realmId ?? DEFAULT_REALM_ID;
  if (!/^\d{1,32}$/.test(realmId)) return 'realm_id must be digits';
  return { clientId, redirectUri, state, scope, realmId };
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
${hidden('client_id', consent.clientId)}${hidden('response_type', 'code')}${hidden('redirect_uri', consent.redirectUri)}${hidden('state', consent.state)}${hidden('scope', consent.scope)}${hidden('realm_id', consent.realmId)}
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
