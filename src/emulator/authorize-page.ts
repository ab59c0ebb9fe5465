// GET /connect/oauth2: Intuit's consent screen (its HTML in consent-page.ts). Approval creates a
// single-use code and redirects to redirect_uri with code, state and realmId: the company the user
// picked in the selector, or their only company. As at Intuit, the request must carry client_id,
// response_type=code, scope, redirect_uri and state, and the redirect URI must be one registered for
// the app (settings.redirectUris). A bad request gets an error page and never a redirect (RFC 6749
// 4.1.2.1: an unchecked redirect URI is an open redirector). Emulator-only: `realm_id` on the request
// names the company directly, for scripted tests (any realm, no choice asked).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { REALM_ID_PATTERN, companyNameOf, userCompanies } from './companies';
import { DECISION_PATH, consentPageHtml, type ConsentView } from './consent-page';
import type { EmulatorContext } from './context';
import { escapeHtml, mediaType, readBody, sendText } from './http-util';
import { isRegisteredRedirectUri } from './redirect-uris';
import type { EmulatorCompany } from './types';

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

interface ConsentRequest {
  clientId: string;
  redirectUri: string;
  state: string;
  scope: string;
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
  return { clientId, redirectUri, state, scope };
}

/** The company this request connects, when nothing is left to choose (null: the user must pick one). */
type Fixed = ConsentView['fixed'];

/**
 * Which company: the realm_id shortcut, else (from the form) the company picked in the selector,
 * which must be one of the user's, else the user's only company. A string is why the request is refused.
 */
function fixedCompany(ctx: EmulatorContext, params: URLSearchParams, fromForm: boolean): Fixed | string {
  const shortcut = params.get('realm_id');
  if (shortcut !== null) {
    if (!REALM_ID_PATTERN.test(shortcut)) return 'realm_id must be digits';
    const company = { realmId: shortcut, companyName: companyNameOf(ctx.settings, shortcut) };
    return { company, field: 'realm_id' };
  }
  const companies = userCompanies(ctx.settings, ctx.demo.realmId);
  const picked = fromForm ? params.get('company') : null;
  if (picked) {
    const company = companies.find((c) => c.realmId === picked);
    if (!company) return `company ${picked} is not one of the signed-in user's companies`;
    return { company, field: 'company' };
  }
  const [only] = companies;
  return companies.length === 1 && only ? { company: only, field: 'company' } : null;
}

function redirect(res: ServerResponse, target: string, params: Record<string, string>): void {
  const url = new URL(target);
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  res.writeHead(302, { location: url.toString(), 'cache-control': 'no-store' });
  res.end();
}

function approve(
  ctx: EmulatorContext,
  res: ServerResponse,
  consent: ConsentRequest,
  company: EmulatorCompany,
): void {
  const code = ctx.store.createCode(consent.clientId, consent.redirectUri, company.realmId, consent.scope);
  redirect(res, consent.redirectUri, { code, state: consent.state, realmId: company.realmId });
}

function errorPage(res: ServerResponse, message: string): void {
  sendText(
    res,
    400,
    'text/html; charset=utf-8',
    `<!DOCTYPE html><html lang="en"><head><title>Error</title></head><body><main><h1>Something went wrong</h1><p>${escapeHtml(message)}</p></main></body></html>`,
  );
}

function showConsent(
  ctx: EmulatorContext,
  res: ServerResponse,
  consent: ConsentRequest,
  fixed: Fixed,
  error?: string,
): void {
  const view: ConsentView = {
    ...consent,
    fixed,
    companies: userCompanies(ctx.settings, ctx.demo.realmId),
    ...(error ? { error } : {}),
  };
  sendText(res, error ? 400 : 200, 'text/html; charset=utf-8', consentPageHtml(view), {
    'content-security-policy':
      "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:",
  });
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
    const fixed = fixedCompany(ctx, params, true);
    if (typeof fixed === 'string') return errorPage(res, fixed);
    if (params.get('decision') !== 'connect')
      return redirect(res, consent.redirectUri, { error: 'access_denied', state: consent.state });
    if (!fixed) return showConsent(ctx, res, consent, null, 'Select a company to connect.');
    return approve(ctx, res, consent, fixed.company);
  }
  if (url.pathname === AUTHORIZE_PATH && req.method === 'GET') {
    const consent = validate(ctx, url.searchParams);
    if (typeof consent === 'string') return errorPage(res, consent);
    const fixed = fixedCompany(ctx, url.searchParams, false);
    if (typeof fixed === 'string') return errorPage(res, fixed);
    // autoApprove skips the Connect click, never the user's choice of company.
    if (ctx.settings.autoApprove && fixed) return approve(ctx, res, consent, fixed.company);
    return showConsent(ctx, res, consent, fixed);
  }
  errorPage(res, `${req.method} ${url.pathname} is not part of the consent flow`);
}
