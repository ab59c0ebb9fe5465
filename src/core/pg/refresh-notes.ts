// The refresh notes of the PostgreSQL store (refresh_notes): a refresh in flight is noted before its
// token call (the refresh token's SHA-256, never its value) and dropped once its outcome is handled. A
// process stopped in between leaves the note, so the next refresh, reading it under the lock, can tell
// the user why the stored token is refused. Noting and dropping are a diagnosis aid only: a refresh
// never fails for want of them.
import type { ConnectionId } from '../../shared/contract';
import type { LogFn } from '../log';
import type { RefreshInFlightNote } from '../token-store';
import type { RunQuery } from './lock-sessions';
import type { Queryable } from './pg-pools';
import { REFRESH_NOTES_TABLE } from './schema';

export class RefreshNotes {
  constructor(
    private readonly run: RunQuery,
    /** This instance's writer name (`updated_by`). */
    private readonly self: string,
    private readonly log: LogFn,
  ) {}

  begin(id: ConnectionId, note: RefreshInFlightNote): void {
    this.fireAndForget(id, 'noting a refresh in flight', (c) =>
      c.query(
        `INSERT INTO ${REFRESH_NOTES_TABLE} (id, started_at, refresh_token_sha256, updated_by)
         VALUES ($1, to_timestamp($2 / 1000.0), $3, $4)
         ON CONFLICT (id) DO UPDATE SET started_at = EXCLUDED.started_at,
           refresh_token_sha256 = EXCLUDED.refresh_token_sha256, updated_by = EXCLUDED.updated_by`,
        [id, note.startedAt, note.refreshTokenSha256, this.self],
      ),
    );
  }

  end(id: ConnectionId): void {
    this.fireAndForget(id, 'dropping the refresh note', (c) =>
      c.query(`DELETE FROM ${REFRESH_NOTES_TABLE} WHERE id = $1`, [id]),
    );
  }

  async interrupted(id: ConnectionId): Promise<RefreshInFlightNote | null> {
    const { rows } = await this.run(
      `reading connection "${id}"'s refresh note`,
      (c) =>
        c.query<{ started_at_ms: string; refresh_token_sha256: string }>(
          `SELECT (extract(epoch FROM started_at) * 1000)::bigint AS started_at_ms, refresh_token_sha256
           FROM ${REFRESH_NOTES_TABLE} WHERE id = $1`,
          [id],
        ),
      id,
    );
    const row = rows[0];
    if (!row || !/^[0-9a-f]{64}$/.test(row.refresh_token_sha256)) return null;
    return { startedAt: Number(row.started_at_ms), refreshTokenSha256: row.refresh_token_sha256 };
  }

  private fireAndForget(
    id: ConnectionId,
    doing: string,
    task: (client: Queryable) => Promise<unknown>,
  ): void {
    this.run(doing, task, id).catch((err: unknown) => {
      // Only a diagnosis aid: a refresh never fails for want of it.
      this.log(`PostgreSQL store: ${(err as Error).message}`);
    });
  }
}
