// The layout of a connection's record file (`connections/<id>.json`): the record's health in the
// clear, its token chain plaintext or sealed with QB_STORE_KEY (store-crypto.ts). Decoding tells a
// file that is not a record (UnreadableRecord: the store moves it aside) from one a newer version
// wrote or a chain the key does not open (left exactly as they are).
import { z } from 'zod';
import type { ConnectionId } from '../shared/contract';
import { parseConnectionRecord, type ConnectionRecord } from './connection-record';
import { StoreError } from './errors';
import { missingKeyError, sealedSchema, type StoreCipher } from './store-crypto';
import { storedTokensSchema, type StoredTokens } from './token-store';

const FORMAT = 'qb-token-desk/connection-v2';

const tokensOnDiskSchema = z.union([
  z.object({ encrypted: z.literal(false), chain: z.unknown() }),
  sealedSchema.extend({ encrypted: z.literal(true) }),
]);

const fileSchema = z.object({
  format: z.literal(FORMAT),
  record: z.looseObject({}),
  tokens: tokensOnDiskSchema.nullable(),
});

/** The file is not a record this version can read: moved aside and explained. */
export class UnreadableRecord extends Error {}

/** JSON.parse, with text that is not JSON an UnreadableRecord. */
export function parseRecordJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new UnreadableRecord('not valid JSON');
  }
}

/** The file's JSON for a record: its chain sealed when a cipher is given. */
export function encodeRecordFile(record: ConnectionRecord, cipher: StoreCipher | null): object {
  const { tokens, ...rest } = record;
  let onDisk: object | null = null;
  if (tokens) {
    onDisk = cipher
      ? { encrypted: true, ...cipher.sealTokens(tokens, record.id) }
      : { encrypted: false, chain: tokens };
  }
  return { format: FORMAT, record: rest, tokens: onDisk };
}

/**
 * The record in a file's text, and whether its chain was plaintext. Throws UnreadableRecord for a
 * file that is not a record, StoreKeyError for a chain the key does not open, StoreError for a
 * layout another version of QB Token Desk wrote.
 */
export function decodeRecordFile(
  text: string,
  id: ConnectionId,
  path: string,
  cipher: StoreCipher | null,
): { record: ConnectionRecord; plaintext: boolean } {
  const json = parseRecordJson(text);
  const format = (json as { format?: unknown } | null)?.format;
  if (typeof format === 'string' && format !== FORMAT && format.startsWith('qb-token-desk/')) {
    // Someone else's to read: a newer version's layout is left exactly as it is.
    throw new StoreError(
      `${path} was written by another version of QB Token Desk (layout "${format}"); this version reads "${FORMAT}". Nothing was changed.`,
    );
  }
  const file = fileSchema.safeParse(json);
  if (!file.success) throw new UnreadableRecord('not a connection record file');
  let tokens: StoredTokens | null = null;
  const onDisk = file.data.tokens;
  if (onDisk?.encrypted === true) {
    if (!cipher) throw missingKeyError(path);
    try {
      tokens = cipher.openTokens(onDisk, id, path);
    } catch (err) {
      if (err instanceof z.ZodError || err instanceof SyntaxError)
        throw new UnreadableRecord('its token chain is incomplete');
      throw err;
    }
  } else if (onDisk) {
    const chain = storedTokensSchema.safeParse(onDisk.chain);
    if (!chain.success) throw new UnreadableRecord('its token chain is incomplete');
    tokens = chain.data as StoredTokens;
  }
  let record: ConnectionRecord;
  try {
    record = parseConnectionRecord({ ...file.data.record, tokens });
  } catch {
    throw new UnreadableRecord('its record is incomplete');
  }
  if (record.id !== id) throw new UnreadableRecord(`it holds the record of connection "${record.id}"`);
  return { record, plaintext: onDisk?.encrypted === false };
}
