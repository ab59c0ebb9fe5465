// The baseline: Intuit's official Node SDK (intuit-oauth), used the way its README shows. It can be
// pointed at the emulator without patching: `setAuthorizeURLs()` overrides the token, revoke and
// authorize endpoints (they are static properties of the class), and makeApiCall() accepts an
// absolute URL, so the emulator's http://127.0.0.1 base works as is.
import OAuthClient from 'intuit-oauth';
import type { EmulatorHandle } from '../src/emulator/types';

export { OAuthClient };

export function intuitClientFor(emulator: EmulatorHandle): OAuthClient {
  const client = new OAuthClient({
    clientId: emulator.clientId,
    clientSecret: emulator.clientSecret,
    environment: 'sandbox',
    redirectUri: `${emulator.url}/callback`,
  });
  client.setAuthorizeURLs({
    authorizeEndpoint: emulator.authorizeUrl,
    tokenEndpoint: emulator.tokenUrl,
    revokeEndpoint: emulator.revokeUrl,
    userInfoEndpoint: `${emulator.url}/userinfo`,
  });
  // Relative makeApiCall URLs resolve against this base (a static property, like the endpoints).
  OAuthClient.environment.sandbox = `${emulator.apiBaseUrl}/`;
  client.setToken({
    token_type: 'bearer',
    access_token: '',
    refresh_token: emulator.refreshToken,
    expires_in: 0,
    x_refresh_token_expires_in: 8_726_400,
    realmId: emulator.realmId,
  });
  return client;
}

/** Makes the SDK's token look expired, as it would be an hour after its last refresh. */
export function ageToken(client: OAuthClient, seconds: number): void {
  const token = client.getToken();
  token.createdAt -= seconds * 1000;
}
