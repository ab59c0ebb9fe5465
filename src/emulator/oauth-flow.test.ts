import { type JsonWebKey, createPublicKey, verify } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator } from './index';
import { apiGet, companyInfoPath, refresh, str, tokenCall } from './test-support';
import type { EmulatorHandle } from './types';

let emu: EmulatorHandle;
const redirectUri = 'http://127.0.0.1:9999/callback';

beforeEach(async () => {
  emu = await startEmulator();
});
afterEach(async () => {
  await emu.close();
});

function authorizeUrl(extra: Record<string, string> = {}): string {
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

/** Walks the consent page as a browser would: GET the page, POST its form with the Connect button. */
async function consent(decision: 'connect' | 'cancel'): Promise<URL> {
  const page = await fetch(authorizeUrl());
  expect(page.status).toBe(200);
  const html = await page.text();
  expect(html).toContain('<button id="connect"');
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  const fields = new URLSearchParams();
  for (const match of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    fields.set(
      match[1] ?? '',
      (match[2] ?? '').replace(/&#(\d+);/g, (_m, code: string) => String.fromCharCode(Number(code))),
    );
  }
  fields.set('decision', decision);
  const res = await fetch(new URL(action ?? '', emu.url), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: fields.toString(),
    redirect: 'manual',
  });
  expect(res.status).toBe(302);
  return new URL(res.headers.get('location') ?? '');
}

async function exchange(code: string, uri = redirectUri) {
  return tokenCall(emu, { grant_type: 'authorization_code', code, redirect_uri: uri });
}

describe('authorization code flow', () => {
  it('consent page Connect redirects with code, state and realmId; the code exchanges once', async () => {
    const location = await consent('connect');
    expect(`${location.origin}${location.pathname}`).toBe(redirectUri);
    expect(location.searchParams.get('state')).toBe('st-123');
    expect(location.searchParams.get('realmId')).toBe(emu.realmId);
    const code = str(location.searchParams.get('code'));

    const first = await exchange(code);
    expect(first.status).toBe(200);
    expect(first.json?.token_type).toBe('bearer');
    expect(first.json).not.toHaveProperty('realmId');
    const accessToken = str(first.json?.access_token);
    const refreshToken = str(first.json?.refresh_token);
    expect((await apiGet(emu, companyInfoPath(emu.realmId), accessToken)).status).toBe(200);
    expect(emu.control.counters().tokenCalls.authorization_code).toBe(1);

    const second = await exchange(code);
    expect(second.status).toBe(400);
    expect(second.json?.error).toBe('invalid_grant');
    // ...and what the first exchange issued is revoked
    expect((await apiGet(emu, companyInfoPath(emu.realmId), accessToken)).status).toBe(401);
    expect(emu.control.isRefreshTokenValid(refreshToken)).toBe(false);
    expect((await refresh(emu, refreshToken)).json?.error).toBe('invalid_grant');
  });

  it('Cancel redirects with error=access_denied', async () => {
    const location = await consent('cancel');
    expect(location.searchParams.get('error')).toBe('access_denied');
    expect(location.searchParams.get('state')).toBe('st-123');
    expect(location.searchParams.has('code')).toBe(false);
  });

  it('approves at once with autoApprove', async () => {
    emu.control.configure({ autoApprove: true });
    const res = await fetch(authorizeUrl(), { redirect: 'manual' });
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location') ?? '');
    expect(location.searchParams.get('realmId')).toBe(emu.realmId);
    expect((await exchange(str(location.searchParams.get('code')))).status).toBe(200);
  });

  it('adds a verifiable RS256 id_token only when the openid scope was granted', async () => {
    emu.control.configure({ autoApprove: true });
    const codeFor = async (scope: string): Promise<string> => {
      const res = await fetch(authorizeUrl({ scope }), { redirect: 'manual' });
      return str(new URL(res.headers.get('location') ?? '').searchParams.get('code'));
    };
    const plain = await exchange(await codeFor('com.intuit.quickbooks.accounting'));
    expect(plain.json).not.toHaveProperty('id_token');
    const withOpenId = await exchange(await codeFor('com.intuit.quickbooks.accounting openid'));
    const idToken = str(withOpenId.json?.id_token);
    const [header, payload, signature] = idToken.split('.');
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()) as Record<string, unknown>;
    expect(claims.aud).toEqual([emu.clientId]);
    expect(claims.realmid).toBe(emu.realmId);
    expect(claims.iss).toBe(emu.url);
    const jwks = (await (await fetch(`${emu.url}/op/v1/jwks`)).json()) as { keys: JsonWebKey[] };
    const key = createPublicKey({ key: jwks.keys[0] as JsonWebKey, format: 'jwk' });
    const ok = verify(
      'sha256',
      Buffer.from(`${header}.${payload}`),
      key,
      Buffer.from(signature ?? '', 'base64url'),
    );
    expect(ok).toBe(true);
  });

  it('refuses a mismatched redirect_uri, an unknown code and an expired code', async () => {
    emu.control.configure({ autoApprove: true });
    const codeOf = async (): Promise<string> => {
      const res = await fetch(authorizeUrl(), { redirect: 'manual' });
      return str(new URL(res.headers.get('location') ?? '').searchParams.get('code'));
    };
    expect((await exchange(await codeOf(), 'http://127.0.0.1:9999/other')).json?.error).toBe('invalid_grant');
    expect((await exchange('AB11nothing')).json?.error).toBe('invalid_grant');
    const code = await codeOf();
    emu.control.advanceClock(601);
    expect((await exchange(code)).json?.error).toBe('invalid_grant');
  });

  it('shows an error page for an unknown client or a missing redirect_uri', async () => {
    const unknown = await fetch(authorizeUrl({ client_id: 'nobody' }));
    expect(unknown.status).toBe(400);
    expect(await unknown.text()).toContain('client_id');
    const url = new URL(authorizeUrl());
    url.searchParams.delete('redirect_uri');
    const missing = await fetch(url);
    expect(missing.status).toBe(400);
    expect(await missing.text()).toContain('redirect_uri');
  });
});

describe('revoke endpoint', () => {
  async function revoke(token: string, init: { contentType?: string; basic?: boolean } = {}) {
    const headers: Record<string, string> = {
      'content-type': init.contentType ?? 'application/json',
      accept: 'application/json',
    };
    if (init.basic !== false) {
      headers.authorization = `Basic ${Buffer.from(`${emu.clientId}:${emu.clientSecret}`).toString('base64')}`;
    }
    return fetch(emu.revokeUrl, { method: 'POST', headers, body: JSON.stringify({ token }) });
  }

  it('revoking the refresh token ends the authorization (refresh and access tokens)', async () => {
    const first = await refresh(emu, emu.refreshToken);
    const accessToken = str(first.json?.access_token);
    const res = await revoke(emu.refreshToken);
    expect(res.status).toBe(200);
    expect(res.headers.get('intuit_tid')).toBeTruthy();
    expect((await refresh(emu, emu.refreshToken)).json?.error).toBe('invalid_grant');
    expect((await apiGet(emu, companyInfoPath(emu.realmId), accessToken)).status).toBe(401);
    expect(emu.control.counters().revokeCalls).toBe(1);
  });

  it('revoking an access token ends that token only', async () => {
    const accessToken = str((await refresh(emu, emu.refreshToken)).json?.access_token);
    expect((await revoke(accessToken)).status).toBe(200);
    expect((await apiGet(emu, companyInfoPath(emu.realmId), accessToken)).status).toBe(401);
    expect((await refresh(emu, emu.refreshToken)).status).toBe(200);
  });

  it('needs client auth and a token', async () => {
    expect((await revoke(emu.refreshToken, { basic: false })).status).toBe(401);
    expect(emu.control.isRefreshTokenValid(emu.refreshToken)).toBe(true);
    const empty = await revoke('');
    expect(empty.status).toBe(400);
    const notJson = await fetch(emu.revokeUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{nope',
    });
    expect(notJson.status).toBe(400);
  });
});

describe('OpenID discovery', () => {
  it.each(['/.well-known/openid_sandbox_configuration/', '/.well-known/openid_configuration/'])(
    'serves %s with the emulator endpoints',
    async (path) => {
      const res = await fetch(`${emu.url}${path}`);
      expect(res.status).toBe(200);
      const doc = (await res.json()) as Record<string, unknown>;
      expect(doc.token_endpoint).toBe(emu.tokenUrl);
      expect(doc.authorization_endpoint).toBe(emu.authorizeUrl);
      expect(doc.revocation_endpoint).toBe(emu.revokeUrl);
      expect(doc.token_endpoint_auth_methods_supported).toEqual([
        'client_secret_post',
        'client_secret_basic',
      ]);
    },
  );
});
