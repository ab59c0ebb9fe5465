// Sealing a chain with QB_STORE_KEY, alone: it opens with the key and the connection it was sealed
// for, and nothing else; a failure to open is a key error, never corruption.
import { describe, expect, it } from 'vitest';
import { StoreKeyError } from './errors';
import { StoreCipher } from './store-crypto';
import type { StoredTokens } from './token-store';

const tokens: StoredTokens = {
  version: 1,
  refreshToken: 'RT-crypto-test-0000-aaaa',
  refreshTokenIssuedAt: 1,
  lastRotatedAt: null,
  refreshTokenExpiresAt: 2,
  refreshTokenHardExpiresAt: null,
  accessToken: 'AT-crypto-test-0000-bbbb',
  accessTokenExpiresAt: 3,
  refreshedAt: 1,
  realmId: '123',
  origin: { envRefreshTokenSha256: null },
};

describe('StoreCipher', () => {
  it('seals a chain that opens with the same key and connection id, with no token value in the sealed form', () => {
    const cipher = new StoreCipher('the-store-key-0123456789');
    const sealed = cipher.sealTokens(tokens, 'default');
    expect(JSON.stringify(sealed)).not.toContain('crypto-test');
    expect(new StoreCipher('the-store-key-0123456789').openTokens(sealed, 'default', 'the file')).toEqual(
      tokens,
    );
  });

  it('a fresh IV per seal, one key derivation per salt', () => {
    const cipher = new StoreCipher('the-store-key-0123456789');
    const a = cipher.sealTokens(tokens, 'default');
    const b = cipher.sealTokens(tokens, 'default');
    expect(a.salt).toBe(b.salt);
    expect(a.iv).not.toBe(b.iv);
    expect(a.data).not.toBe(b.data);
  });

  it.each([
    ['another key', 'another-store-key-0123', 'default'],
    ['another connection', 'the-store-key-0123456789', '9130350000000042'],
  ])('does not open with %s: StoreKeyError naming QB_STORE_KEY and where', (_label, key, id) => {
    const sealed = new StoreCipher('the-store-key-0123456789').sealTokens(tokens, 'default');
    const error = (() => {
      try {
        new StoreCipher(key).openTokens(sealed, id, '/data/connections/default.json');
        return null;
      } catch (err) {
        return err;
      }
    })();
    expect(error).toBeInstanceOf(StoreKeyError);
    expect((error as Error).message).toMatch(/\/data\/connections\/default\.json.*QB_STORE_KEY/);
  });

  it('a tampered ciphertext does not open', () => {
    const cipher = new StoreCipher('the-store-key-0123456789');
    const sealed = cipher.sealTokens(tokens, 'default');
    const data = Buffer.from(sealed.data, 'base64');
    data[0] ^= 1;
    expect(() => cipher.openTokens({ ...sealed, data: data.toString('base64') }, 'default', 'x')).toThrow(
      StoreKeyError,
    );
  });
});
