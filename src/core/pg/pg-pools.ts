// The PostgreSQL store's connections to the server: a pool for reads and writes outside a lock, a
// pool of lock sessions (lock-sessions.ts), and a fresh client for LISTEN (change-watch.ts), all with
// keepalives tight enough that the server ends the session of a vanished client, freeing its locks.
// Opening connects and creates or migrates the schema (schema.ts) once; concurrent callers share it.
import pg from 'pg';
import type { LogFn } from '../log';
import { toStoreError } from './pg-errors';
import { migrate } from './schema';
import type { StoreUrl } from './store-url';

/** A pooled query or one on the lock's session. */
export type Queryable = Pick<pg.ClientBase, 'query'>;

interface PgPoolsOptions {
  connectTimeoutMs: number;
  poolSize: number;
}

export class PgPools {
  /** Reads and writes outside a lock. */
  readonly pool: pg.Pool;
  /** Lock sessions, apart from `pool` (see the constructor). */
  readonly lockPool: pg.Pool;
  private opened: Promise<void> | null = null;

  constructor(
    private readonly url: StoreUrl,
    private readonly log: LogFn,
    private readonly options: PgPoolsOptions,
  ) {
    this.pool = new pg.Pool({
      ...this.clientConfig(),
      max: options.poolSize,
      idleTimeoutMillis: 10_000,
      // Idle connections never keep a process that is done (a CLI command) alive.
      allowExitOnIdle: true,
    });
    // A lock is held for a whole token call. Taken from `pool`, more companies refreshing at once than
    // it has slots would starve the rest (reads too), and pg-pool ends a wait for a slot after
    // connectionTimeoutMillis as "timeout exceeded when trying to connect", which reads as an
    // unreachable store, long before the lock's own deadline. So locks have a pool of their own with
    // no slot limit (the server's max_connections is the bound): each lock waits only for the lock,
    // and idle sessions are reused as in `pool`.
    this.lockPool = new pg.Pool({
      ...this.clientConfig(),
      max: Number.POSITIVE_INFINITY,
      idleTimeoutMillis: 10_000,
      allowExitOnIdle: true,
    });
    // An idle client whose server went away emits 'error' on the pool: without a handler that is a crash.
    for (const each of [this.pool, this.lockPool]) {
      each.on('error', () => this.log('PostgreSQL store: an idle connection was closed by the server.'));
    }
  }

  /** Connects and creates or migrates the schema (once; concurrent callers share it). */
  open(): Promise<void> {
    this.opened ??= this.migrate().catch((err: unknown) => {
      this.opened = null;
      throw toStoreError(err, this.url, 'opening the store');
    });
    return this.opened;
  }

  /** A new, unconnected client of its own (for LISTEN). */
  newClient(): pg.Client {
    return new pg.Client(this.clientConfig());
  }

  async end(): Promise<void> {
    await Promise.all([this.pool.end(), this.lockPool.end()].map((ending) => ending.catch(() => undefined)));
  }

  private clientConfig(): pg.ClientConfig {
    return {
      host: this.url.host,
      port: this.url.port,
      user: this.url.user,
      password: this.url.password ?? undefined,
      database: this.url.database,
      ssl: this.url.ssl as pg.ClientConfig['ssl'],
      application_name: 'qb-token-desk',
      connectionTimeoutMillis: this.options.connectTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: 5000,
      // The server notices a vanished client (a machine that lost power, a cut network) within ~10 s
      // and ends its session, freeing any lock it held; a killed process's socket closes at once.
      options: '-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3',
    };
  }

  private async migrate(): Promise<void> {
    const client = await this.pool.connect();
    let broken = false;
    const onError = () => (broken = true);
    client.on('error', onError);
    try {
      const applied = await migrate(client);
      if (applied.length > 0) {
        this.log(`PostgreSQL store: schema migrated to version ${applied.at(-1)} on ${this.url.location}.`);
      }
    } catch (err) {
      broken = true;
      throw err;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }
}
