// One connection's TokenDesk: its TokenManager plus CompanyInfo through its own QuickBooksClient.
// The client is per connection, so Intuit's per-company limits (10 requests in flight, the rate
// limits) are paced per connection: a busy company never queues another's calls.
import type { ConnectionTestResult, RefreshTrigger, TokenStatus } from '../shared/contract';
import type { TokenDesk } from './desk';
import { NotConfiguredError } from './errors';
import type { LogFn } from './log';
import { QuickBooksClient } from './quickbooks-client';
import type { EngineTelemetry } from './telemetry';
import type { TokenManager } from './token-manager';

interface ConnectionDeskOptions {
  manager: TokenManager;
  /** The Accounting API base of the connection's environment (or QB_API_BASE_URL). */
  apiBaseUrl: string;
  httpTimeoutMs: number;
  log: LogFn;
  /** Where the API client's per-request lines go (default: `log`); null builds none (a silent library). */
  requestLog?: LogFn | null;
  /** API requests and retries after a 401, per connection (default: none). */
  telemetry?: EngineTelemetry;
}

export class ConnectionDesk implements TokenDesk {
  private current: { realmId: string; client: QuickBooksClient } | null = null;
  private readonly manager: TokenManager;

  constructor(private readonly options: ConnectionDeskOptions) {
    this.manager = options.manager;
  }

  getStatus(): TokenStatus {
    return this.manager.getStatus();
  }

  refresh(trigger: RefreshTrigger = 'manual'): Promise<TokenStatus> {
    return this.manager.refresh(trigger);
  }

  clear(): Promise<TokenStatus> {
    return this.manager.clear();
  }

  getAccessToken(): Promise<string> {
    return this.manager.getAccessToken();
  }

  /** The connection's Accounting API client (one per realm; its queue is this connection's alone). */
  client(): QuickBooksClient {
    const realmId = this.manager.realmId();
    if (!realmId) {
      throw new NotConfiguredError(
        'No company id: set QB_REALM_ID (the realmId from the Connect redirect) or use Connect.',
      );
    }
    if (this.current?.realmId !== realmId) {
      this.current = {
        realmId,
        client: new QuickBooksClient({
          tokens: this.manager,
          apiBaseUrl: this.options.apiBaseUrl,
          realmId,
          fetchTimeoutMs: this.options.httpTimeoutMs,
          log:
            this.options.requestLog === undefined ? this.options.log : (this.options.requestLog ?? undefined),
          telemetry: this.options.telemetry,
          connectionId: this.manager.connectionId,
        }),
      };
    }
    return this.current.client;
  }

  async testConnection(): Promise<ConnectionTestResult> {
    const client = this.client();
    const started = Date.now();
    const info = await client.getCompanyInfo();
    const durationMs = Date.now() - started;
    if (this.manager.getStatus().connection.companyName !== info.companyName) {
      // The list names the company from now on; a store that cannot be written only loses the name.
      await this.manager.updateProfile({ companyName: info.companyName }).catch((err: unknown) => {
        this.options.log(`Recording the company name failed: ${(err as Error).message}`);
      });
    }
    return {
      companyName: info.companyName,
      realmId: info.realmId,
      intuitTid: info.intuitTid,
      durationMs,
    };
  }

  onStatusChanged(listener: (status: TokenStatus) => void): () => void {
    return this.manager.onStatusChanged(listener);
  }

  dispose(): Promise<void> {
    return this.manager.dispose();
  }
}
