// Conformance: Intuit's official Node SDK, intuit-oauth 4.2.5, against the emulator, unpatched and
// pointed at it only through its public settings, the way src/emulator/README.md tells users to:
//   - setAuthorizeURLs({ authorizeEndpoint, tokenEndpoint, revokeEndpoint, userInfoEndpoint })
//   - OAuthClient.jwks_uri (a public static property: validateIdToken() fetches Intuit's keys from it
//     and has no other setting for it; the issuer it checks is Intuit's and the emulator signs with it)
//   - absolute URLs for makeApiCall, or OAuthClient.environment.sandbox for relative ones.
// The steps run in order on one client, as an app would use it: connect, validate, refresh, call, revoke.
import OAuthClient from 'intuit-oauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../index';
import { consentRedirect } from '../test-support';
import type { EmulatorHandle } from '../types';

const REDIRECT_URI = 'http://localhost:8000/callback';

let emu: EmulatorHandle;
let client: OAuthClient;
const saved = {
  authorizeEndpoint: OAuthClient.authorizeEndpoint,
  tokenEndpoint: OAuthClient.tokenEndpoint,
  revokeEndpoint: OAuthClient.revokeEndpoint,
  userinfo: OAuthClient.userinfo_endpoint_sandbox,
  jwks: OAuthClient.jwks_uri,
  sandbox: OAuthClient.environment.sandbox,
};

beforeAll(async () => {
  emu = await startEmulator({ companyName: 'Conformance Landscaping', redirectUris: [REDIRECT_URI] });
  client = new OAuthClient({
    clientId: emu.clientId,
    clientSecret: emu.clientSecret,
    environment: 'sandbox',
    redirectUri: REDIRECT_URI,
  });
  client.setAuthorizeURLs({
    authorizeEndpoint: emu.authorizeUrl,
    tokenEndpoint: emu.tokenUrl,
    revokeEndpoint: emu.revokeUrl,
    userInfoEndpoint: `${emu.url}/v1/openid_connect/userinfo`,
  });
  OAuthClient.jwks_uri = `${emu.url}/op/v1/jwks`;
  OAuthClient.environment.sandbox = `${emu.apiBaseUrl}/`;
});

afterAll(async () => {
  // The SDK keeps its endpoints in static properties: put Intuit's back for whatever runs next.
  OAuthClient.authorizeEndpoint = saved.authorizeEndpoint;
  OAuthClient.tokenEndpoint = saved.tokenEndpoint;
  OAuthClient.revokeEndpoint = saved.revokeEndpoint;
  OAuthClient.userinfo_endpoint_sandbox = saved.userinfo;
  OAuthClient.jwks_uri = saved.jwks;
  OAuthClient.environment.sandbox = saved.sandbox;
  await emu.close();
});

/** What a rejected SDK promise carried. */
async function rejection(promise: Promise<unknown>): Promise<Record<string, unknown>> {
  const outcome = await promise.then(
    () => null,
    (error: unknown) => error as Record<string, unknown>,
  );
  if (outcome === null) throw new Error('expected the SDK call to fail');
  return outcome;
}

describe('intuit-oauth 4.2.5', () => {
  let firstRefreshToken = '';

  it('authorizeUri, the consent page and createToken connect to the emulated company', async () => {
    const uri = client.authorizeUri({
      scope: [OAuthClient.scopes.Accounting, OAuthClient.scopes.OpenId],
      state: 'conformance-state',
    });
    expect(uri.startsWith(`${emu.authorizeUrl}?`)).toBe(true);
    const location = await consentRedirect(uri);
    expect(location.startsWith(`${REDIRECT_URI}?`)).toBe(true);

    const authResponse = await client.createToken(location);
    const json = authResponse.getJson() as Record<string, unknown>;
    expect(json).toMatchObject({
      token_type: 'bearer',
      expires_in: 3600,
      x_refresh_token_expires_in: 8_726_400,
    });
    expect(typeof json.id_token).toBe('string');
    const token = client.getToken();
    expect(token.realmId).toBe(emu.realmId);
    expect(token.state).toBe('conformance-state');
    expect(client.isAccessTokenValid()).toBe(true);
    firstRefreshToken = token.refresh_token;
    expect(emu.control.counters().tokenCalls.authorization_code).toBe(1);
  });

  it("validateIdToken accepts the emulator's id_token (Intuit's issuer, the emulator's keys)", async () => {
    await expect(client.validateIdToken()).resolves.toBe(true);
  });

  it('refresh and refreshUsingToken get new access tokens', async () => {
    emu.control.configure({ rotateAfterSeconds: 0 });
    const before = client.getToken().access_token;
    const refreshed = await client.refresh();
    const after = refreshed.getJson() as { access_token: string; refresh_token: string };
    expect(after.access_token).not.toBe(before);
    expect(after.refresh_token).not.toBe(firstRefreshToken);
    // the rotated-away value is dead, as at Intuit
    const stale = await rejection(client.refreshUsingToken(firstRefreshToken));
    expect(stale.error).toBe('invalid_grant');

    const again = await client.refreshUsingToken(after.refresh_token);
    expect(again.getJson()).toMatchObject({ token_type: 'bearer' });
    expect(client.getToken().refresh_token).toBe(
      (again.getJson() as { refresh_token: string }).refresh_token,
    );
    emu.control.configure({ rotateAfterSeconds: 86_400 });
  });

  it('makeApiCall reads CompanyInfo (absolute URL) and runs a query (relative URL)', async () => {
    const info = await client.makeApiCall({
      url: `${emu.apiBaseUrl}/v3/company/${emu.realmId}/companyinfo/${emu.realmId}?minorversion=75`,
    });
    expect(info.status).toBe(200);
    expect((info.json as { CompanyInfo: { CompanyName: string } }).CompanyInfo.CompanyName).toBe(
      'Conformance Landscaping',
    );
    expect(info.headers.intuit_tid).toBeTruthy();

    const query = await client.makeApiCall({
      url: `/v3/company/${emu.realmId}/query?query=${encodeURIComponent("select * from Customer where DisplayName like 'D%'")}&minorversion=75`,
    });
    const response = (query.json as { QueryResponse: { Customer: { DisplayName: string }[] } }).QueryResponse;
    expect(response.Customer.map((c) => c.DisplayName)).toEqual(['Diego Rodriguez', 'Dukes Basketball Camp']);
  });

  it("parses the emulator's 400 fault the way it parses Intuit's", async () => {
    const error = await rejection(
      client.makeApiCall({ url: `${emu.apiBaseUrl}/v3/company/${emu.realmId}/customer/999` }),
    );
    expect(error.name).toBe('OAuthError');
    expect(error.message).toBe('Object Not Found');
    expect(error.faultType).toBe('ValidationFault');
    expect(error.fault).toMatchObject({
      type: 'ValidationFault',
      errors: [
        {
          message: 'Object Not Found',
          code: '610',
          detail: expect.stringMatching(/^Object Not Found : /) as unknown,
        },
      ],
    });
    expect((error.fault as { time: string }).time).toMatch(/-08:00$/);
    expect(error.intuitTid).toBeTruthy();
  });

  it('revoke ends the connection: the SDK clears its token and the refresh token is dead', async () => {
    const refreshToken = client.getToken().refresh_token;
    const accessToken = client.getToken().access_token;
    // With a valid access token the SDK revokes that one; Intuit then ends the whole authorization.
    const revoked = await client.revoke();
    expect(revoked.response).toMatchObject({ status: 200 });
    expect(client.getToken().refresh_token).toBe('');
    expect(emu.control.isRefreshTokenValid(refreshToken)).toBe(false);
    const after = await rejection(client.refreshUsingToken(refreshToken));
    expect(after.error).toBe('invalid_grant');
    client.setToken({ access_token: accessToken, expires_in: 3600 });
    const unauthorized = await rejection(
      client.makeApiCall({ url: `${emu.apiBaseUrl}/v3/company/${emu.realmId}/companyinfo/${emu.realmId}` }),
    );
    expect(unauthorized.code).toBe('401');
    // Revoking again: Intuit's 400 with an empty body, which the SDK can only report by its status
    const again = await rejection(client.revoke({ refresh_token: refreshToken }));
    expect(again.originalMessage).toBe('Request failed with status code 400');
  });
});
