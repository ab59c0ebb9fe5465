// A connection record <-> its row in qb_token_desk.connections. The chain goes into `tokens` in the
// file store's envelope (token-envelope.ts: sealed with QB_STORE_KEY, else plaintext); profile and health are plain jsonb an operator can read. Reading
// is forgiving where it can be and strict where it must: a health or profile that no longer parses is
// reset with a warning (it holds no secret and no chain), a chain that cannot be read leaves the row
// alone and says so, and one the key does not open is a StoreKeyError (the right key opens it).
import type { QbEnvironment } from '../../shared/contract';
import {
  checkRecordForSave,
  connectionHealthSchema,
  connectionProfileSchema,
  defaultProfile,
  emptyHealth,
  type ConnectionHealth,
  type ConnectionProfile,
  type ConnectionRecord,
} from '../connection-record';
import type { StoreCipher } from '../store-crypto';
import { openTokenEnvelope, sealTokenEnvelope, tokenEnvelopeSchema } from '../token-envelope';
import type { StoredTokens } from '../token-store';
import { CONNECTIONS_TABLE } from './schema';

const RECORD_VERSION = 2;

export interface ConnectionRow {
  id: string;
  revision: string | number;
  record_version: number;
  profile: unknown;
  tokens: unknown;
  health: unknown;
}

/** What a row decodes to. `unreadable`: its chain could not be read; the row must not be written over. */
type DecodedRow =
  | { record: ConnectionRecord; warnings: string[]; unreadable: false; wasPlaintext: boolean }
  | { record: null; warnings: string[]; unreadable: true };

export const SELECT_ROW = `SELECT id, revision, record_version, profile, tokens, health FROM ${CONNECTIONS_TABLE}`;

export class RecordRowCodec {
  constructor(
    /** Null without QB_STORE_KEY: chains are written in plaintext. */
    private readonly cipher: StoreCipher | null,
    /** `host:port/database`, for messages. */
    private readonly location: string,
    /** For a profile that had to be reset. */
    private readonly environment: QbEnvironment,
  ) {}

  decode(row: ConnectionRow): DecodedRow {
    const where = `the record of connection "${row.id}" in PostgreSQL (${this.location}, table ${CONNECTIONS_TABLE})`;
    const unreadable = (why: string): DecodedRow => ({
      record: null,
      unreadable: true,
      warnings: [
        `${capitalize(where)} could not be read (${why}). It is left as it is and nothing is written over it: restore the row, or delete it to start again from QB_REFRESH_TOKEN.`,
      ],
    });
    if (row.record_version !== RECORD_VERSION) {
      return unreadable(
        row.record_version > RECORD_VERSION
          ? `it was written by a newer version of QB Token Desk (record version ${row.record_version})`
          : `unknown record version ${row.record_version}`,
      );
    }
    let tokens: StoredTokens | null = null;
    let wasPlaintext = false;
    if (row.tokens !== null) {
      const column = tokenEnvelopeSchema.safeParse(row.tokens);
      if (!column.success) return unreadable('its tokens column is not a token chain of this version');
      const opened = openTokenEnvelope(column.data, row.id, where, this.cipher);
      if ('incomplete' in opened) {
        return unreadable(
          opened.incomplete === 'sealed'
            ? 'its decrypted tokens are not a complete token chain'
            : 'its tokens column holds an incomplete token chain',
        );
      }
      tokens = opened.tokens;
      wasPlaintext = opened.plaintext;
    }
    const warnings: string[] = [];
    const profile = connectionProfileSchema.safeParse(row.profile);
    const health = connectionHealthSchema.safeParse(row.health);
    if (!profile.success) warnings.push(`${capitalize(where)}: its profile could not be read and was reset.`);
    if (!health.success) {
      warnings.push(
        `${capitalize(where)}: its health (last refresh, history) could not be read and was reset.`,
      );
    }
    const record: ConnectionRecord = {
      version: RECORD_VERSION,
      id: row.id,
      revision: Number(row.revision),
      profile: profile.success
        ? (profile.data as ConnectionProfile)
        : defaultProfile(this.environment, tokens?.realmId ?? null),
      tokens,
      health: health.success ? (health.data as ConnectionHealth) : emptyHealth(),
    };
    return { record, warnings, unreadable: false, wasPlaintext };
  }

  /** The tokens column for a chain. */
  tokensColumn(record: ConnectionRecord): string | null {
    const tokens = record.tokens;
    if (tokens === null) return null;
    return JSON.stringify(sealTokenEnvelope(tokens, record.id, this.cipher));
  }

  /** The row's values, in the order of UPSERT_COLUMNS. */
  encode(record: ConnectionRecord, updatedBy: string): unknown[] {
    checkRecordForSave(record);
    const tokens = record.tokens;
    const time = (ms: number | null | undefined) => (ms == null ? null : new Date(ms).toISOString());
    return [
      record.id,
      record.revision,
      RECORD_VERSION,
      JSON.stringify(record.profile),
      this.tokensColumn(record),
      this.cipher !== null,
      time(tokens?.accessTokenExpiresAt),
      time(tokens?.refreshTokenExpiresAt),
      JSON.stringify(record.health),
      updatedBy,
    ];
  }
}

export const UPSERT_COLUMNS = [
  'id',
  'revision',
  'record_version',
  'profile',
  'tokens',
  'encrypted',
  'access_token_expires_at',
  'refresh_token_expires_at',
  'health',
  'updated_by',
] as const;

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
