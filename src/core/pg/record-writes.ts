// The statements that write and remove a connection's row. Each is conditional on the revision the
// writer read under the connection's lock, and NOTIFYs the store's channel in the same statement, so
// every other instance hears of it (id and revision only, never a token value). Parameters: the row's
// values in the order of UPSERT_COLUMNS, then the writer's name; restoreSql adds the revision read.
import { CHANGES_CHANNEL, CONNECTIONS_TABLE, REFRESH_NOTES_TABLE, REMOVED_TABLE } from './schema';
import { UPSERT_COLUMNS } from './record-row';

/** Placeholder `n` (1-based) of UPSERT_COLUMNS, cast where the column is jsonb. */
const placeholder = (i: number) => `$${i + 1}${i === 3 || i === 4 || i === 8 ? '::jsonb' : ''}`;
const writerParam = `$${UPSERT_COLUMNS.length + 1}::text`;
const notifyWritten = `SELECT pg_notify('${CHANGES_CHANNEL}', json_build_object('id', id, 'revision', revision, 'by', ${writerParam})::text)
      FROM written`;

/** INSERT, or on an existing row an UPDATE only WHERE `condition` holds (of `c`, the row, and EXCLUDED). */
function upsertWhere(condition: string): string {
  const columns = UPSERT_COLUMNS.join(', ');
  const values = UPSERT_COLUMNS.map((_, i) => placeholder(i));
  const updates = UPSERT_COLUMNS.filter((c) => c !== 'id')
    .map((c) => `${c} = EXCLUDED.${c}`)
    .concat('updated_at = now()')
    .join(', ');
  return `WITH written AS (
      INSERT INTO ${CONNECTIONS_TABLE} AS c (${columns}) VALUES (${values.join(', ')})
      ON CONFLICT (id) DO UPDATE SET ${updates} WHERE ${condition}
      RETURNING id, revision)
    ${notifyWritten}`;
}

/** Revision 1: a new row (a row already there is never written over: none is at revision 0). */
export const insertSql = upsertWhere('c.revision = EXCLUDED.revision - 1');

/**
 * A rescued record put back: on top of the revision read under the lock (parameter after the writer;
 * 0 when there was no row, which no row matches), at the rescued record's own revision.
 */
export const restoreSql = upsertWhere(`c.revision = $${UPSERT_COLUMNS.length + 2}::bigint`);

/**
 * A later revision: only on top of the row read (revision - 1). A row that is gone was removed (under
 * the lock, by someone who took it after this writer's session was lost): it is not brought back.
 */
export const updateSql = (() => {
  const sets = UPSERT_COLUMNS.map((c, i) => `${c} = ${placeholder(i)}`)
    .filter((_, i) => UPSERT_COLUMNS[i] !== 'id')
    .concat('updated_at = now()')
    .join(', ');
  return `WITH written AS (
      UPDATE ${CONNECTIONS_TABLE} SET ${sets} WHERE id = $1 AND revision = $2::bigint - 1
      RETURNING id, revision)
    ${notifyWritten}`;
})();

/**
 * Removes the row ($1; $2 the writer) and its refresh note, and notes the removal at the revision it
 * would have had next: a rescue file written before it (at or below that revision) does not bring the
 * connection back. A later removal of a re-added connection never lowers what is noted.
 */
export const removeSql = `WITH gone AS (DELETE FROM ${CONNECTIONS_TABLE} WHERE id = $1 RETURNING id, revision),
      noted AS (
        INSERT INTO ${REMOVED_TABLE} AS r (id, revision, removed_by) SELECT id, revision + 1, $2::text FROM gone
        ON CONFLICT (id) DO UPDATE SET revision = GREATEST(r.revision, EXCLUDED.revision),
          removed_at = now(), removed_by = EXCLUDED.removed_by),
      unnoted AS (DELETE FROM ${REFRESH_NOTES_TABLE} WHERE id = $1)
    SELECT pg_notify('${CHANGES_CHANNEL}', json_build_object('id', id, 'revision', revision + 1, 'by', $2::text)::text)
      FROM gone`;

/** The revision a connection's removal was noted at, if it was removed. */
export const removedRevisionSql = `SELECT revision FROM ${REMOVED_TABLE} WHERE id = $1`;
