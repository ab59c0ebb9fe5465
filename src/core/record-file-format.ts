// The layout of a connection's record file (`connections/<id>.json`): the record's health in the
// clear, its token chain in the stores' envelope (token-envelope.ts: plaintext or sealed with
// QB_STORE_KEY). Decoding tells a file that is not a record (UnreadableRecord: the store moves it
// aside) from one a newer version wrote or a chain the key does not open (left exactly as they are).
import { z } from 'zod';
import type { ConnectionId } from '../shared/contract';
import { parseConnectionRecord, type ConnectionRecord } from './connection-record';
import { StoreError } from './errors';
import type { StoreCipher } from './store-crypto';
import { openTokenEnvelope, sealTokenEnvelope, tokenEnvelopeSchema } from './token-envelope';

const FORMAT = 'qb-token-desk/connection-v2';

const fileSchema = z.object({
  format: z.literal(FORMAT),
  record: z.looseObject({}),
  tokens: tokenEnvelopeSchema.nullable(),
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
  return {
    format: FORMAT,
    record: rest,
    tokens: tokens ? sealTokenEnvelope(tokens, record.id, cipher) : null,
  };
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
  const onDisk = file.data.tokens;
  const opened = onDisk ? openTokenEnvelope(onDisk, id, path, cipher) : null;
  if (opened && 'incomplete' in opened) throw new UnreadableRecord('its token chain is incomplete');
  let record: ConnectionRecord;
  try {
    record = parseConnectionRecord({ ...file.data.record, tokens: opened?.tokens ?? null });
  } catch {
    throw new UnreadableRecord('its record is incomplete');
  }
  if (record.id !== id) throw new UnreadableRecord(`it holds the record of connection "${record.id}"`);
  return { record, plaintext: opened?.plaintext ?? false };
}
