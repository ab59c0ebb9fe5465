// `qb-token status` writes no tokens of its own. A data directory that does not exist yet holds no connection, so it
// is read as empty instead of being created (a status run in any folder used to leave `./.qb-data`
// behind). An existing one is opened as any command opens it (which may upgrade a 0.1 file, seal
// plaintext records, sweep temp files or move an unreadable record aside under the lock).
import { existsSync } from 'node:fs';
import type { ConnectionId } from '../shared/contract';
import type { ConnectionStore, LockOptions, RecordChange, RecordLoadResult } from '../core/connection-store';
import type { ConnectionRecord } from '../core/connection-record';
import type { RefreshInFlightNote } from '../core/token-store';

export class ReadOnlyUntilCreated implements ConnectionStore {
  /** False while the directory is missing: reads answer "nothing stored". */
  private present: boolean;
  private opened = false;

  constructor(
    private readonly inner: ConnectionStore,
    private readonly dataDir: string,
  ) {
    this.present = existsSync(dataDir);
  }

  get description() {
    return this.inner.description;
  }

  get warnings() {
    return this.inner.warnings;
  }

  async open(): Promise<void> {
    if (this.present || existsSync(this.dataDir)) await this.openInner();
  }

  async list(): Promise<ConnectionId[]> {
    return this.present ? this.inner.list() : [];
  }

  async load(id: ConnectionId): Promise<RecordLoadResult> {
    return this.present ? this.inner.load(id) : { record: null, warnings: [] };
  }

  async save(record: ConnectionRecord): Promise<void> {
    await this.openInner();
    return this.inner.save(record);
  }

  async remove(id: ConnectionId): Promise<void> {
    if (!this.present) return;
    return this.inner.remove(id);
  }

  async withLock<T>(id: ConnectionId, fn: () => Promise<T>, options?: LockOptions): Promise<T> {
    await this.openInner();
    return this.inner.withLock(id, fn, options);
  }

  watch(listener: (change: RecordChange) => void): () => void {
    // A directory that is not there cannot be watched; a one-shot status needs no feed anyway.
    return this.present ? this.inner.watch(listener) : () => {};
  }

  beginRefresh(id: ConnectionId, note: RefreshInFlightNote): void {
    this.inner.beginRefresh?.(id, note);
  }

  endRefresh(id: ConnectionId): void {
    this.inner.endRefresh?.(id);
  }

  async interruptedRefresh(id: ConnectionId): Promise<RefreshInFlightNote | null> {
    if (!this.present) return null;
    return (await this.inner.interruptedRefresh?.(id)) ?? null;
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private async openInner(): Promise<void> {
    if (this.opened) return;
    await this.inner.open();
    this.opened = true;
    this.present = true;
  }
}
