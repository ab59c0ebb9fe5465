import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileTokenStore, STORE_FILE_NAME } from './file-token-store';
import { TokenEnvelopeCodec, UnreadableEnvelopeError } from './token-envelope';
import type { StoredTokens } from './token-store';

const tokens: StoredTokens = {
  version: 1,
  refreshToken: 'RT-envelope-secret-0001',
  refreshTokenIssuedAt: 1_700_000_000_000,
  lastRotatedAt: null,
  refreshTokenExpiresAt: null,
  refreshTokenHardExpiresAt: null,
  accessToken: 'AT-envelope-secret-0002',
  accessTokenExpiresAt: 1_700_000_360_000,
  refreshedAt: 1_700_000_000_000,
  realmId: '123',
  origin: { envRefreshTokenSha256: null },
};

function openError(codec: TokenEnvelopeCodec, json: unknown): UnreadableEnvelopeError {
  try {
    codec.open(json);
  } catch (err) {
    if (err instanceof UnreadableEnvelopeError) return err;
    throw err;
  }
  throw new Error('expected the envelope to be refused');
}

describe('TokenEnvelopeCodec', () => {
  it('seals with QB_STORE_KEY so no token value is readable, and opens it again', () => {
    const codec = new TokenEnvelopeCodec('a passphrase of 16+ chars');
    const sealed = JSON.stringify(codec.seal(tokens));
    expect(sealed).not.toContain('envelope-secret');
    expect(new TokenEnvelopeCodec('a passphrase of 16+ chars').open(JSON.parse(sealed))).toEqual({
      tokens,
      wasPlaintext: false,
    });
  });

  it('tells a key problem (wrong or missing QB_STORE_KEY) from corruption', () => {
    const sealed = new TokenEnvelopeCodec('the right passphrase').seal(tokens);
    expect(openError(new TokenEnvelopeCodec('the wrong passphrase'), sealed).reason).toBe('key');
    expect(openError(new TokenEnvelopeCodec(null), sealed).message).toMatch(/QB_STORE_KEY is not set/);
    expect(openError(new TokenEnvelopeCodec(null), { hello: 'world' }).reason).toBe('corrupt');
    const plain = new TokenEnvelopeCodec(null).seal(tokens);
    expect(openError(new TokenEnvelopeCodec(null), { ...plain, tokens: { version: 1 } }).reason).toBe(
      'corrupt',
    );
  });

  it("reads the file store's file as it is: one format for every store", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'qbtd-envelope-'));
    try {
      await new FileTokenStore({ dataDir, storeKey: 'shared key for both stores' }).save(tokens);
      const file = JSON.parse(await readFile(join(dataDir, STORE_FILE_NAME), 'utf8')) as unknown;
      expect(new TokenEnvelopeCodec('shared key for both stores').open(file).tokens).toEqual(tokens);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
