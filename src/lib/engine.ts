// The engine as the library runs it: the desk's own pieces (the connection store, one IntuitOAuth
// per environment, a TokenManager and a ConnectionDesk per connection, built by
// src/core/engine-parts.ts as the desk builds them) over a Config, with no demo branch, so nothing
// here can load the emulator. Same store and lock as the desk: a process using the library and the
// desk refresh each connection's chain one at a time, and share its history.
//
// One engine per process and settings, shared by every handle (createQuickBooks()) made with them:
// one store (one PostgreSQL pool, one file watcher) however many companies the app talks to, and one
// TokenManager and API client per company, so its schedule and its 10-in-flight queue are the
// company's, not the handle's. Unlike the desk it serves only the connections its handles ask for,
// each while a handle holds it; the engine closes with its last handle.
import { createHash } from 'node:crypto';
import {
  DEFAULT_CONNECTION_ID,
  type ConnectionId,
  type ConnectionSummary,
  type QbEnvironment,
} from '../shared/contract';
import { compareListOrder, summarizeStatus } from '../shared/connections';
import { isValidConnectionId, isValidRealmId } from '../shared/ids';
import { configSecrets, type Config } from '../core/config';
import type { ConnectionDesk } from '../core/connection-desk';
import type { ConnectionStore } from '../core/connection-store';
import {
  fileStoreFor,
  managerConfigFor,
  oauthClientsFor,
  startConnection,
  storedConnectionManagerConfig,
} from '../core/engine-parts';
import type { IntuitOAuth } from '../core/intuit-oauth';
import { redactingLog, SecretRegistry, type LogFn } from '../core/log';
import { selectSharedStore } from '../core/store-selection';
import type { TokenManager, TokenManagerOptions } from '../core/token-manager';
import { UnknownConnectionError } from './errors';
import { storedConnectionStatus } from './stored-status';

export interface LibraryEngineOptions {
  clientName: string;
  log: LogFn;
  /** The app gave no log: the API client builds no per-request line at all (it would be thrown away). */
  quiet?: boolean;
  /** Engine knobs for tests (back-off, clock). */
  manager?: Pick<TokenManagerOptions, 'retry' | 'now' | 'timers' | 'random' | 'lockWaitMs'>;
}

/** One handle's hold on one connection of the engine. */
export interface ConnectionLease {
  readonly id: ConnectionId;
  readonly config: Config;
  /** The caller's log behind the redactor, prefixed with the client name. */
  readonly log: LogFn;
  /** Every token value the engine has seen (for the log redactor and the tests' leak scans). */
  readonly secrets: SecretRegistry;
  /** The connection's desk; throws UnknownConnectionError once another process removed it. */
  desk(): ConnectionDesk;
  manager(): TokenManager;
  /** Lets go of the connection (its engine stops when no handle holds it) and of the engine. */
  release(): Promise<void>;
}

interface Served {
  readonly id: ConnectionId;
  /** Handles holding it, counted before its start completes. */
  leases: number;
  /** Another process removed the connection: its engine is stopped, its leases answer UnknownConnectionError. */
  removed: boolean;
  manager: TokenManager | null;
  desk: ConnectionDesk | null;
  ready: Promise<void>;
  checking: boolean;
  recheck: boolean;
}

class LibraryEngine {
  private readonly served = new Map<ConnectionId, Served>();
  /** One OAuth client per environment, shared by its connections; null without that environment's keys. */
  private readonly oauthFor: (environment: QbEnvironment) => IntuitOAuth | null;
  private opened: Promise<void> | null = null;
  private readonly unwatch: () => void;

  constructor(
    readonly config: Config,
    readonly store: ConnectionStore,
    private readonly options: LibraryEngineOptions,
    /** Every token value the engine has seen; the log redacts them. */
    readonly secrets: SecretRegistry,
    /** The caller's log behind the redactor, prefixed with the client name. */
    readonly log: LogFn,
  ) {
    this.oauthFor = oauthClientsFor(config);
    this.unwatch = store.watch((change) => this.noticed(change.id));
  }

  /** Serves `requested` (a connection id or a company's realm id) for one more handle. */
  async lease(requested: string, letGo: () => Promise<void>): Promise<ConnectionLease> {
    const id = await this.resolve(requested);
    const served = this.serve(id);
    await served.ready;
    let released = false;
    return {
      id,
      config: this.config,
      log: this.log,
      secrets: this.secrets,
      desk: () => this.deskOf(served),
      manager: () => {
        this.deskOf(served);
        return served.manager as TokenManager;
      },
      release: async () => {
        if (released) return;
        released = true;
        await this.unserve(served);
        await letGo();
      },
    };
  }

  /** Every connection the store holds (the default one always), as the desk lists them. */
  async list(): Promise<ConnectionSummary[]> {
    await this.openStore();
    const ids = [
      DEFAULT_CONNECTION_ID,
      ...(await this.store.list()).filter((id) => id !== DEFAULT_CONNECTION_ID && isValidConnectionId(id)),
    ];
    const summaries = await Promise.all(
      ids.map(async (id) => {
        const served = this.served.get(id);
        if (served?.desk && !served.removed) return summarizeStatus(served.desk.getStatus());
        const { record } = await this.store.load(id);
        // Removed since the listing (the default connection is listed even without a record).
        if (!record && id !== DEFAULT_CONNECTION_ID) return null;
        const context = { config: this.config, store: this.store, now: Date.now() };
        return summarizeStatus(storedConnectionStatus(id, record, context));
      }),
    );
    return summaries.filter((summary) => summary !== null).sort(compareListOrder);
  }

  async close(): Promise<void> {
    this.unwatch();
    const served = [...this.served.values()];
    this.served.clear();
    await Promise.allSettled(served.map((entry) => entry.ready));
    await Promise.all(served.map((entry) => entry.desk?.dispose()));
    await this.store.close();
  }

  // ---------------------------------------------------------------- connections

  private deskOf(served: Served): ConnectionDesk {
    if (served.removed || !served.desk) throw this.unknown(served.id, true);
    return served.desk;
  }

  private unknown(id: string, removed = false): UnknownConnectionError {
    return new UnknownConnectionError(id, this.store.description, removed);
  }

  private openStore(): Promise<void> {
    this.opened ??= this.store.open().catch((err: unknown) => {
      this.opened = null;
      throw err;
    });
    return this.opened;
  }

  /**
   * The connection id for `requested`: the default connection, a connection id the store holds, or
   * the realm id of a company in it (the connection of the configured environment first: only an
   * emulator reuses a realm id across environments).
   */
  private async resolve(requested: string): Promise<ConnectionId> {
    if (requested === DEFAULT_CONNECTION_ID || this.served.has(requested)) return requested;
    await this.openStore();
    const ids = await this.store.list();
    if (ids.includes(requested)) return requested;
    if (isValidRealmId(requested)) {
      if (this.config.realmId === requested) return DEFAULT_CONNECTION_ID;
      const records = await Promise.all(ids.map(async (id) => (await this.store.load(id)).record));
      const matches = records
        .filter((record) => record && (record.tokens?.realmId ?? record.profile.realmId) === requested)
        .sort(
          (a, b) =>
            Number(b?.profile.environment === this.config.environment) -
            Number(a?.profile.environment === this.config.environment),
        );
      if (matches[0]) return matches[0].id;
    }
    throw this.unknown(requested);
  }

  /** The served connection `id`, counting one more lease; started when no handle held it. */
  private serve(id: ConnectionId): Served {
    const running = this.served.get(id);
    if (running && !running.removed) {
      running.leases += 1;
      return running;
    }
    const served: Served = {
      id,
      leases: 1,
      removed: false,
      manager: null,
      desk: null,
      ready: Promise.resolve(),
      checking: false,
      recheck: false,
    };
    served.ready = this.start(served).catch((err: unknown) => {
      if (this.served.get(id) === served) this.served.delete(id);
      throw err;
    });
    this.served.set(id, served);
    return served;
  }

  private async start(served: Served): Promise<void> {
    const { id } = served;
    let managerConfig = managerConfigFor(this.config);
    if (id !== DEFAULT_CONNECTION_ID) {
      await this.openStore();
      const { record } = await this.store.load(id);
      if (!record) throw this.unknown(id);
      managerConfig = storedConnectionManagerConfig(this.config, record.profile);
    }
    const { manager, desk } = await startConnection(this.config, {
      config: managerConfig,
      store: this.store,
      connectionId: id,
      oauth: this.oauthFor(managerConfig.environment),
      log: this.log,
      secrets: this.secrets,
      clientName: this.options.clientName,
      ...this.options.manager,
      ...(this.options.quiet ? { requestLog: null } : {}),
    });
    served.manager = manager;
    served.desk = desk;
  }

  private async unserve(served: Served): Promise<void> {
    served.leases -= 1;
    if (served.leases > 0) return;
    if (this.served.get(served.id) === served) this.served.delete(served.id);
    await served.ready.catch(() => undefined);
    await served.desk?.dispose();
  }

  /**
   * Another process changed a record. A served connection other than the default one may have been
   * removed (`connections remove`, Remove company): its engine stops, or it would write the record
   * back on its next refresh.
   */
  private noticed(id: ConnectionId): void {
    const served = this.served.get(id);
    if (!served || id === DEFAULT_CONNECTION_ID || !served.desk || served.removed) return;
    if (served.checking) {
      served.recheck = true;
      return;
    }
    served.checking = true;
    void this.store
      .load(id)
      .then(async ({ record }) => {
        if (record || served.removed) return;
        served.removed = true;
        if (this.served.get(id) === served) this.served.delete(id);
        this.log(`The connection ${id} was removed from the store; this app no longer serves it.`);
        await served.desk?.dispose();
      })
      // The store not answering is the engine's to report (its status says so); checked on the next change.
      .catch(() => undefined)
      .finally(() => {
        served.checking = false;
        if (served.recheck) {
          served.recheck = false;
          this.noticed(id);
        }
      });
  }
}

// ---------------------------------------------------------------- one engine per process and settings

interface PoolEntry {
  key: string;
  engine: Promise<LibraryEngine>;
  /** Leases and calls holding the engine (including those still starting). */
  users: number;
}

const pool = new Map<string, PoolEntry>();
const identities = new WeakMap<object, number>();
let nextIdentity = 1;

function identity(value: object | undefined): number {
  if (value === undefined) return 0;
  let known = identities.get(value);
  if (known === undefined) {
    known = nextIdentity++;
    identities.set(value, known);
  }
  return known;
}

/**
 * Handles share an engine when everything that shapes it is the same: the configuration (store,
 * keys, skew), the client name, the log function and the test knobs. Hashed: the key holds no secret.
 */
function engineKey(config: Config, options: LibraryEngineOptions): string {
  const digest = createHash('sha256')
    .update(JSON.stringify([config, options.clientName]))
    .digest('hex');
  return `${digest}:${identity(options.log)}:${identity(options.manager)}`;
}

async function createEngine(config: Config, options: LibraryEngineOptions): Promise<LibraryEngine> {
  const secrets = new SecretRegistry();
  secrets.pin(...configSecrets(config));
  const log = redactingLog(options.log, secrets, `[qb-token-desk ${options.clientName}]`);
  // The same choice as the desk's: QB_STORE_URL's PostgreSQL store, else the file store in QB_DATA_DIR.
  const store: ConnectionStore = (await selectSharedStore(config, log)) ?? fileStoreFor(config, log);
  return new LibraryEngine(config, store, options, secrets, log);
}

function acquire(config: Config, options: LibraryEngineOptions): PoolEntry {
  const key = engineKey(config, options);
  let entry = pool.get(key);
  if (!entry) {
    entry = { key, engine: createEngine(config, options), users: 0 };
    pool.set(key, entry);
  }
  entry.users += 1;
  return entry;
}

async function letGo(entry: PoolEntry): Promise<void> {
  entry.users -= 1;
  if (entry.users > 0) return;
  if (pool.get(entry.key) === entry) pool.delete(entry.key);
  const engine = await entry.engine.catch(() => null);
  await engine?.close();
}

/** Serves `requested` (a connection id or a realm id) for one handle, on this process's engine for `config`. */
export async function leaseConnection(
  config: Config,
  options: LibraryEngineOptions,
  requested: string,
): Promise<ConnectionLease> {
  const entry = acquire(config, options);
  try {
    const engine = await entry.engine;
    return await engine.lease(requested, () => letGo(entry));
  } catch (err) {
    await letGo(entry);
    throw err;
  }
}

/** Every connection in the store `config` names, read through this process's engine for it. */
export async function listConnections(
  config: Config,
  options: LibraryEngineOptions,
): Promise<ConnectionSummary[]> {
  const entry = acquire(config, options);
  try {
    return await (await entry.engine).list();
  } finally {
    await letGo(entry);
  }
}
