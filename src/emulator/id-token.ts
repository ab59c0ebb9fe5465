// OpenID id_token for the `openid` scope: RS256-signed with a key made on first use, its public
// half served at the discovery document's jwks_uri (the emulator's /op/v1/jwks). The issuer is
// Intuit's, as clients check it; only the keys are the emulator's.
import { type KeyObject, createHash, generateKeyPair, randomUUID, sign } from 'node:crypto';
import { promisify } from 'node:util';

const generateRsa = promisify(generateKeyPair);

/** Intuit's OpenID issuer: the id_token's `iss` and the discovery `issuer` (intuit-oauth compares it in code). */
export const INTUIT_ISSUER = 'https://oauth.platform.intuit.com/op/v1';

interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  kid: string;
}

function b64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

export class IdTokenSigner {
  // Made on first use, off the event loop: RSA key generation costs real CPU and most runs never need it.
  private key: Promise<SigningKey> | null = null;

  private ensureKey(): Promise<SigningKey> {
    this.key ??= generateRsa('rsa', { modulusLength: 2048 }).then(({ privateKey, publicKey }) => {
      const der = publicKey.export({ type: 'spki', format: 'der' });
      return { privateKey, publicKey, kid: createHash('sha256').update(der).digest('hex').slice(0, 16) };
    });
    return this.key;
  }

  async jwks(): Promise<{ keys: Record<string, unknown>[] }> {
    const { publicKey, kid } = await this.ensureKey();
    return { keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' }] };
  }

  async sign(claims: { clientId: string; realmId: string; nowMs: number; nonce?: string }): Promise<string> {
    const { privateKey, kid } = await this.ensureKey();
    const iat = Math.floor(claims.nowMs / 1000);
    const header = { alg: 'RS256', kid };
    const payload: Record<string, unknown> = {
      sub: randomUUID(),
      aud: [claims.clientId],
      realmid: claims.realmId,
      auth_time: iat,
      iss: INTUIT_ISSUER,
      exp: iat + 3600,
      iat,
    };
    if (claims.nonce) payload.nonce = claims.nonce;
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
    return `${input}.${b64url(sign('sha256', Buffer.from(input), privateKey))}`;
  }
}
