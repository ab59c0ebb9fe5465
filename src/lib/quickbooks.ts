// createQuickBooks(): the desk's engine inside the user's own app, one handle per company. Nothing
// happens on creation (a module-level `createQuickBooks()` costs nothing at import or build time);
// the first call reads the configuration, opens the shared store and starts the company's engine,
// and every later call reuses it. Handles with the same settings share one engine per process
// (engine.ts): one store, and one schedule and API queue per company.
import type { ConnectionDesk } from '../core/connection-desk';
import { UnknownConnectionError as EngineUnknownConnectionError } from '../core/errors';
import { DEFAULT_CONNECTION_ID, type ConnectionSummary, type TokenStatus } from '../shared/contract';
import { leaseConnection, listConnections, type ConnectionLease, type LibraryEngineOptions } from './engine';
import { toLibraryError } from './errors';
import { resolveClientName, resolveConfig, resolveConnection, type CreateQuickBooksOptions } from './options';

export interface QuickBooks {
  /** The name this process shows in the desk's history. */
  readonly clientName: string;
  /**
   * Starts the engine if it is not running yet (reads the configuration, opens the store) and
   * resolves with the status. Every other call does this by itself; await it to surface a
   * configuration error (or an unknown connection) early, or before reading getStatus().
   */
  ready(): Promise<TokenStatus>;
  /** A valid access token, refreshed first when needed (one refresh for every caller and process). */
  getAccessToken(): Promise<string>;
  /**
   * fetch() for the Accounting API: adds the bearer and `Accept: application/json`, resolves
   * `/v3/company/{realmId}/…` against the configured API base (or `query`, `customer/1` against
   * this company), refreshes once and retries once on a 401, keeps at most 10 requests in flight
   * for the company, and resolves only with a 2xx answer. Rejects with QuickBooksApiError (any
   * other answer), TransientError, ReauthorizationRequiredError or NotConfiguredError.
   */
  fetch(pathOrUrl: string | URL, init?: RequestInit): Promise<Response>;
  /** The current status (previews only, never a token value). Call after ready() or any other call. */
  getStatus(): TokenStatus;
  /** Forces a refresh; concurrent calls, here or in the desk, share one token call. */
  refresh(): Promise<TokenStatus>;
  /** Drops the cached access token; the refresh token is kept. */
  clear(): Promise<TokenStatus>;
  /** Called with every new status, including changes other processes make. Returns the unsubscribe function. */
  onStatusChanged(listener: (status: TokenStatus) => void): () => void;
  /**
   * The handle for another company in the same store (a connection id, or the company's realm id),
   * on the same engine. The same handle each time for the same id; closing this handle closes the
   * handles it gave. An id the store does not hold rejects calls with UnknownConnectionError.
   */
  connection(id: string): QuickBooks;
  /**
   * Every connection in the store, as the desk lists them: the default one first, then each company
   * (id, name, company, environment, realm id, state, expiries, last refresh). Starts no company.
   */
  listConnections(): Promise<ConnectionSummary[]>;
  /**
   * Lets go of the company: its schedule stops once no other handle in this process uses it, after
   * an in-flight refresh is saved. Later calls reject.
   */
  close(): Promise<void>;
}

/** Test and benchmark knobs for the engine; not part of the public options. */
export interface InternalOptions {
  manager?: LibraryEngineOptions['manager'];
}

/** The library's handle for one company (default: the default connection): nothing runs until the first call. */
export function createQuickBooks(options: CreateQuickBooksOptions = {}): QuickBooks {
  return new LibraryQuickBooks(options, {}, null);
}

/** createQuickBooks with engine knobs (back-off, clock), for tests; not exported by the package. */
export function createQuickBooksWith(
  options: CreateQuickBooksOptions,
  internal: InternalOptions,
): QuickBooks {
  return new LibraryQuickBooks(options, internal, null);
}

/** The default log: one function, so handles without a log of their own share an engine. */
const silent = (): void => undefined;

/** A handle made by createQuickBooks and those it gave out with connection(id). */
class Family {
  closed = false;
  /** Every open handle, closed with the first one. */
  readonly members = new Set<LibraryQuickBooks>();
  /** The handle connection(id) gives for each id. */
  readonly byTarget = new Map<string, LibraryQuickBooks>();

  join(handle: LibraryQuickBooks): void {
    this.members.add(handle);
    if (!this.byTarget.get(handle.target)?.isOpen()) this.byTarget.set(handle.target, handle);
  }

  leave(handle: LibraryQuickBooks): void {
    this.members.delete(handle);
    if (this.byTarget.get(handle.target) === handle) this.byTarget.delete(handle.target);
  }
}

class LibraryQuickBooks implements QuickBooks {
  readonly clientName: string;
  /** The connection asked for: an id, a realm id, or the default connection. */
  readonly target: string;
  private readonly family: Family;
  private readonly root: boolean;
  private starting: Promise<ConnectionLease> | null = null;
  private lease: ConnectionLease | null = null;
  private unsubscribe: (() => void) | null = null;
  private closed = false;
  private readonly listeners = new Set<(status: TokenStatus) => void>();

  constructor(
    private readonly options: CreateQuickBooksOptions,
    private readonly internal: InternalOptions,
    family: Family | null,
  ) {
    this.clientName = resolveClientName(options.clientName);
    this.target = resolveConnection(options.connection);
    this.root = family === null;
    this.family = family ?? new Family();
    this.family.join(this);
  }

  isOpen(): boolean {
    return !this.closed;
  }

  ready(): Promise<TokenStatus> {
    return this.call(async (desk) => desk.getStatus());
  }

  getAccessToken(): Promise<string> {
    return this.call((desk) => desk.getAccessToken());
  }

  fetch(pathOrUrl: string | URL, init?: RequestInit): Promise<Response> {
    // One client per company (the desk's own), so its queue keeps the company's requests to 10 in flight.
    return this.call((desk) => desk.client().fetch(pathOrUrl, init));
  }

  getStatus(): TokenStatus {
    if (this.closed) throw this.closedError();
    if (!this.lease) {
      throw new Error(
        `QuickBooks (${this.label()}): getStatus() was called before the engine started; await quickbooks.ready() (or any other call) first.`,
      );
    }
    try {
      return this.lease.desk().getStatus();
    } catch (err) {
      throw toLibraryError(err);
    }
  }

  refresh(): Promise<TokenStatus> {
    return this.call((desk) => desk.refresh('manual'));
  }

  clear(): Promise<TokenStatus> {
    return this.call((desk) => desk.clear());
  }

  onStatusChanged(listener: (status: TokenStatus) => void): () => void {
    this.listeners.add(listener);
    // Subscribing starts the engine; a failure to start reaches the next awaited call instead.
    this.started().catch(() => undefined);
    return () => {
      this.listeners.delete(listener);
    };
  }

  connection(id: string): QuickBooks {
    const target = resolveConnection(id, 'connection(id)');
    if (this.family.closed) throw this.closedError();
    if (target === this.target && !this.closed) return this;
    const known = this.family.byTarget.get(target);
    if (known?.isOpen()) return known;
    return new LibraryQuickBooks({ ...this.options, connection: target }, this.internal, this.family);
  }

  async listConnections(): Promise<ConnectionSummary[]> {
    if (this.closed) throw this.closedError();
    try {
      return await listConnections(resolveConfig(this.options), this.engineOptions());
    } catch (err) {
      throw toLibraryError(err);
    }
  }

  async close(): Promise<void> {
    if (this.root) {
      this.family.closed = true;
      await Promise.all([...this.family.members].filter((handle) => handle !== this).map((h) => h.close()));
    }
    this.closed = true;
    this.listeners.clear();
    this.family.leave(this);
    const lease = await this.starting?.catch(() => null);
    this.unsubscribe?.();
    this.unsubscribe = null;
    await lease?.release();
  }

  // ---------------------------------------------------------------- engine

  /** Runs `action` on the company's started desk; whatever it throws reaches the caller as a library error. */
  private async call<T>(action: (desk: ConnectionDesk) => Promise<T>): Promise<T> {
    const lease = await this.started();
    try {
      return await action(lease.desk());
    } catch (err) {
      // Removed by another process: let go of it; the next call looks for the connection again.
      if (err instanceof EngineUnknownConnectionError) this.forget(lease);
      throw toLibraryError(err);
    }
  }

  private started(): Promise<ConnectionLease> {
    if (this.closed) return Promise.reject(this.closedError());
    this.starting ??= this.start().catch((err: unknown) => {
      // A later call tries again (the store may be back, the company added); the configuration is read anew then.
      this.starting = null;
      // A handle for an id the store does not hold (a URL's, say) is not kept for connection(id) to give again.
      if (err instanceof EngineUnknownConnectionError) this.family.leave(this);
      throw toLibraryError(err);
    });
    return this.starting;
  }

  private async start(): Promise<ConnectionLease> {
    const config = resolveConfig(this.options);
    const lease = await leaseConnection(config, this.engineOptions(), this.target);
    if (this.closed) {
      await lease.release();
      throw this.closedError();
    }
    this.unsubscribe = lease.manager().onStatusChanged((status) => {
      for (const listener of [...this.listeners]) {
        try {
          listener(status);
        } catch (err) {
          // One listener's bug must not keep the status from the others, nor break the engine.
          lease.log(`An onStatusChanged listener threw: ${err instanceof Error ? err.name : typeof err}`);
        }
      }
    });
    this.lease = lease;
    this.family.join(this);
    return lease;
  }

  private forget(lease: ConnectionLease): void {
    if (this.lease !== lease) return;
    this.lease = null;
    this.starting = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
    void lease.release();
  }

  private engineOptions(): LibraryEngineOptions {
    return {
      clientName: this.clientName,
      log: this.options.log ?? silent,
      quiet: this.options.log === undefined,
      manager: this.internal.manager,
    };
  }

  private label(): string {
    return this.target === DEFAULT_CONNECTION_ID
      ? this.clientName
      : `${this.clientName}, connection ${this.target}`;
  }

  private closedError(): Error {
    return new Error(`QuickBooks (${this.label()}) is closed.`);
  }
}
