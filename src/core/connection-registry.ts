// Several QuickBooks companies in one desk: one TokenManager per connection, all sharing one store
// and one OAuth client per environment. Each connection has its own chain, lock (the store's, per
// id), schedule, back-off, health record and history, so a failure in one never stops or delays
// another. The QB_* environment defines the default connection; the others are the store's records
// (added by Connect for another company, or `qb-token connections add`), keyed by their realm id.
// Connections another process adds or removes are picked up from the store's change feed.
import {
  DEFAULT_CONNECTION_ID,
  type ConnectionId,
  type ConnectionSummary,
  type ConnectRequest,
  type QbEnvironment,
  type RemoveConnectionOptions,
  type TokenStatus,
} from '../shared/contract';
import { compareListOrder, summarizeStatus } from '../shared/connections';
import { isValidConnectionId, isValidRealmId } from '../shared/ids';
import type { Config } from './config';
import { OAuthConnectFlow, type ConnectTargets, type ConnectTokens } from './connect-flow';
import type { ConnectionDesk } from './connection-desk';
import {
  managerConfigFor,
  oauthClientsFor,
  startConnection,
  storedConnectionManagerConfig,
} from './engine-parts';
import type { ConnectionProfile } from './connection-record';
import type { ConnectionStore } from './connection-store';
import type { ConnectionsDesk } from './desk';
import {
  ConfigError,
  ConnectionRemovedError,
  StoreConfigError,
  StoreKeyError,
  UnknownConnectionError,
} from './errors';
import type { IntuitOAuth } from './intuit-oauth';
import type { LogFn, SecretRegistry } from './log';
import type { EngineTelemetry } from './telemetry';
import type { TokenManager, TokenManagerConfig, TokenManagerOptions } from './token-manager';

export type EngineKnobs = Pick<
  TokenManagerOptions,
  'now' | 'timers' | 'retry' | 'random' | 'refreshOnStart' | 'lockWaitMs' | 'storeRetryMs'
>;

interface ConnectionRegistryOptions {
  config: Config;
  store: ConnectionStore;
  log: LogFn;
  secrets: SecretRegistry;
  clientName?: string;
  telemetry?: EngineTelemetry;
  manager?: EngineKnobs;
  /**
   * Serve only these connections besides the default one (a CLI run acting on one connection);
   * default: every connection in the store, and those added later by other processes.
   */
  only?: readonly ConnectionId[];
}

/** What `qb-token connections add` gives. */
export interface AddConnectionInput {
  name: string;
  realmId: string;
  environment: QbEnvironment;
  refreshToken: string;
}

interface Entry {
  manager: TokenManager;
  desk: ConnectionDesk;
  unsubscribe: () => void;
}

const MAX_NAME_LENGTH = 100;

export class ConnectionRegistry implements ConnectionsDesk, ConnectTargets {
  readonly connectFlow: OAuthConnectFlow;
  private readonly config: Config;
  private readonly store: ConnectionStore;
  private readonly log: LogFn;
  private readonly entries = new Map<ConnectionId, Entry>();
  private readonly oauthClients: (environment: QbEnvironment) => IntuitOAuth | null;
  private readonly statusListeners = new Set<(status: TokenStatus) => void>();
  private readonly listListeners = new Set<(connections: ConnectionSummary[]) => void>();
  /** Connections being added or removed here: the change feed leaves them alone meanwhile. */
  private readonly busy = new Set<ConnectionId>();
  private readonly checking = new Map<ConnectionId, Promise<boolean>>();
  /** Connections being started (not in `entries` yet): one engine per connection, whoever asks. */
  private readonly starting = new Map<ConnectionId, Promise<Entry>>();
  private readonly recheck = new Set<ConnectionId>();
  private unwatch: (() => void) | null = null;
  private discoverTimer: ReturnType<typeof setTimeout> | null = null;
  private disposed = false;

  constructor(private readonly options: ConnectionRegistryOptions) {
    this.config = options.config;
    this.oauthClients = oauthClientsFor(options.config);
    this.store = options.store;
    this.log = options.log;
    this.connectFlow = new OAuthConnectFlow({
      targets: this,
      scopes: this.config.scopes,
      log: this.log,
      secrets: options.secrets,
    });
  }

  /**
   * Starts the default connection (its start errors are the desk's: a wrong QB_STORE_KEY stops it),
   * then every other connection the store holds. A store that cannot be listed now is listed again
   * until it answers.
   */
  async start(): Promise<void> {
    await this.startEntry(DEFAULT_CONNECTION_ID, this.defaultManagerConfig());
    this.unwatch = this.store.watch((change) => this.noticed(change.id));
    await this.discover();
  }

  // ---------------------------------------------------------------- ConnectionsDesk

  desk(id: ConnectionId = DEFAULT_CONNECTION_ID): ConnectionDesk {
    return this.entry(id).desk;
  }

  manager(id: ConnectionId = DEFAULT_CONNECTION_ID): TokenManager {
    return this.entry(id).manager;
  }

  has(id: ConnectionId): boolean {
    return this.entries.has(id);
  }

  ids(): ConnectionId[] {
    return this.list().map((summary) => summary.id);
  }

  statuses(): TokenStatus[] {
    return this.list().map((summary) => this.entry(summary.id).manager.getStatus());
  }

  list(): ConnectionSummary[] {
    return [...this.entries.values()]
      .map((entry) => summarizeStatus(entry.manager.getStatus()))
      .sort(compareListOrder);
  }

  onStatusChanged(listener: (status: TokenStatus) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  onConnectionsChanged(listener: (connections: ConnectionSummary[]) => void): () => void {
    this.listListeners.add(listener);
    return () => this.listListeners.delete(listener);
  }

  /**
   * Revokes the connection's refresh token at Intuit and forgets it (Disconnect; `force` forgets
   * even when Intuit could not revoke), then drops its record. The default connection is the QB_*
   * environment's: it can be disconnected, not removed.
   */
  async remove(id: ConnectionId, options: RemoveConnectionOptions = {}): Promise<ConnectionSummary[]> {
    return (await this.removeReporting(id, options)).connections;
  }

  /** remove(), also answering with the connection's last status: its history says what Intuit did. */
  async removeReporting(
    id: ConnectionId,
    options: RemoveConnectionOptions = {},
  ): Promise<{ connections: ConnectionSummary[]; disconnected: TokenStatus }> {
    if (id === DEFAULT_CONNECTION_ID) {
      throw new ConfigError(
        'The default connection is defined by the QB_* environment and cannot be removed: disconnect it, and unset QB_REFRESH_TOKEN.',
      );
    }
    this.entry(id);
    this.busy.add(id);
    let disconnected: TokenStatus;
    try {
      disconnected = await this.connectFlow
        .disconnect({ connectionId: id, force: options.force === true })
        // Another process removed it first: what was asked for is done.
        .catch((err: unknown) => {
          if (err instanceof ConnectionRemovedError) return this.entry(id).manager.getStatus();
          throw err;
        });
      await this.store.withLock(id, () => this.store.remove(id));
      await this.dropEntry(id);
      this.log(`Removed the connection ${id}.`);
    } finally {
      this.busy.delete(id);
    }
    this.connectionsChanged();
    return { connections: this.list(), disconnected };
  }

  /**
   * `qb-token connections add`: the connection of this realm takes the refresh token (as a
   * reconnect would), or a new connection keyed by the realm id is added with it. Stored before
   * anything else happens; the first call that needs an access token refreshes with it.
   */
  async add(input: AddConnectionInput): Promise<TokenStatus> {
    const name = input.name.trim();
    if (name.length === 0 || name.length > MAX_NAME_LENGTH)
      throw new ConfigError(`--name must be 1 to ${MAX_NAME_LENGTH} characters`);
    if (!isValidRealmId(input.realmId))
      throw new ConfigError('--realm must be the numeric company id (digits only)');
    if (!input.refreshToken.trim())
      throw new ConfigError('The refresh token read from standard input is empty');
    const manager = await this.managerForRealm(input.realmId, input.environment, {
      name,
      fillDefault: false,
    });
    let status = await manager.adoptRefreshToken(input.refreshToken.trim(), input.realmId);
    if (status.connection.name !== name) status = await manager.updateProfile({ name });
    return status;
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    this.unwatch?.();
    this.unwatch = null;
    if (this.discoverTimer) clearTimeout(this.discoverTimer);
    await Promise.allSettled([...this.checking.values()]);
    await Promise.all([...this.entries.keys()].map((id) => this.dropEntry(id)));
  }

  // ---------------------------------------------------------------- ConnectTargets (the Connect flow)

  environmentFor(request: ConnectRequest): QbEnvironment {
    if (request.connectionId !== undefined)
      return this.entry(request.connectionId).manager.getStatus().environment;
    return request.environment ?? this.config.environment;
  }

  /** One OAuth client per environment, shared by its connections; null without that environment's keys. */
  oauthFor(environment: QbEnvironment): IntuitOAuth | null {
    return this.oauthClients(environment);
  }

  async tokensForRealm(realmId: string, environment: QbEnvironment): Promise<ConnectTokens> {
    const existed = this.findRealm(realmId, environment, true);
    const manager = await this.managerForRealm(realmId, environment, { fillDefault: true });
    if (!existed) this.nameAfterCompany(manager);
    return manager;
  }

  tokensOf(connectionId: ConnectionId = DEFAULT_CONNECTION_ID): ConnectTokens {
    return this.entry(connectionId).manager;
  }

  // ---------------------------------------------------------------- entries

  private entry(id: ConnectionId): Entry {
    const entry = this.entries.get(id);
    if (!entry) throw new UnknownConnectionError(id);
    return entry;
  }

  private defaultManagerConfig(): TokenManagerConfig {
    return managerConfigFor(this.config);
  }

  /** An added connection: no QB_* tokens; its environment and realm come from its record. */
  private addedManagerConfig(
    profile: Pick<ConnectionProfile, 'environment' | 'realmId' | 'name'>,
  ): TokenManagerConfig {
    return storedConnectionManagerConfig(this.config, profile);
  }

  private startEntry(id: ConnectionId, managerConfig: TokenManagerConfig): Promise<Entry> {
    const pending = this.starting.get(id);
    if (pending) return pending;
    const run = this.startEntryNow(id, managerConfig).finally(() => this.starting.delete(id));
    this.starting.set(id, run);
    return run;
  }

  private async startEntryNow(id: ConnectionId, managerConfig: TokenManagerConfig): Promise<Entry> {
    const { manager, desk } = await startConnection(this.config, {
      config: managerConfig,
      store: this.store,
      connectionId: id,
      oauth: this.oauthFor(managerConfig.environment),
      log: this.log,
      secrets: this.options.secrets,
      clientName: this.options.clientName,
      telemetry: this.options.telemetry,
      ...this.options.manager,
      // Its engine found the record gone under the lock: dropped now, even if the change feed is late.
      onRemoved: () => this.noticed(id),
    });
    const unsubscribe = manager.onStatusChanged((status) => {
      for (const listener of this.statusListeners) {
        try {
          listener(status);
        } catch (err) {
          this.log(`A status listener threw: ${(err as Error).message}`);
        }
      }
    });
    const entry = { manager, desk, unsubscribe };
    this.entries.set(id, entry);
    return entry;
  }

  private async dropEntry(id: ConnectionId): Promise<void> {
    const entry = this.entries.get(id);
    if (!entry) return;
    this.entries.delete(id);
    entry.unsubscribe();
    await entry.manager.dispose();
  }

  /** The connection of `realmId`, if there is one (the default's counts; an empty default too when asked). */
  private findRealm(realmId: string, environment: QbEnvironment, fillDefault: boolean): ConnectionId | null {
    for (const [id, entry] of this.entries) {
      const status = entry.manager.getStatus();
      if (status.realmId === realmId && status.environment === environment) return id;
    }
    const fallback = this.entries.get(DEFAULT_CONNECTION_ID)?.manager.getStatus();
    // One company in a desk that has none yet: Connect fills the default connection, as it always did.
    if (
      fillDefault &&
      fallback &&
      fallback.refreshToken === null &&
      fallback.realmId === null &&
      fallback.environment === environment
    )
      return DEFAULT_CONNECTION_ID;
    return null;
  }

  private async managerForRealm(
    realmId: string,
    environment: QbEnvironment,
    options: { name?: string; fillDefault: boolean },
  ): Promise<TokenManager> {
    const found = this.findRealm(realmId, environment, options.fillDefault);
    if (found) return this.entry(found).manager;
    // The store's change feed may be starting this realm's connection right now (another process
    // added it): wait for that engine rather than start a second one beside it.
    const pending = [realmId, `${realmId}-${environment}`].flatMap((id) => this.starting.get(id) ?? []);
    if (pending.length > 0) {
      await Promise.allSettled(pending);
      return this.managerForRealm(realmId, environment, options);
    }
    // Keyed by the realm; a realm already taken in the other environment (only an emulator reuses
    // ids across environments) gets the environment in its id.
    const id = this.entries.has(realmId) ? `${realmId}-${environment}` : realmId;
    if (this.entries.has(id)) return this.entry(id).manager;
    this.busy.add(id);
    try {
      const entry = await this.startEntry(
        id,
        this.addedManagerConfig({ environment, realmId, name: options.name ?? `Company ${realmId}` }),
      );
      this.log(`Added the connection ${id} (${environment}, company ${realmId}).`);
      this.connectionsChanged();
      return entry.manager;
    } finally {
      this.busy.delete(id);
    }
  }

  /** After Connect added a company: its name from CompanyInfo, once the authorization is stored. */
  private nameAfterCompany(manager: TokenManager): void {
    const off = manager.onStatusChanged((status) => {
      if (status.refreshToken === null) return;
      off();
      const id = status.connection.id;
      if (!this.entries.has(id)) return;
      this.desk(id)
        .testConnection()
        .then((info) => manager.updateProfile({ name: info.companyName }))
        .catch((err: unknown) =>
          this.log(`Reading the new company's name failed: ${(err as Error).message}`),
        );
    });
  }

  private connectionsChanged(): void {
    if (this.disposed || this.listListeners.size === 0) return;
    const list = this.list();
    for (const listener of this.listListeners) {
      try {
        listener(list);
      } catch (err) {
        this.log(`A connections listener threw: ${(err as Error).message}`);
      }
    }
  }

  // ---------------------------------------------------------------- discovery

  private wanted(id: ConnectionId): boolean {
    if (id === DEFAULT_CONNECTION_ID || !isValidConnectionId(id)) return false;
    return this.options.only === undefined || this.options.only.includes(id);
  }

  /** Starts every connection the store holds that is not running yet. */
  private async discover(): Promise<void> {
    const only = this.options.only;
    let ids: ConnectionId[];
    try {
      ids = only ? [...only] : await this.store.list();
    } catch (err) {
      if (err instanceof StoreKeyError || err instanceof StoreConfigError) throw err;
      this.log(`Listing the connections failed (${(err as Error).message}); trying again.`);
      this.discoverTimer = setTimeout(() => {
        this.discoverTimer = null;
        if (!this.disposed) void this.discover().catch(() => undefined);
      }, this.options.manager?.storeRetryMs ?? 5_000);
      this.discoverTimer.unref?.();
      return;
    }
    const outcomes = await Promise.allSettled(
      ids.filter((id) => this.wanted(id)).map((id) => this.check(id)),
    );
    for (const outcome of outcomes) {
      if (outcome.status === 'fulfilled') continue;
      const err: unknown = outcome.reason;
      // A wrong QB_STORE_KEY is the whole desk's configuration error, as for the default connection.
      if (err instanceof StoreKeyError || err instanceof StoreConfigError) throw err;
      this.log(`A connection could not be started: ${(err as Error).message}`);
    }
    if (outcomes.some((outcome) => outcome.status === 'fulfilled' && outcome.value))
      this.connectionsChanged();
  }

  /** A change in the store for `id` (another process wrote or removed it): start or drop its connection. */
  private noticed(id: ConnectionId): void {
    if (this.disposed || !this.wanted(id)) return;
    if (this.checking.has(id)) {
      this.recheck.add(id);
      return;
    }
    void this.check(id)
      .then((changed) => {
        if (changed) this.connectionsChanged();
      })
      .catch((err: unknown) => this.log(`Picking up the connection ${id} failed: ${(err as Error).message}`))
      .finally(() => {
        if (this.recheck.delete(id)) this.noticed(id);
      });
  }

  /** Starts or drops the connection as the store has it now; true when it did either. One at a time per id. */
  private check(id: ConnectionId): Promise<boolean> {
    const running = this.checking.get(id);
    if (running) {
      this.recheck.add(id);
      return running.then(() => false);
    }
    const run = this.checkNow(id).finally(() => this.checking.delete(id));
    this.checking.set(id, run);
    return run;
  }

  private async checkNow(id: ConnectionId): Promise<boolean> {
    if (this.busy.has(id) || this.disposed) return false;
    const { record } = await this.store.load(id);
    if (this.busy.has(id) || this.disposed) return false;
    const started = this.entries.has(id);
    if (record && !started) {
      await this.startEntry(id, this.addedManagerConfig(record.profile));
      return true;
    }
    if (!record && started) {
      await this.dropEntry(id);
      return true;
    }
    return false;
  }
}
