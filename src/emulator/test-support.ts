// Helpers the emulator's own tests use to talk to it over real HTTP (no mocked fetch).
import type { EmulatorHandle } from './types';

export interface TokenCallOptions {
  auth?: 'basic' | 'post' | 'none';
  clientId?: string;
  clientSecret?: string;
  headers?: Record<string, string>;
  contentType?: string;
}

export interface JsonAnswer {
  status: number;
  headers: Headers;
  text: string;
  json: Record<string, unknown> | null;
}

async function answer(response: Response): Promise<JsonAnswer> {
  const text = await response.text();
  let json: Record<string, unknown> | null;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = null;
  }
  return { status: response.status, headers: response.headers, text, json };
}

export async function tokenCall(
  emu: EmulatorHandle,
  fields: Record<string, string>,
  options: TokenCallOptions = {},
): Promise<JsonAnswer> {
  const clientId = options.clientId ?? emu.clientId;
  const clientSecret = options.clientSecret ?? emu.clientSecret;
  const auth = options.auth ?? 'basic';
  const form = new URLSearchParams(fields);
  const headers: Record<string, string> = {
    'content-type': options.contentType ?? 'application/x-www-form-urlencoded',
    accept: 'application/json',
    ...options.headers,
  };
  if (auth === 'basic')
    headers.authorization = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`;
  if (auth === 'post') {
    form.set('client_id', clientId);
    form.set('client_secret', clientSecret);
  }
  return answer(await fetch(emu.tokenUrl, { method: 'POST', headers, body: form.toString() }));
}

export function refresh(
  emu: EmulatorHandle,
  refreshToken: string,
  options: TokenCallOptions = {},
): Promise<JsonAnswer> {
  return tokenCall(emu, { grant_type: 'refresh_token', refresh_token: refreshToken }, options);
}

/** GET on the Accounting API; asks for JSON unless `accept` says otherwise (null: no Accept header). */
export async function apiGet(
  emu: EmulatorHandle,
  path: string,
  accessToken?: string,
  accept: string | null = 'application/json',
): Promise<JsonAnswer> {
  const headers: Record<string, string> = {};
  if (accept !== null) headers.accept = accept;
  if (accessToken !== undefined) headers.authorization = `Bearer ${accessToken}`;
  return answer(await fetch(`${emu.apiBaseUrl}${path}`, { headers }));
}

export function queryPath(realmId: string, statement: string): string {
  return `/v3/company/${realmId}/query?minorversion=75&query=${encodeURIComponent(statement)}`;
}

/** The first Error of a fault body in either spelling, with its type. */
export function faultOf(json: Record<string, unknown> | null): {
  spelling: 'lower' | 'capital';
  type: unknown;
  error: Record<string, unknown>;
} {
  if (json?.Fault) {
    const fault = json.Fault as { Error: Record<string, unknown>[]; type: unknown };
    return { spelling: 'capital', type: fault.type, error: fault.Error[0] ?? {} };
  }
  const fault = json?.fault as { error: Record<string, unknown>[]; type: unknown } | undefined;
  if (!fault) throw new Error(`no fault in ${JSON.stringify(json)}`);
  return { spelling: 'lower', type: fault.type, error: fault.error[0] ?? {} };
}

export function companyInfoPath(realmId: string): string {
  return `/v3/company/${realmId}/companyinfo/${realmId}?minorversion=75`;
}

/** A consent page URL for the demo app, as the desk builds it (accounting scope), with `extra` set over it. */
export function consentUrl(
  emu: Pick<EmulatorHandle, 'authorizeUrl' | 'clientId'>,
  redirectUri: string,
  extra: Record<string, string> = {},
): string {
  const url = new URL(emu.authorizeUrl);
  const params = {
    client_id: emu.clientId,
    response_type: 'code',
    scope: 'com.intuit.quickbooks.accounting',
    redirect_uri: redirectUri,
    state: 'st-123',
    ...extra,
  };
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  return url.toString();
}

/** The company selector's choices on a consent page: value (realm id) and label, in page order. */
export function companyOptions(html: string): { realmId: string; label: string }[] {
  const select = /<select id="company" name="company"[^>]*>([\s\S]*?)<\/select>/.exec(html)?.[1];
  if (select === undefined) return [];
  return [...select.matchAll(/<option value="(\d+)">([^<]*)<\/option>/g)].map((m) => ({
    realmId: m[1] ?? '',
    label: unescapeHtml(m[2] ?? ''),
  }));
}

function unescapeHtml(text: string): string {
  return text.replace(/&#(\d+);/g, (_m, code: string) => String.fromCharCode(Number(code)));
}

/**
 * Walks the consent page as a browser would: GET the page, pick `company` in its company selector
 * when it has one (a realm id it lists), POST its form with the Connect (or Cancel) button, and return
 * the redirect's Location (the app's redirect URI with code, state and realmId).
 */
export async function consentRedirect(
  authorizeUrl: string,
  decision: 'connect' | 'cancel' = 'connect',
  company?: string,
): Promise<string> {
  const page = await fetch(authorizeUrl);
  const html = await page.text();
  if (page.status !== 200) throw new Error(`the consent page answered ${page.status}: ${html}`);
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  if (!action) throw new Error('the consent page has no form');
  const fields = new URLSearchParams();
  for (const match of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    fields.set(match[1] ?? '', unescapeHtml(match[2] ?? ''));
  }
  if (company !== undefined) {
    const offered = companyOptions(html).map((option) => option.realmId);
    if (!offered.includes(company))
      throw new Error(
        `the consent page offers no company ${company} (it offers: ${offered.join(', ') || 'no choice'})`,
      );
    fields.set('company', company);
  }
  fields.set('decision', decision);
  const res = await fetch(new URL(action, authorizeUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: fields.toString(),
    redirect: 'manual',
  });
  const location = res.headers.get('location');
  if (res.status !== 302 || !location)
    throw new Error(`the consent form answered ${res.status}: ${await res.text()}`);
  return location;
}

export async function control(
  emu: EmulatorHandle,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<JsonAnswer> {
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.headers = { 'content-type': 'application/json' };
    init.body = JSON.stringify(body);
  }
  return answer(await fetch(`${emu.controlUrl}${path}`, init));
}

export function str(value: unknown): string {
  if (typeof value !== 'string') throw new Error(`expected a string, got ${typeof value}`);
  return value;
}
