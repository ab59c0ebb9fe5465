// The protocol layer against the emulator: code exchange, refresh fields, revoke, authorize URL.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator } from '../emulator';
import type { EmulatorHandle } from '../emulator/types';
import { TokenError } from './errors';
import { IntuitOAuth } from './intuit-oauth';
import { LeakScan } from './testing/leak-scan';

let emulator: EmulatorHandle;
let oauth: IntuitOAuth;
let scan: LeakScan;

/** The protocol layer against this test's emulator, as its app with `clientSecret`. */
function oauthAt(clientSecret: string): IntuitOAuth {
  return new IntuitOAuth({
    clientId: emulator.clientId,
    clientSecret,
    tokenUrl: emulator.tokenUrl,
    revokeUrl: emulator.revokeUrl,
    authorizeUrl: emulator.authorizeUrl,
    timeoutMs: 2000,
  });
}

beforeEach(async () => {
  emulator = await startEmulator({ autoApprove: true, rotateAfterSeconds: 0 });
  oauth = oauthAt(emulator.clientSecret);
  scan = new LeakScan().addEmulator(emulator);
});

afterEach(async () => {
  scan.assertClean();
  await emulator.close();
});

async function fail(promise: Promise<unknown>): Promise<TokenError> {
  const error = await promise.then(
    () => null,
    (err: unknown) => err,
  );
  scan.collect('error', error);
  expect(error).toBeInstanceOf(TokenError);
  return error as TokenError;
}

describe('IntuitOAuth', () => {
  it('refresh returns validated fields, including the hard expiry asked for by header, and intuit_tid', async () => {
    const answer = await oauth.refresh(emulator.refreshToken);
    scan.addSecrets(answer.accessToken, answer.refreshToken);
    expect(answer.expiresIn).toBe(3600);
    expect(answer.refreshExpiresIn).toBeGreaterThan(8_000_000);
    expect(answer.hardExpiresIn).toBeGreaterThan(answer.refreshExpiresIn);
    expect(answer.intuitTid).toMatch(/^1-/);
    expect(answer.refreshToken).not.toBe(emulator.refreshToken);
  });

  it('builds the authorize URL and exchanges the code once; a second exchange is invalid_grant', async () => {
    const redirectUri = 'http://127.0.0.1:9/callback';
    const url = new URL(
      oauth.buildAuthorizeUrl({
        state: 'state-123',
        redirectUri,
        scopes: ['com.intuit.quickbooks.accounting'],
      }),
    );
    expect(url.origin + url.pathname).toBe(emulator.authorizeUrl);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      client_id: emulator.clientId,
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: 'com.intuit.quickbooks.accounting',
      state: 'state-123',
    });
    const consent = await fetch(url, { redirect: 'manual' });
    const location = new URL(consent.headers.get('location') ?? '');
    const code = location.searchParams.get('code') ?? '';
    scan.addSecrets(code);
    expect(location.searchParams.get('state')).toBe('state-123');
    const tokens = await oauth.exchangeCode(code, redirectUri);
    scan.addSecrets(tokens.accessToken, tokens.refreshToken);
    expect(emulator.control.isRefreshTokenValid(tokens.refreshToken)).toBe(true);
    const again = await fail(oauth.exchangeCode(code, redirectUri));
    expect(again.kind).toBe('invalid_grant');
  });

  it('revoke sends JSON with Basic auth and ends the authorization', async () => {
    const { intuitTid, outcome } = await oauth.revoke(emulator.refreshToken);
    expect(outcome).toBe('revoked');
    expect(intuitTid).toMatch(/^1-/);
    expect(emulator.control.isRefreshTokenValid(emulator.refreshToken)).toBe(false);
    expect((await fail(oauth.refresh(emulator.refreshToken))).kind).toBe('invalid_grant');
  });

  it('revoke of a token Intuit no longer holds (its 400, empty body) is already_invalid; a malformed request or wrong keys still reject', async () => {
    await oauth.revoke(emulator.refreshToken);
    const counted = emulator.control.counters().revokeCalls;
    await expect(oauth.revoke(emulator.refreshToken)).resolves.toMatchObject({ outcome: 'already_invalid' });
    await expect(oauth.revoke('RT1-never-issued-by-intuit')).resolves.toMatchObject({
      outcome: 'already_invalid',
    });
    expect(emulator.control.counters().revokeCalls).toBe(counted + 2);
    // 400 invalid_request (no token sent) is about the request, not the token: not "nothing to revoke".
    expect((await fail(oauth.revoke(''))).status).toBe(400);
    const wrongKeys = oauthAt('not-the-secret');
    const refused = await fail(wrongKeys.revoke('RT1-never-issued-by-intuit'));
    expect(refused).toMatchObject({ kind: 'invalid_client', status: 401 });
  });

  it('wrong client secret is invalid_client, naming the variables to check', async () => {
    const wrong = oauthAt('not-the-secret');
    const error = await fail(wrong.refresh(emulator.refreshToken));
    expect(error.kind).toBe('invalid_client');
    expect(error.message).toMatch(/QB_CLIENT_ID, QB_CLIENT_SECRET/);
    expect(error.intuitTid).toMatch(/^1-/);
  });

  it('a closed port is a network error', async () => {
    const url = emulator.tokenUrl;
    await emulator.close();
    const down = new IntuitOAuth({
      clientId: 'id',
      clientSecret: 'secret',
      tokenUrl: url,
      revokeUrl: url,
      authorizeUrl: url,
      timeoutMs: 2000,
    });
    const error = await fail(down.refresh('some-refresh-token-value'));
    expect(error.kind).toBe('network');
    expect(error.message).toMatch(/ECONNREFUSED/);
    emulator = await startEmulator();
  });

  it('refuses plain http to anything but loopback', () => {
    expect(
      () =>
        new IntuitOAuth({
          clientId: 'id',
          clientSecret: 'secret',
          tokenUrl: 'http://example.com/token',
          revokeUrl: 'https://example.com/revoke',
          authorizeUrl: 'https://example.com/authorize',
          timeoutMs: 1000,
        }),
    ).toThrow(/only https or loopback/);
  });
});
