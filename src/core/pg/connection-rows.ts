// Reads and writes of the connections' rows, on the lock's session while this instance holds the
// connection's lock (lock-sessions.ts run()). Every write is conditional on the revision read under
// the lock (record-writes.ts), so a row changed by someone else, one that could not be read, or one
// removed since is never written over: such a write reports that it did not land, and the store
// throws notWrittenOver()'s error. A plaintext chain read while QB_STORE_KEY is set is encrypted in
// place at once.
import type { ConnectionId } from '../../shared/contract';
import type { ConnectionRecord } from '../connection-record';
import type { RecordLoadResult } from '../connection-store';
import { StoreError } from '../errors';
import type { LogFn } from '../log';
import type { RunQuery } from './lock-sessions';
import { SELECT_ROW, type ConnectionRow, type RecordRowCodec } from './record-row';
import { insertSql, removedRevisionSql, removeSql, restoreSql, updateSql } from './record-writes';
import { CONNECTIONS_TABLE } from './schema';
import type { StoreUrl } from './store-url';

/** What the row held: `present` tells a missing row from one that could not be read (record null too). */
export interface RowRead extends RecordLoadResult {
  present: boolean;
}

/** A record's conditional write: its statement and parameters, as run on the lock session or a fresh one. */
export interface RowWrite {
  sql: string;
  params: unknown[];
}

interface ConnectionRowsDeps {
  run: RunQuery;
  codec: RecordRowCodec;
  /** Whether QB_STORE_KEY is set. */
  encrypted: boolean;
  /** This instance's writer name (`updated_by`, notifications). */
  self: string;
  url: StoreUrl;
  log: LogFn;
}

export class ConnectionRows {
  constructor(private readonly deps: ConnectionRowsDeps) {}

  async list(): Promise<ConnectionId[]> {
    const { rows } = await this.deps.run('listing connections', (c) =>
      c.query<{ id: string }>(`SELECT id FROM ${CONNECTIONS_TABLE} ORDER BY id`),
    );
    return rows.map((row) => row.id);
  }

  /** The row of connection `id` as it is now (on the lock's session when held). */
  async read(id: ConnectionId): Promise<RowRead> {
    const { rows } = await this.deps.run(
      `reading connection "${id}"`,
      (c) => c.query<ConnectionRow>(`${SELECT_ROW} WHERE id = $1`, [id]),
      id,
    );
    const row = rows[0];
    if (!row) return { record: null, warnings: [], present: false };
    const decoded = this.deps.codec.decode(row);
    for (const warning of decoded.warnings) this.deps.log(warning);
    if (decoded.record && decoded.wasPlaintext && this.deps.encrypted) {
      await this.encryptInPlace(decoded.record);
    }
    return { record: decoded.record, warnings: decoded.warnings, present: true };
  }

  /** The write of `record`: a new row at revision 1, else only on top of revision - 1. */
  writeOf(record: ConnectionRecord): RowWrite {
    return {
      sql: record.revision === 1 ? insertSql : updateSql,
      params: [...this.deps.codec.encode(record, this.deps.self), this.deps.self],
    };
  }

  /** Runs `write` of connection `id`; true when it landed. */
  async write(id: ConnectionId, write: RowWrite): Promise<boolean> {
    const { rowCount } = await this.deps.run(
      `writing connection "${id}"`,
      (c) => c.query(write.sql, write.params),
      id,
    );
    return rowCount === 1;
  }

  /** The error for a write of `record` that did not land, naming the revision the row is at. */
  async notWrittenOver(record: ConnectionRecord): Promise<StoreError> {
    const { rows } = await this.deps.run(`reading connection "${record.id}"`, (c) =>
      c.query<{ revision: string }>(`SELECT revision FROM ${CONNECTIONS_TABLE} WHERE id = $1`, [record.id]),
    );
    return new StoreError(
      `The record of connection "${record.id}" in PostgreSQL (${this.deps.url.location}) is at revision ${rows[0]?.revision ?? 'none'}, not ${record.revision - 1} as read: it changed since, or could not be read, and is not written over.`,
    );
  }

  /** Puts connection `id`'s rescued record back on top of `readRevision` (0: no row); true when it landed. */
  async restore(id: ConnectionId, rescued: ConnectionRecord, readRevision: number): Promise<boolean> {
    const params = [...this.deps.codec.encode(rescued, this.deps.self), this.deps.self, readRevision];
    const { rowCount } = await this.deps.run(
      `putting connection "${id}"'s rescued tokens back`,
      (c) => c.query(restoreSql, params),
      id,
    );
    return rowCount === 1;
  }

  async remove(id: ConnectionId): Promise<void> {
    await this.deps.run(`removing connection "${id}"`, (c) => c.query(removeSql, [id, this.deps.self]), id);
  }

  /** The revision connection `id`'s removal was noted at, or null when it was never removed. */
  async removedRevision(id: ConnectionId): Promise<number | null> {
    const { rows } = await this.deps.run(
      `reading connection "${id}"'s removal`,
      (c) => c.query<{ revision: string }>(removedRevisionSql, [id]),
      id,
    );
    return rows[0] ? Number(rows[0].revision) : null;
  }

  /** A plaintext chain found while QB_STORE_KEY is set is encrypted at once (same revision: nothing else changes). */
  private async encryptInPlace(record: ConnectionRecord): Promise<void> {
    try {
      const tokens = this.deps.codec.tokensColumn(record);
      await this.deps.run(
        `encrypting connection "${record.id}"`,
        (c) =>
          c.query(
            `UPDATE ${CONNECTIONS_TABLE} SET tokens = $1::jsonb, encrypted = true, updated_at = now()
              WHERE id = $2 AND revision = $3 AND NOT encrypted`,
            [tokens, record.id, record.revision],
          ),
        record.id,
      );
    } catch (err) {
      this.deps.log(`PostgreSQL store: ${(err as Error).message}`);
    }
  }
}

/** A row read as the store's load() answers it. */
export function loadResult(read: RowRead): RecordLoadResult {
  return { record: read.record, warnings: read.warnings };
}
