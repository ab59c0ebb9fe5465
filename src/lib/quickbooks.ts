// createQuickBooks(): the desk's engine inside the user's own app. Nothing happens on creation (a
// module-level `createQuickBooks()` costs nothing at import or build time); the first call reads
// the configuration, opens the shared store and starts the engine, and every later call reuses it.
import { NotConfiguredError } from '../core/errors';
import { QuickBooksClient } from '../core/quickbooks-client';
import type { TokenStatus } from '../shared/contract';
import { startLibraryEngine, type LibraryEngine, type LibraryEngineOptions } from './engine';
import { toLibraryError } from './errors';
import { resolveClientName, resolveConfig, type CreateQuickBooksOptions } from './options';

export interface QuickBooks {
  /** The name this process shows in the desk's history. */
  readonly clientName: string;
  /**
   * Starts the engine if it is not running yet (reads the configuration, opens the store) and
   * resolves with the status. Every other call does this by itself; await it to surface a
   * configuration error early or before reading getStatus().
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
  /** Stops the schedule and waits for an in-flight refresh to be saved. Later calls reject. */
  close(): Promise<void>;
}

/** Test and benchmark knobs for the engine; not part of the public options. */
export interface InternalOptions {
  manager?: LibraryEngineOptions['manager'];
}

/** The library's engine for this process: nothing runs until the first call. */
export function createQuickBooks(options: CreateQuickBooksOptions = {}): QuickBooks {
  return new LibraryQuickBooks(options, {});
}

/** createQuickBooks with engine knobs (back-off, clock), for tests; not exported by the package. */
export function createQuickBooksWith(
  options: CreateQuickBooksOptions,
  internal: InternalOptions,
): QuickBooks {
  return new LibraryQuickBooks(options, internal);
}

class LibraryQuickBooks implements QuickBooks {
  readonly clientName: string;
  private starting: Promise<LibraryEngine> | null = null;
  private engine: LibraryEngine | null = null;
  private closed = false;
  private readonly listeners = new Set<(status: TokenStatus) => void>();
  private client: QuickBooksClient | null = null;

  constructor(
    private readonly options: CreateQuickBooksOptions,
    private readonly internal: InternalOptions,
  ) {
    this.clientName = resolveClientName(options.clientName);
  }

  async ready(): Promise<TokenStatus> {
    return (await this.started()).manager.getStatus();
  }

  getAccessToken(): Promise<string> {
    return this.call((engine) => engine.manager.getAccessToken());
  }

  fetch(pathOrUrl: string | URL, init?: RequestInit): Promise<Response> {
    return this.call((engine) => this.clientFor(engine).fetch(pathOrUrl, init));
  }

  getStatus(): TokenStatus {
    if (this.closed) throw new Error(`QuickBooks (${this.clientName}) is closed.`);
    if (!this.engine) {
      throw new Error(
        `QuickBooks (${this.clientName}): getStatus() was called before the engine started; await quickbooks.ready() (or any other call) first.`,
      );
    }
    return this.engine.manager.getStatus();
  }

  refresh(): Promise<TokenStatus> {
    return this.call((engine) => engine.manager.refresh('manual'));
  }

  clear(): Promise<TokenStatus> {
    return this.call((engine) => engine.manager.clear());
  }

  onStatusChanged(listener: (status: TokenStatus) => void): () => void {
    this.listeners.add(listener);
    // Subscribing starts the engine; a failure to start reaches the next awaited call instead.
    this.started().catch(() => undefined);
    return () => {
      this.listeners.delete(listener);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    const engine = await this.starting?.catch(() => null);
    await engine?.close();
  }

  /** Runs `action` on the started engine; whatever it throws reaches the caller as a library error. */
  private async call<T>(action: (engine: LibraryEngine) => Promise<T>): Promise<T> {
    const engine = await this.started();
    try {
      return await action(engine);
    } catch (err) {
      throw toLibraryError(err);
    }
  }

  private started(): Promise<LibraryEngine> {
    if (this.closed) return Promise.reject(new Error(`QuickBooks (${this.clientName}) is closed.`));
    this.starting ??= this.start().catch((err: unknown) => {
      // A later call tries again (the store may be back); the configuration is read anew then.
      this.starting = null;
      throw toLibraryError(err);
    });
    return this.starting;
  }

  private async start(): Promise<LibraryEngine> {
    const config = resolveConfig(this.options);
    const engine = await startLibraryEngine(config, {
      clientName: this.clientName,
      log: this.options.log ?? (() => undefined),
      manager: this.internal.manager,
    });
    if (this.closed) {
      await engine.close();
      throw new Error(`QuickBooks (${this.clientName}) is closed.`);
    }
    engine.manager.onStatusChanged((status) => {
      for (const listener of [...this.listeners]) {
        try {
          listener(status);
        } catch (err) {
          // One listener's bug must not keep the status from the others, nor break the engine.
          engine.log(`An onStatusChanged listener threw: ${err instanceof Error ? err.name : typeof err}`);
        }
      }
    });
    this.engine = engine;
    return engine;
  }

  /** One client per company, so its queue keeps the company's requests to 10 in flight. */
  private clientFor(engine: LibraryEngine): QuickBooksClient {
    const realmId = engine.manager.getStatus().realmId;
    if (!realmId) {
      throw new NotConfiguredError(
        'No QuickBooks company id: set QB_REALM_ID (the realmId from the Connect redirect) or connect through the desk.',
      );
    }
    if (this.client?.realmId !== realmId) {
      this.client = new QuickBooksClient({
        tokens: engine.manager,
        apiBaseUrl: engine.config.apiBaseUrl,
        realmId,
        fetchTimeoutMs: engine.config.httpTimeoutMs,
        log: engine.log,
      });
    }
    return this.client;
  }
}
