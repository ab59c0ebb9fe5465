// The token envelope both the file store and the PostgreSQL store keep a chain in: what it opens to,
// and which failures are a key problem (thrown, so the store is left alone) and which an envelope
// that holds no complete chain (returned, so each store can say so in its own words).
import { describe, expect, it } from 'vitest';
import { StoreKeyError } from './errors';
import { StoreCipher } from './store-crypto';
import { fixtureTokens } from './testing/stored-chain';
import { openTokenEnvelope, sealTokenEnvelope, tokenEnvelopeSchema } from './token-envelope';

const KEY = 'the-envelope-key-0123456789';
const tokens = fixtureTokens('RT-envelope-test-0000-aaaa');

describe('token envelope', () => {
  it('is plaintext without a cipher and opens to the same chain', () => {
    const envelope = sealTokenEnvelope(tokens, 'alpha', null);
    expect(envelope).toEqual({ encrypted: false, chain: tokens });
    const parsed = tokenEnvelopeSchema.parse(JSON.parse(JSON.stringify(envelope)));
    expect(openTokenEnvelope(parsed, 'alpha', 'the file', null)).toEqual({ tokens, plaintext: true });
  });

  it('is sealed with a cipher: no token value in it, and it opens with the key for the same connection', () => {
    const envelope = sealTokenEnvelope(tokens, 'alpha', new StoreCipher(KEY));
    expect(envelope.encrypted).toBe(true);
    expect(JSON.stringify(envelope)).not.toContain('envelope-test');
    const parsed = tokenEnvelopeSchema.parse(JSON.parse(JSON.stringify(envelope)));
    expect(openTokenEnvelope(parsed, 'alpha', 'the file', new StoreCipher(KEY))).toEqual({
      tokens,
      plaintext: false,
    });
  });

  it('a sealed chain without a key, with another key or for another connection is a StoreKeyError naming where it is', () => {
    const envelope = sealTokenEnvelope(tokens, 'alpha', new StoreCipher(KEY));
    expect(() => openTokenEnvelope(envelope, 'alpha', 'the file', null)).toThrow(
      new StoreKeyError(
        'The tokens in the file are encrypted and QB_STORE_KEY is not set. Set QB_STORE_KEY to the key they were written with; the store was left as it is and nothing was refreshed.',
      ),
    );
    expect(() =>
      openTokenEnvelope(envelope, 'alpha', 'the file', new StoreCipher('another-key-0123456789')),
    ).toThrow(/^The tokens in the file could not be decrypted with this QB_STORE_KEY/);
    expect(() => openTokenEnvelope(envelope, 'beta', 'the file', new StoreCipher(KEY))).toThrow(
      StoreKeyError,
    );
  });

  it('says which kind of envelope held no complete chain', () => {
    const { refreshToken: _dropped, ...partial } = tokens;
    expect(openTokenEnvelope({ encrypted: false, chain: partial }, 'alpha', 'the file', null)).toEqual({
      incomplete: 'plaintext',
    });
    const cipher = new StoreCipher(KEY);
    const notAChain = {
      encrypted: true as const,
      ...cipher.seal('{"version":1}', 'qb-token-desk/tokens-v2\0alpha'),
    };
    expect(openTokenEnvelope(notAChain, 'alpha', 'the file', cipher)).toEqual({ incomplete: 'sealed' });
    const notJson = {
      encrypted: true as const,
      ...cipher.seal('not json', 'qb-token-desk/tokens-v2\0alpha'),
    };
    expect(openTokenEnvelope(notJson, 'alpha', 'the file', cipher)).toEqual({ incomplete: 'sealed' });
  });
});
