// The PostgreSQL store's schema, created and migrated on open. Versioned (qb_token_desk.migrations
// records each step), idempotent (a step already applied is skipped), and safe when several instances
// start at once: the whole migration runs in one transaction holding a transaction-level advisory
// lock, so the second instance waits, then finds the work done. DDL is transactional in PostgreSQL: a
// step that fails leaves nothing half-made.
//
// Operators read the health of every connection without any token value in
// `SELECT * FROM qb_token_desk.connection_health`; the token chain itself is the `tokens` column, the
// token envelope (store-crypto.ts), encrypted with QB_STORE_KEY when it is set.
import type pg from 'pg';
import { StoreConfigError } from '../errors';

export const SCHEMA = 'qb_token_desk';
export const CONNECTIONS_TABLE = `${SCHEMA}.connections`;
export const REFRESH_NOTES_TABLE = `${SCHEMA}.refresh_notes`;
/** Connections removed, and at which revision: a rescue file older than the removal does not bring one back. */
export const REMOVED_TABLE = `${SCHEMA}.removed_connections`;
/** LISTEN/NOTIFY channel: payload `{"id":…,"revision":…,"by":…}`, never a token value. */
export const CHANGES_CHANNEL = 'qb_token_desk_changes';
/** Advisory lock key held while migrating (transaction-scoped); connection locks use other keys. */
const MIGRATION_LOCK_KEY = '7172626464000001';

interface Migration {
  version: number;
  description: string;
  sql: string;
}

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'connections (one row per connection), refresh notes, the health view',
    sql: `
      CREATE TABLE ${CONNECTIONS_TABLE} (
        id text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 200),
        revision bigint NOT NULL CHECK (revision >= 1),
        record_version integer NOT NULL,
        profile jsonb NOT NULL,
        -- The token chain as a token envelope; encrypted with QB_STORE_KEY when set. Null: no chain.
        tokens jsonb,
        encrypted boolean NOT NULL,
        -- Copied from the chain for operators; the envelope is the truth.
        access_token_expires_at timestamptz,
        refresh_token_expires_at timestamptz,
        health jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        updated_by text NOT NULL
      );
      COMMENT ON TABLE ${CONNECTIONS_TABLE} IS
        'QB Token Desk: one QuickBooks connection per row (its token chain and shared health). Written only under the connection''s advisory lock.';
      CREATE TABLE ${REFRESH_NOTES_TABLE} (
        id text PRIMARY KEY,
        started_at timestamptz NOT NULL,
        refresh_token_sha256 text NOT NULL,
        updated_by text NOT NULL
      );
      COMMENT ON TABLE ${REFRESH_NOTES_TABLE} IS
        'QB Token Desk: a refresh in flight (a hash of the refresh token sent, never a value); left behind by a process stopped mid-refresh.';
      CREATE VIEW ${SCHEMA}.connection_health AS
        SELECT id, revision, updated_at, updated_by, encrypted,
               access_token_expires_at, refresh_token_expires_at,
               profile,
               health -> 'lastRefresh' AS last_refresh,
               health -> 'rejection' AS rejection,
               health -> 'consecutiveFailures' AS consecutive_failures,
               health -> 'stats' AS stats,
               health -> 'history' AS history
          FROM ${CONNECTIONS_TABLE};
    `,
  },
  {
    version: 2,
    description: 'removed connections (a rescued chain older than the removal does not bring one back)',
    sql: `
      CREATE TABLE ${REMOVED_TABLE} (
        id text PRIMARY KEY,
        -- The removed row's revision + 1: a rescued record at or below it predates the removal.
        revision bigint NOT NULL,
        removed_at timestamptz NOT NULL DEFAULT now(),
        removed_by text NOT NULL
      );
      COMMENT ON TABLE ${REMOVED_TABLE} IS
        'QB Token Desk: connections removed (no token value), so a rescue file written before the removal does not bring one back.';
    `,
  },
];

const SCHEMA_VERSION = MIGRATIONS.at(-1)?.version ?? 0;

/** Creates or upgrades the schema; returns the versions it applied (none when up to date). */
export async function migrate(client: pg.ClientBase): Promise<number[]> {
  const applied: number[] = [];
  await client.query('BEGIN');
  try {
    await client.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${SCHEMA}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${SCHEMA}.migrations (
         version integer PRIMARY KEY,
         description text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const { rows } = await client.query<{ version: number | null }>(
      `SELECT max(version) AS version FROM ${SCHEMA}.migrations`,
    );
    const current = rows[0]?.version ?? 0;
    if (current > SCHEMA_VERSION) {
      throw new StoreConfigError(
        `The PostgreSQL store's schema is at version ${current}, newer than this version of QB Token Desk knows (${SCHEMA_VERSION}): upgrade it, or point QB_STORE_URL at another database.`,
      );
    }
    for (const migration of MIGRATIONS) {
      if (migration.version <= current) continue;
      await client.query(migration.sql);
      await client.query(`INSERT INTO ${SCHEMA}.migrations (version, description) VALUES ($1, $2)`, [
        migration.version,
        migration.description,
      ]);
      applied.push(migration.version);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  return applied;
}
