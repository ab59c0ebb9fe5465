// OpenID id_token for the `openid` scope: RS256-signed with a key made on first use, its public
// half served at the discovery document's jwks_uri.
import { type KeyObject, createHash, generateKeyPairSync, randomUUID, sign } from 'node:crypto';

function b64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

export class IdTokenSigner {
  private key: { privateKey: KeyObject; publicKey: KeyObject; kid: string } | null = null;

  private ensureKey(): { privateKey: KeyObject; publicKey: KeyObject; kid: string } {
    if (!this.key) {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const der = publicKey.export({ type: 'spki', format: 'der' });
      this.key = { privateKey, publicKey, kid: createHash('sha256').update(der).digest('hex').slice(0, 16) };
    }
    return this.key;
  }

  jwks(): { keys: Record<string, unknown>[] } {
    const { publicKey, kid } = this.ensureKey();
    return { keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' }] };
  }

  sign(claims: { issuer: string; clientId: string; realmId: string; nowMs: number; nonce?: string }): string {
    const { privateKey, kid } = this.ensureKey();
    const iat = Math.floor(claims.nowMs / 1000);
    const header = { alg: 'RS256', kid };
    const payload: Record<string, unknown> = {
      sub: randomUUID(),
      aud: [claims.clientId],
      realmid: claims.realmId,
      auth_time: iat,
      iss: claims.issuer,
      exp: iat + 3600,
      iat,
    };
    if (claims.nonce) payload.nonce = claims.nonce;
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
    return `${input}.${b64url(sign('sha256', Buffer.from(input), privateKey))}`;
  }
}
