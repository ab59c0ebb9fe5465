// Puts a rescued record (pg-save-rescue.ts) back where it belongs. Under the connection's lock, load()
// writes it into its row when it is newer than the row, and drops it when it is not; a connection
// removed since (removed_connections notes at which revision) is not brought back by a rescue file
// written before the removal. A row that moved on only to record Intuit's refusal of the token the
// rescued chain replaced (another machine, which cannot see this one's rescue files, tried it) takes the
// rescued chain on top. A write under the lock that lands drops a rescued copy it supersedes.
// While the server cannot be reached, load() serves the rescued record with a warning instead.
import type { ConnectionId } from '../../shared/contract';
import { rejectionOf, type ConnectionRecord } from '../connection-record';
import type { RecordLoadResult } from '../connection-store';
import type { LogFn } from '../log';
import { loadResult, type ConnectionRows } from './connection-rows';
import type { FoundRescue, PgSaveRescue } from './pg-save-rescue';
import type { StoreUrl } from './store-url';

export class PgRescueRestore {
  constructor(
    private readonly rows: ConnectionRows,
    private readonly rescues: PgSaveRescue,
    private readonly url: StoreUrl,
    private readonly log: LogFn,
  ) {}

  /**
   * Under the lock: the row, or the rescued record `found` put back into it when it is newer. An older
   * rescued copy is dropped; so is one written before the connection was removed (the removal stands,
   * as it does against a late write). A row that is missing with no removal noted (a first save that
   * never landed, a database recreated empty) takes the rescued record.
   */
  async load(id: ConnectionId, found: FoundRescue | null): Promise<RecordLoadResult> {
    const current = await this.rows.read(id);
    const warnings = [...current.warnings];
    if (!found) return loadResult(current);
    if (found.record === null) {
      warnings.push(
        `A copy of connection "${id}"'s tokens in ${found.path} could not be read (${found.problem}); it is left as it is.`,
      );
      return { record: current.record, warnings };
    }
    let rescued = found.record;
    if (current.present && current.record === null) {
      // The row's own warning says why it is left alone; the rescued copy waits with it.
      warnings.push(`The copy of connection "${id}"'s tokens in ${found.path} is left as it is until then.`);
      return { record: null, warnings };
    }
    let stale: string | null = null;
    if (current.record && current.record.revision >= rescued.revision) {
      // Another machine (which cannot see this one's rescue files) refreshed meanwhile with the token
      // this chain had replaced, and Intuit refused it: the row moved on only to record that refusal,
      // and the rescued chain is still the live one. It goes back on top of the row.
      if (refusedInsteadOf(current.record, rescued))
        rescued = { ...rescued, revision: current.record.revision + 1 };
      else stale = `PostgreSQL holds revision ${current.record.revision}`;
    } else if (!current.record) stale = await this.removedSince(id, rescued.revision);
    if (stale !== null) {
      this.rescues.clear(id);
      this.log(
        `PostgreSQL store: an older copy of connection "${id}"'s tokens (revision ${rescued.revision}) in ${found.path} was dropped: ${stale}.`,
      );
      return loadResult(current);
    }
    // Not written: the row changed since it was read (a holder of this very lock elsewhere in this
    // process); the file stays for the next read to weigh again.
    if (!(await this.rows.restore(id, rescued, current.record?.revision ?? 0))) {
      return loadResult(await this.rows.read(id));
    }
    this.rescues.clear(id);
    const line = `The latest tokens of connection "${id}" had been saved to ${found.path} because PostgreSQL (${this.url.location}) could not be reached; they are back in PostgreSQL (revision ${rescued.revision}).`;
    this.log(line);
    return { record: rescued, warnings: [...warnings, line] };
  }

  /**
   * While the server cannot be reached: the rescued chain is the newest this machine knows of. Nothing
   * is refreshed with it without the lock, which waits for the server (and compares revisions then).
   */
  servedWhileAway(id: ConnectionId, found: FoundRescue & { record: ConnectionRecord }): RecordLoadResult {
    const line = `The latest tokens of connection "${id}" are in ${found.path} (PostgreSQL (${this.url.location}) could not be reached when they were issued, and still cannot be); they are put back in PostgreSQL once it answers.`;
    this.log(line);
    return { record: found.record, warnings: [line] };
  }

  /** After a write of `record` under the lock: a rescued copy it supersedes is dropped. */
  dropSuperseded(record: ConnectionRecord): void {
    const found = this.rescues.find(record.id);
    if (found?.record && found.record.revision <= record.revision) this.rescues.clear(record.id);
  }

  /** Why a rescued record at `revision` must not bring a missing row back, or null when it may. */
  private async removedSince(id: ConnectionId, revision: number): Promise<string | null> {
    const removedAt = await this.rows.removedRevision(id);
    return removedAt !== null && removedAt >= revision
      ? `the connection was removed from PostgreSQL after they were saved`
      : null;
  }
}

/**
 * Whether `row` holds only Intuit's refusal of a refresh token other than `rescued`'s, while the
 * rescued chain itself was never refused: the refused token is the one the rescued chain replaced.
 */
function refusedInsteadOf(row: ConnectionRecord, rescued: ConnectionRecord): boolean {
  return (
    rejectionOf(row) !== null &&
    rejectionOf(rescued) === null &&
    rescued.tokens !== null &&
    row.tokens?.refreshToken !== rescued.tokens.refreshToken &&
    row.tokens?.realmId === rescued.tokens.realmId
  );
}
