import { type JsonWebKey, createPublicKey, verify } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator } from './index';
import {
  apiGet,
  companyInfoPath,
  consentRedirect,
  consentUrl,
  control,
  refresh,
  str,
  tokenCall,
} from './test-support';
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
  return consentUrl(emu, redirectUri, extra);
}

async function consent(decision: 'connect' | 'cancel'): Promise<URL> {
  const page = await fetch(authorizeUrl());
  expect(page.status).toBe(200);
  expect(await page.text()).toContain('<button id="connect"');
  return new URL(await consentRedirect(authorizeUrl(), decision));
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
    // Intuit's issuer (clients compare it), signed with the emulator's key from its jwks_uri
    expect(claims.iss).toBe('https://oauth.platform.intuit.com/op/v1');
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

  it.each([
    ['scope', 'scope is required'],
    ['state', 'state is required'],
    ['response_type', 'response_type must be &#34;code&#34;'],
  ])('requires %s, with an error page and no redirect', async (param, message) => {
    emu.control.configure({ autoApprove: true });
    const url = new URL(authorizeUrl());
    url.searchParams.delete(param);
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.text()).toContain(message);
  });

  it('refuses a scope Intuit does not know', async () => {
    const res = await fetch(authorizeUrl({ scope: 'com.intuit.quickbooks.accounting admin' }));
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('scope admin is not an Intuit scope');
  });
});

describe('registered redirect URIs', () => {
  async function consentStatus(uri: string): Promise<number> {
    return (await fetch(authorizeUrl({ redirect_uri: uri }), { redirect: 'manual' })).status;
  }

  it("accepts the desk's loopback callbacks on any port by default, and nothing else", async () => {
    emu.control.configure({ autoApprove: true });
    for (const uri of ['http://localhost:51234/callback', 'http://127.0.0.1:4317/callback']) {
      expect(await consentStatus(uri)).toBe(302);
    }
    for (const uri of [
      'http://127.0.0.1:4317/callback/',
      'http://127.0.0.1:4317/callback?x=1',
      'http://127.0.0.1:4317/other',
      'https://127.0.0.1:4317/callback',
      'http://127.0.0.2:4317/callback',
      'https://evil.example/callback',
      'http://localhost/callback',
    ]) {
      const res = await fetch(authorizeUrl({ redirect_uri: uri }), { redirect: 'manual' });
      expect(res.status, uri).toBe(400);
      expect(res.headers.get('location')).toBeNull();
      expect(await res.text()).toContain('is not registered for this app');
    }
  });

  it('matches a registered URI exactly, port and path included', async () => {
    const strict = await startEmulator({
      autoApprove: true,
      redirectUris: ['https://app.example.com/qb/callback'],
    });
    try {
      const statusOf = async (uri: string) =>
        (await fetch(consentUrl(strict, uri), { redirect: 'manual' })).status;
      expect(await statusOf('https://app.example.com/qb/callback')).toBe(302);
      expect(await statusOf('https://app.example.com:8443/qb/callback')).toBe(400);
      expect(await statusOf('https://app.example.com/qb/callback2')).toBe(400);
      expect(await statusOf('http://localhost:51234/callback')).toBe(400);
    } finally {
      await strict.close();
    }
  });

  it("keeps its own list (never the caller's array) and a bounded one", async () => {
    const mine = ['http://localhost:9000/cb'];
    const own = await startEmulator({ redirectUris: mine });
    try {
      own.control.registerRedirectUri('http://localhost:9001/cb');
      expect(mine).toEqual(['http://localhost:9000/cb']);
      for (let port = 9002; port < 9100; port += 1)
        own.control.registerRedirectUri(`http://localhost:${port}/cb`);
      expect(() => own.control.registerRedirectUri('http://localhost:9100/cb')).toThrow(/at most 100/);
      const refused = await control(own, 'POST', '/redirect-uris', {
        redirectUri: 'http://localhost:9101/cb',
      });
      expect(refused.status).toBe(400);
      expect(refused.json?.error_description).toMatch(/at most 100/);
    } finally {
      await own.close();
    }
  });

  it('registers more URIs in process, over the control API and through configure', async () => {
    emu.control.configure({ autoApprove: true });
    emu.control.registerRedirectUri('http://127.0.0.1:8765/oauth/intuit');
    expect(await consentStatus('http://127.0.0.1:8765/oauth/intuit')).toBe(302);
    expect(() => emu.control.registerRedirectUri('https://*.example.com/cb')).toThrow(/loopback/);

    const added = await control(emu, 'POST', '/redirect-uris', {
      redirectUri: 'https://desk.example.org/callback',
    });
    expect(added.status).toBe(200);
    expect(added.json?.redirectUris).toContain('https://desk.example.org/callback');
    expect(await consentStatus('https://desk.example.org/callback')).toBe(302);
    const bad = await control(emu, 'POST', '/redirect-uris', { redirectUri: 'not a url' });
    expect(bad.status).toBe(400);
    expect(bad.json?.error_description).toMatch(/body.redirectUri: "not a url" is not an absolute URL/);

    await control(emu, 'POST', '/configure', { redirectUris: ['http://localhost:9000/cb'] });
    expect((await control(emu, 'GET', '/redirect-uris')).json?.redirectUris).toEqual([
      'http://localhost:9000/cb',
    ]);
    expect(await consentStatus('http://127.0.0.1:4317/callback')).toBe(400);
  });
});

describe('revoke endpoint (a disconnect)', () => {
  const basic = (): string =>
    `Basic ${Buffer.from(`${emu.clientId}:${emu.clientSecret}`).toString('base64')}`;

  async function revoke(token: string, init: { form?: boolean; auth?: string | null } = {}) {
    const headers: Record<string, string> = {
      'content-type': init.form ? 'application/x-www-form-urlencoded' : 'application/json',
      accept: 'application/json',
    };
    const auth = init.auth === undefined ? basic() : init.auth;
    if (auth !== null) headers.authorization = auth;
    const body = init.form ? new URLSearchParams({ token }).toString() : JSON.stringify({ token });
    return fetch(emu.revokeUrl, { method: 'POST', headers, body });
  }

  it('revoking the refresh token ends the authorization (refresh and access tokens)', async () => {
    const first = await refresh(emu, emu.refreshToken);
    const accessToken = str(first.json?.access_token);
    const res = await revoke(emu.refreshToken);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
    expect(res.headers.get('intuit_tid')).toBeTruthy();
    expect((await refresh(emu, emu.refreshToken)).json?.error).toBe('invalid_grant');
    expect((await apiGet(emu, companyInfoPath(emu.realmId), accessToken)).status).toBe(401);
    expect(emu.control.counters().revokeCalls).toBe(1);
  });

  it('revoking an access token ends the whole authorization too, its refresh chain included', async () => {
    const accessToken = str((await refresh(emu, emu.refreshToken)).json?.access_token);
    expect((await revoke(accessToken)).status).toBe(200);
    expect((await apiGet(emu, companyInfoPath(emu.realmId), accessToken)).status).toBe(401);
    expect((await refresh(emu, emu.refreshToken)).json?.error).toBe('invalid_grant');
  });

  it('leaves other authorizations alone', async () => {
    const other = emu.control.issueAuthorization();
    expect((await revoke(emu.refreshToken)).status).toBe(200);
    expect(emu.control.isRefreshTokenValid(other.refreshToken)).toBe(true);
    expect((await apiGet(emu, companyInfoPath(emu.realmId), other.accessToken)).status).toBe(200);
  });

  it('answers 400 with an empty body for a token that is unknown, already revoked or rotated away', async () => {
    const unknown = await revoke('RT1-not-a-token');
    expect(unknown.status).toBe(400);
    expect(await unknown.text()).toBe('');

    emu.control.configure({ rotateAfterSeconds: 0 });
    const rotated = str((await refresh(emu, emu.refreshToken)).json?.refresh_token);
    expect((await revoke(emu.refreshToken)).status).toBe(400); // rotated away: dead already
    expect(emu.control.isRefreshTokenValid(rotated)).toBe(true);
    expect((await revoke(rotated)).status).toBe(200);
    expect((await revoke(rotated)).status).toBe(400); // already revoked
  });

  it('takes the form body node-quickbooks sends as well as JSON', async () => {
    expect((await revoke(emu.refreshToken, { form: true })).status).toBe(200);
    expect(emu.control.isRefreshTokenValid(emu.refreshToken)).toBe(false);
  });

  it('needs Basic client auth, a known body type and a token', async () => {
    expect((await revoke(emu.refreshToken, { auth: null })).status).toBe(401);
    const wrong = `Basic ${Buffer.from(`${emu.clientId}:nope`).toString('base64')}`;
    expect((await revoke(emu.refreshToken, { auth: wrong })).status).toBe(401);
    // client_secret_post is a token-endpoint method; Intuit's revoke documents Basic only
    const post = await fetch(emu.revokeUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        token: emu.refreshToken,
        client_id: emu.clientId,
        client_secret: emu.clientSecret,
      }),
    });
    expect(post.status).toBe(401);
    expect(emu.control.isRefreshTokenValid(emu.refreshToken)).toBe(true);

    expect((await revoke('')).status).toBe(400);
    for (const [contentType, body] of [
      ['application/json', '{nope'],
      ['text/plain', JSON.stringify({ token: emu.refreshToken })],
    ]) {
      const res = await fetch(emu.revokeUrl, {
        method: 'POST',
        headers: { 'content-type': contentType ?? '', authorization: basic() },
        body,
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toBe('invalid_request');
    }
    expect(emu.control.isRefreshTokenValid(emu.refreshToken)).toBe(true);
  });
});

describe('OpenID discovery', () => {
  it.each(['/.well-known/openid_sandbox_configuration/', '/.well-known/openid_configuration/'])(
    'serves %s with the emulator endpoints',
    async (path) => {
      const res = await fetch(`${emu.url}${path}`);
      expect(res.status).toBe(200);
      const doc = (await res.json()) as Record<string, unknown>;
      expect(doc.issuer).toBe('https://oauth.platform.intuit.com/op/v1');
      expect(doc.jwks_uri).toBe(`${emu.url}/op/v1/jwks`);
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
