// A write whose lock session was lost (during the token call, a database blip) goes on over fresh
// pooled connections for a short while: Intuit has already retired the old refresh token, and a
// process about to exit (the CLI) would otherwise lose the new one. The lock is gone, so the write's
// revision condition (record-writes.ts) alone guards it now. Tries are spaced by a growing pause and
// end at saveRetryMs, or at the first error that is not "unreachable".
import type { ConnectionRecord } from '../connection-record';
import { StoreUnavailableError, type StoreError } from '../errors';
import type { LogFn } from '../log';
import type { RowWrite } from './connection-rows';
import { toStoreError } from './pg-errors';
import type { PgPools } from './pg-pools';
import { SELECT_ROW, type ConnectionRow, type RecordRowCodec } from './record-row';
import type { StoreUrl } from './store-url';

interface FreshSessionWriteDeps {
  pools: PgPools;
  codec: RecordRowCodec;
  url: StoreUrl;
  log: LogFn;
  /** How long the write is tried again while the server cannot be reached, ms. */
  retryMs: number;
}

export class FreshSessionWriter {
  constructor(private readonly deps: FreshSessionWriteDeps) {}

  /**
   * The write of `record` on pooled connections after the lock's session failed with `first`. True
   * when the row now holds it: written now, or by the lost session itself (its commit landed, only the
   * answer was lost). False when the row moved on. Throws the last StoreUnavailableError at the deadline.
   */
  async write(record: ConnectionRecord, write: RowWrite, first: StoreError): Promise<boolean> {
    const doing = `writing connection "${record.id}" after its lock's session was lost`;
    this.deps.log(
      `PostgreSQL store: ${first.message}; writing it again on a fresh connection (only on top of revision ${record.revision - 1}).`,
    );
    const deadline = Date.now() + this.deps.retryMs;
    let delay = 100;
    for (;;) {
      try {
        await this.deps.pools.open();
        const { rowCount } = await this.deps.pools.pool.query(write.sql, write.params);
        if (rowCount === 1) {
          this.deps.log(`PostgreSQL store: connection "${record.id}" saved on a fresh connection.`);
          return true;
        }
        return await this.holdsChain(record);
      } catch (err) {
        const error = toStoreError(err, this.deps.url, doing);
        if (!(error instanceof StoreUnavailableError) || Date.now() + delay > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(1000, delay * 2);
      }
    }
  }

  /** Whether the row is at `record`'s revision with its refresh token. */
  private async holdsChain(record: ConnectionRecord): Promise<boolean> {
    const { rows } = await this.deps.pools.pool.query<ConnectionRow>(`${SELECT_ROW} WHERE id = $1`, [
      record.id,
    ]);
    const row = rows[0];
    if (!row || Number(row.revision) !== record.revision) return false;
    const decoded = this.deps.codec.decode(row);
    return decoded.record?.tokens?.refreshToken === record.tokens?.refreshToken;
  }
}
