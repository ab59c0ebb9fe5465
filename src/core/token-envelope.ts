// The at-rest format of a token chain, shared by every store that keeps one (the file store's JSON
// file, the PostgreSQL store's tokens column): an envelope that is either plaintext or AES-256-GCM
// with a key derived by scrypt from QB_STORE_KEY. One format, so a chain can move between stores and
// an operator learns one thing.
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { z } from 'zod';
import { storedTokensSchema, type StoredTokens } from './token-store';

export const TOKEN_ENVELOPE_FORMAT = 'qb-token-desk/tokens-v1';

const envelopeSchema = z.discriminatedUnion('encrypted', [
  z.object({ format: z.literal(TOKEN_ENVELOPE_FORMAT), encrypted: z.literal(false), tokens: z.unknown() }),
  z.object({
    format: z.literal(TOKEN_ENVELOPE_FORMAT),
    encrypted: z.literal(true),
    cipher: z.literal('aes-256-gcm'),
    kdf: z.literal('scrypt'),
    salt: z.string(),
    iv: z.string(),
    tag: z.string(),
    data: z.string(),
  }),
]);

export type TokenEnvelope = z.infer<typeof envelopeSchema>;

/**
 * Why an envelope could not be opened. `key`: it is encrypted and QB_STORE_KEY is missing or not the
 * one it was sealed with (not corruption: the right key opens it). `corrupt`: it is not an envelope of
 * this version, or what it holds is not a complete token record.
 */
export class UnreadableEnvelopeError extends Error {
  override name = 'UnreadableEnvelopeError';
  constructor(
    readonly reason: 'key' | 'corrupt',
    message: string,
  ) {
    super(message);
  }
}

export class TokenEnvelopeCodec {
  private readonly keys = new Map<string, Buffer>();
  private writeSalt: Buffer | null = null;

  /** `storeKey`: QB_STORE_KEY; null seals in plaintext. */
  constructor(private readonly storeKey: string | null) {}

  get encrypted(): boolean {
    return this.storeKey !== null;
  }

  seal(tokens: StoredTokens): TokenEnvelope {
    storedTokensSchema.parse(tokens);
    if (!this.storeKey) return { format: TOKEN_ENVELOPE_FORMAT, encrypted: false, tokens };
    // One salt (so one scrypt derivation) per codec, a fresh IV per seal: deriving a key on every save
    // would put ~100 ms of scrypt between Intuit's answer and the durable write.
    this.writeSalt ??= randomBytes(16);
    const salt = this.writeSalt;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key(salt), iv);
    cipher.setAAD(Buffer.from(TOKEN_ENVELOPE_FORMAT));
    const data = Buffer.concat([cipher.update(JSON.stringify(tokens), 'utf8'), cipher.final()]);
    return {
      format: TOKEN_ENVELOPE_FORMAT,
      encrypted: true,
      cipher: 'aes-256-gcm',
      kdf: 'scrypt',
      salt: salt.toString('base64'),
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      data: data.toString('base64'),
    };
  }

  /** Opens an envelope (already parsed from JSON). Throws UnreadableEnvelopeError. */
  open(json: unknown): { tokens: StoredTokens; wasPlaintext: boolean } {
    const envelope = envelopeSchema.safeParse(json);
    if (!envelope.success) throw new UnreadableEnvelopeError('corrupt', 'not a token record of this version');
    let inner: unknown;
    if (envelope.data.encrypted) {
      if (!this.storeKey) {
        throw new UnreadableEnvelopeError('key', 'it is encrypted and QB_STORE_KEY is not set');
      }
      const e = envelope.data;
      let plain: Buffer;
      try {
        const salt = Buffer.from(e.salt, 'base64');
        const decipher = createDecipheriv('aes-256-gcm', this.key(salt), Buffer.from(e.iv, 'base64'));
        decipher.setAAD(Buffer.from(TOKEN_ENVELOPE_FORMAT));
        decipher.setAuthTag(Buffer.from(e.tag, 'base64'));
        plain = Buffer.concat([decipher.update(Buffer.from(e.data, 'base64')), decipher.final()]);
        // Reuse the record's salt: the key derived for reading serves the next write too.
        this.writeSalt ??= salt;
      } catch {
        throw new UnreadableEnvelopeError('key', 'it could not be decrypted with QB_STORE_KEY');
      }
      try {
        inner = JSON.parse(plain.toString('utf8'));
      } catch {
        throw new UnreadableEnvelopeError('corrupt', 'its decrypted content is not valid JSON');
      }
    } else {
      inner = envelope.data.tokens;
    }
    const tokens = storedTokensSchema.safeParse(inner);
    if (!tokens.success) throw new UnreadableEnvelopeError('corrupt', 'its token record is incomplete');
    return { tokens: tokens.data as StoredTokens, wasPlaintext: !envelope.data.encrypted };
  }

  private key(salt: Buffer): Buffer {
    const id = salt.toString('hex');
    let key = this.keys.get(id);
    if (!key) {
      key = scryptSync(this.storeKey ?? '', salt, 32);
      this.keys.set(id, key);
    }
    return key;
  }
}
