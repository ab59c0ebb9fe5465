// TEMPORARY bridge while the engine still speaks the single-connection TokenStore: the PostgreSQL
// store's 'default' record seen as a TokenStore. Goes away when the engine runs on ConnectionStore
// (branch `engine`). Every write happens under withRefreshLock (the engine's rule), so reading the
// record just before writing it on top is safe; the store's conditional write refuses anything else.
import { DEFAULT_CONNECTION_ID } from '../../shared/contract';
import type { ConnectionRecord } from '../connection-record';
import { emptyHealth } from '../connection-record-schema';
import type { ConnectionStoreDescription } from '../connection-store';
import type { RefreshInFlightNote, StoredTokens, TokenStore, TokenStoreLoadResult } from '../token-store';
import type { PgConnectionStore } from './pg-connection-store';

export class PgTokenStoreAdapter implements TokenStore {
  constructor(
    private readonly store: PgConnectionStore,
    private readonly id = DEFAULT_CONNECTION_ID,
  ) {}

  get warnings(): readonly string[] {
    return this.store.warnings;
  }

  get location(): string {
    return this.store.description.location;
  }

  get description(): ConnectionStoreDescription {
    return this.store.description;
  }

  async load(): Promise<TokenStoreLoadResult> {
    const { record, warnings } = await this.store.load(this.id);
    return { tokens: record?.tokens ?? null, warnings };
  }

  async save(tokens: StoredTokens): Promise<void> {
    const { record } = await this.store.load(this.id);
    const next: ConnectionRecord = record
      ? { ...record, revision: record.revision + 1, tokens }
      : {
          version: 2,
          id: this.id,
          revision: 1,
          profile: { name: 'QuickBooks', environment: 'sandbox', realmId: tokens.realmId, companyName: null },
          tokens,
          health: emptyHealth(),
        };
    await this.store.save(next);
  }

  forget(): Promise<void> {
    return this.store.remove(this.id);
  }

  withRefreshLock<T>(fn: () => Promise<T>): Promise<T> {
    return this.store.withLock(this.id, fn);
  }

  beginRefresh(note: RefreshInFlightNote): void {
    this.store.beginRefresh(this.id, note);
  }

  endRefresh(): void {
    this.store.endRefresh(this.id);
  }

  interruptedRefresh(): Promise<RefreshInFlightNote | null> {
    return this.store.interruptedRefresh(this.id);
  }
}
