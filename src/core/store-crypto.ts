// Token values at rest under QB_STORE_KEY: AES-256-GCM with a key derived by scrypt, a fresh IV per
// write, the connection id bound in as additional data (a sealed chain copied into another
// connection's record does not open). Only the token chain is sealed: a connection's health stays
// readable, so status can explain a wrong key instead of showing nothing. Shared by the file store,
// the desktop store's fallback and the PostgreSQL store's token column.
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { z } from 'zod';
import type { ConnectionId } from '../shared/contract';
import { StoreKeyError } from './errors';
import { storedTokensSchema, type StoredTokens } from './token-store';

export const sealedSchema = z.object({
  cipher: z.literal('aes-256-gcm'),
  kdf: z.literal('scrypt'),
  salt: z.string().min(1),
  iv: z.string().min(1),
  tag: z.string().min(1),
  data: z.string(),
});

export type Sealed = z.infer<typeof sealedSchema>;

const TOKENS_AAD = 'qb-token-desk/tokens-v2';

/** Seals and opens values with one QB_STORE_KEY. Keep one per store: scrypt runs once per salt. */
export class StoreCipher {
  private readonly keys = new Map<string, Buffer>();
  /**
   * One salt (so one scrypt derivation) per store instance, a fresh IV per write: deriving a key on
   * every save would put ~100 ms of scrypt between Intuit's answer and the durable write.
   */
  private writeSalt: Buffer | null = null;

  constructor(private readonly storeKey: string) {}

  sealTokens(tokens: StoredTokens, connectionId: ConnectionId): Sealed {
    return this.seal(JSON.stringify(tokens), tokensAad(connectionId));
  }

  /** Throws StoreKeyError when the key does not open it; a ZodError when what it holds is not a chain. */
  openTokens(sealed: Sealed, connectionId: ConnectionId, where: string): StoredTokens {
    const plain = this.open(sealed, tokensAad(connectionId), where);
    return storedTokensSchema.parse(JSON.parse(plain)) as StoredTokens;
  }

  seal(plain: string, aad: string): Sealed {
    this.writeSalt ??= randomBytes(16);
    const salt = this.writeSalt;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key(salt), iv);
    cipher.setAAD(Buffer.from(aad));
    const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return {
      cipher: 'aes-256-gcm',
      kdf: 'scrypt',
      salt: salt.toString('base64'),
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      data: data.toString('base64'),
    };
  }

  open(sealed: Sealed, aad: string, where: string): string {
    const salt = Buffer.from(sealed.salt, 'base64');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key(salt), Buffer.from(sealed.iv, 'base64'));
      decipher.setAAD(Buffer.from(aad));
      decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
      const plain = Buffer.concat([decipher.update(Buffer.from(sealed.data, 'base64')), decipher.final()]);
      // Writes reuse the salt the store was written with: the key is derived once.
      this.writeSalt ??= salt;
      return plain.toString('utf8');
    } catch {
      throw wrongKeyError(where);
    }
  }

  private key(salt: Buffer): Buffer {
    const id = salt.toString('hex');
    let key = this.keys.get(id);
    if (!key) {
      key = scryptSync(this.storeKey, salt, 32);
      this.keys.set(id, key);
    }
    return key;
  }
}

function tokensAad(connectionId: ConnectionId): string {
  return `${TOKENS_AAD}\0${connectionId}`;
}

function wrongKeyError(where: string): StoreKeyError {
  return new StoreKeyError(
    `The tokens in ${where} could not be decrypted with this QB_STORE_KEY (a different key than they were written with, or a damaged file). Set QB_STORE_KEY to the key they were written with; the store was left as it is and nothing was refreshed.`,
  );
}

export function missingKeyError(where: string): StoreKeyError {
  return new StoreKeyError(
    `The tokens in ${where} are encrypted and QB_STORE_KEY is not set. Set QB_STORE_KEY to the key they were written with; the store was left as it is and nothing was refreshed.`,
  );
}
