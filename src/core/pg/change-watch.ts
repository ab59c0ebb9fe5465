// The store's watch(): every listener of this instance hears each change to a connection's row, from
// one LISTEN connection (change-listener.ts) that runs while anyone listens. Every write NOTIFYs the
// store's channel in the same statement (record-writes.ts), so other instances hear of it at once.
import type { RecordChange } from '../connection-store';
import type { LogFn } from '../log';
import { ChangeListener } from './change-listener';
import type { PgPools } from './pg-pools';
import { CONNECTIONS_TABLE } from './schema';

export class ChangeWatch {
  private readonly listeners = new Set<(change: RecordChange) => void>();
  private listener: ChangeListener | null = null;
  private closed = false;

  constructor(
    private readonly pools: PgPools,
    /** This instance's writer name: its own notifications are not reported back to it. */
    private readonly self: string,
    private readonly log: LogFn,
  ) {}

  watch(listener: (change: RecordChange) => void): () => void {
    this.listeners.add(listener);
    if (!this.listener && !this.closed) {
      this.listener = new ChangeListener({
        newClient: () => this.pools.newClient(),
        self: this.self,
        snapshot: async (client) => {
          const { rows } = await client.query<{ id: string; revision: string }>(
            `SELECT id, revision FROM ${CONNECTIONS_TABLE}`,
          );
          return rows.map((row) => ({ id: row.id, revision: Number(row.revision) }));
        },
        onChange: (change) => {
          for (const each of [...this.listeners]) each(change);
        },
        log: this.log,
      });
      this.listener.start();
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0 && this.listener) {
        const stopping = this.listener;
        this.listener = null;
        void stopping.stop();
      }
    };
  }

  /** Whether change notifications are being received right now. */
  get listening(): boolean {
    return this.listener?.listening ?? false;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    await this.listener?.stop();
    this.listener = null;
  }
}
