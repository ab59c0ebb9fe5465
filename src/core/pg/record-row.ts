// A connection record <-> its row in qb_token_desk.connections. The chain goes into `tokens` as the
// token envelope (encrypted with QB_STORE_KEY when set); profile and health are plain jsonb an
// operator can read. Reading is forgiving where it can be and strict where it must: a health or
// profile that no longer parses is reset with a warning (it holds no secret and no chain), but a chain
// that cannot be read leaves the row alone and says so, and one that cannot be decrypted is a
// StoreKeyError (the right key opens it).
import type { ConnectionHealth, ConnectionProfile, ConnectionRecord } from '../connection-record';
import { connectionHealthSchema, connectionProfileSchema, emptyHealth } from '../connection-record-schema';
import { StoreKeyError } from '../errors';
import { TokenEnvelopeCodec, UnreadableEnvelopeError } from '../token-envelope';
import type { StoredTokens } from '../token-store';
import { CONNECTIONS_TABLE } from './schema';

export const RECORD_VERSION = 2;

export interface ConnectionRow {
  id: string;
  revision: string | number;
  record_version: number;
  profile: unknown;
  tokens: unknown;
  health: unknown;
}

/** What a row decodes to. `unreadable`: its chain could not be read; the row must not be written over. */
export type DecodedRow =
  | { record: ConnectionRecord; warnings: string[]; unreadable: false; wasPlaintext: boolean }
  | { record: null; warnings: string[]; unreadable: true; revision: number };

export const SELECT_ROW = `SELECT id, revision, record_version, profile, tokens, health FROM ${CONNECTIONS_TABLE}`;

export class RecordRowCodec {
  constructor(
    private readonly codec: TokenEnvelopeCodec,
    /** `host:port/database`, for messages. */
    private readonly location: string,
  ) {}

  decode(row: ConnectionRow): DecodedRow {
    const revision = Number(row.revision);
    const where = `The record of connection "${row.id}" in PostgreSQL (${this.location}, table ${CONNECTIONS_TABLE})`;
    const unreadable = (why: string): DecodedRow => ({
      record: null,
      unreadable: true,
      revision,
      warnings: [
        `${where} could not be read (${why}). It is left as it is and nothing is written over it: restore the row, or delete it to start again from QB_REFRESH_TOKEN.`,
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
      try {
        ({ tokens, wasPlaintext } = this.codec.open(row.tokens));
      } catch (err) {
        if (!(err instanceof UnreadableEnvelopeError)) throw err;
        if (err.reason === 'key') {
          throw new StoreKeyError(
            `${where} could not be decrypted: ${err.message}. Set QB_STORE_KEY to the key it was written with; the record is left as it is and nothing is refreshed until then.`,
          );
        }
        return unreadable(`its tokens column is ${err.message}`);
      }
    }
    const warnings: string[] = [];
    const profile = connectionProfileSchema.safeParse(row.profile);
    const health = connectionHealthSchema.safeParse(row.health);
    if (!profile.success) warnings.push(`${where}: its profile could not be read and was reset.`);
    if (!health.success) {
      warnings.push(`${where}: its health (last refresh, history) could not be read and was reset.`);
    }
    const record: ConnectionRecord = {
      version: RECORD_VERSION,
      id: row.id,
      revision,
      profile: profile.success ? profile.data : defaultProfile(tokens),
      tokens,
      health: health.success ? (health.data as ConnectionHealth) : emptyHealth(),
    };
    return { record, warnings, unreadable: false, wasPlaintext };
  }

  /** The row's values, in the order of UPSERT_COLUMNS. */
  encode(record: ConnectionRecord, updatedBy: string): unknown[] {
    const tokens = record.tokens;
    const time = (ms: number | null | undefined) => (ms == null ? null : new Date(ms).toISOString());
    return [
      record.id,
      record.revision,
      RECORD_VERSION,
      JSON.stringify(record.profile),
      tokens === null ? null : JSON.stringify(this.codec.seal(tokens)),
      this.codec.encrypted,
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

function defaultProfile(tokens: StoredTokens | null): ConnectionProfile {
  return { name: 'QuickBooks', environment: 'sandbox', realmId: tokens?.realmId ?? null, companyName: null };
}
