// A connection's token chain as the file store and the PostgreSQL store keep it at rest:
// `{"encrypted":true, …sealed}` with QB_STORE_KEY (store-crypto.ts), else `{"encrypted":false,"chain":…}`.
// One definition, so a record moved between the two (the PostgreSQL store's rescue files are record
// files) reads the same in both. What a chain that cannot be read means (a file moved aside, a row
// left alone) is each store's to decide and word: opening says only which kind it was.
import { z } from 'zod';
import type { ConnectionId } from '../shared/contract';
import { missingKeyError, sealedSchema, type Sealed, type StoreCipher } from './store-crypto';
import { storedTokensSchema, type StoredTokens } from './token-store';

export const tokenEnvelopeSchema = z.discriminatedUnion('encrypted', [
  z.object({ encrypted: z.literal(false), chain: z.unknown() }),
  sealedSchema.extend({ encrypted: z.literal(true) }),
]);

type TokenEnvelope = z.infer<typeof tokenEnvelopeSchema>;

/** The envelope for a chain: sealed when there is a cipher (QB_STORE_KEY), else plaintext. */
export function sealTokenEnvelope(
  tokens: StoredTokens,
  connectionId: ConnectionId,
  cipher: StoreCipher | null,
): TokenEnvelope {
  return cipher
    ? { encrypted: true, ...cipher.sealTokens(tokens, connectionId) }
    : { encrypted: false, chain: tokens };
}

/**
 * The chain an envelope holds, and whether it was plaintext; or which kind of envelope held no
 * complete chain (`sealed`: the key opened it, but what it held is not a chain). Throws
 * StoreKeyError when a sealed chain has no key or the wrong one: the right key opens it, so the
 * caller must leave it as it is.
 */
export function openTokenEnvelope(
  envelope: TokenEnvelope,
  connectionId: ConnectionId,
  where: string,
  cipher: StoreCipher | null,
): { tokens: StoredTokens; plaintext: boolean } | { incomplete: 'sealed' | 'plaintext' } {
  if (envelope.encrypted) {
    const tokens = openSealedChain(envelope, connectionId, where, cipher);
    return tokens ? { tokens, plaintext: false } : { incomplete: 'sealed' };
  }
  const chain = storedTokensSchema.safeParse(envelope.chain);
  return chain.success
    ? { tokens: chain.data as StoredTokens, plaintext: true }
    : { incomplete: 'plaintext' };
}

/**
 * A chain sealed with QB_STORE_KEY (also the desktop store's fallback when the OS cannot encrypt);
 * null when the key opens it but it holds no complete chain. Throws StoreKeyError without a key or
 * with the wrong one.
 */
export function openSealedChain(
  sealed: Sealed,
  connectionId: ConnectionId,
  where: string,
  cipher: StoreCipher | null,
): StoredTokens | null {
  if (!cipher) throw missingKeyError(where);
  try {
    return cipher.openTokens(sealed, connectionId, where);
  } catch (err) {
    if (err instanceof z.ZodError || err instanceof SyntaxError) return null;
    throw err;
  }
}
