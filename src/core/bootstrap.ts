// Starts the engine the way every adapter (Electron main, headless server, CLI) needs it:
// configuration, the store, the OAuth protocol, the TokenManager and the QuickBooks client behind
// one TokenDesk. In demo mode (no QB_CLIENT_ID, or QB_DEMO=1) it first starts the Intuit emulator
// in-process with short lifetimes and points the configuration at it.
import { join } from 'node:path';
import type { EmulatorHandle, EmulatorOptions } from '../emulator/types';
import type { ConnectionTestResult, RefreshTrigger, TokenStatus } from '../shared/contract';
import {
  configSecrets,
  defaultDataDir,
  describeConfig,
  hasClientCredentials,
  loadConfig,
  type Config,
} from './config';
import { OAuthConnectFlow, refreshTokenInUse } from './connect-flow';
import type { TokenDesk } from './desk';
import { NotConfiguredError } from './errors';
import type { ConnectionStore } from './connection-store';
import { FileConnectionStore } from './file-connection-store';
import { IntuitOAuth } from './intuit-oauth';
import { defaultLog, redactingLog, SecretRegistry, type LogFn } from './log';
import { QuickBooksClient } from './quickbooks-client';
import type { EngineTelemetry } from './telemetry';
import { TokenManager, type TokenManagerOptions } from './token-manager';

/** Demo lifetimes: a newcomer sees expiry, auto-refresh and rotation within minutes. */
export const DEMO_EMULATOR_OPTIONS: EmulatorOptions = {
  accessTokenTtlSeconds: 120,
  // With the demo skew of 30 s a refresh happens every ~90 s: a new refresh token every third one.
  rotateAfterSeconds: 240,
  autoApprove: false,
};
export const DEMO_SKEW_SECONDS = 30;

export interface StartDeskOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** The connection store; default a FileConnectionStore in QB_DATA_DIR (demo mode: its `demo` subfolder). */
  store?: (config: Config) => ConnectionStore;
  /**
   * Names this process in the connection's history and last refresh (`qb-token`, `qb-token serve`,
   * `desktop`, a library user's app name).
   */
  clientName?: string;
  /** Counters and durations for operators (default: none). */
  telemetry?: EngineTelemetry;
  demoEmulatorOptions?: EmulatorOptions;
  log?: LogFn;
  /** Engine knobs for tests and benchmarks (clock, timers, back-off). */
  manager?: Pick<
    TokenManagerOptions,
    'now' | 'timers' | 'retry' | 'random' | 'refreshOnStart' | 'lockWaitMs' | 'storeRetryMs'
  >;
}

export interface StartedDesk {
  desk: TokenDesk;
  manager: TokenManager;
  config: Config;
  /** The token/revoke/authorize protocol (for the Connect flow); null without client keys. */
  oauth: IntuitOAuth | null;
  emulator: EmulatorHandle | null;
  /** Where the connection's record lives (shared with other processes pointing at it). */
  store: ConnectionStore;
  /** Connect (authorization-code flow) and Disconnect (revoke, then forget) for every adapter. */
  connectFlow: OAuthConnectFlow;
  /** Every token value seen so far; the log redacts them. */
  secrets: SecretRegistry;
  log: LogFn;
  close(): Promise<void>;
}

export async function startDesk(options: StartDeskOptions = {}): Promise<StartedDesk> {
  const secrets = new SecretRegistry();
  const log = redactingLog(options.log ?? defaultLog, secrets);
  let config = loadConfig(options.env ?? process.env, options.cwd ?? process.cwd());
  secrets.pin(...configSecrets(config));

  let emulator: EmulatorHandle | null = null;
  if (config.demo) {
    // Loaded only in demo mode: every CLI process would otherwise pay for the emulator's modules.
    const { startEmulator } = await import('../emulator');
    emulator = await startEmulator({ ...DEMO_EMULATOR_OPTIONS, ...options.demoEmulatorOptions });
    // The demo app is registered with whatever redirect URI the desk uses (the emulator knows only
    // the default /callback ones); a URI it cannot register, Connect will report.
    if (config.redirectUri) {
      try {
        emulator.control.registerRedirectUri(config.redirectUri);
      } catch (err) {
        log(`Demo mode: the emulator could not register QB_REDIRECT_URI (${(err as Error).message}).`);
      }
    }
    secrets.pin(emulator.clientSecret, emulator.refreshToken);
    config = {
      ...config,
      clientId: emulator.clientId,
      clientSecret: emulator.clientSecret,
      refreshToken: emulator.refreshToken,
      accessToken: null,
      realmId: emulator.realmId,
      tokenUrl: emulator.tokenUrl,
      revokeUrl: emulator.revokeUrl,
      authorizeUrl: emulator.authorizeUrl,
      apiBaseUrl: emulator.apiBaseUrl,
      refreshSkewSeconds: config.sources.QB_REFRESH_SKEW_SECONDS
        ? config.refreshSkewSeconds
        : DEMO_SKEW_SECONDS,
      // Demo tokens never share a store with a real connection.
      dataDir: join(config.dataDir ?? defaultDataDir(), 'demo'),
    };
    log(
      `Demo mode: Intuit emulator on ${emulator.url} (access tokens live ${DEMO_EMULATOR_OPTIONS.accessTokenTtlSeconds} s).`,
    );
  }
  log(`Configuration: ${JSON.stringify(describeConfig(config))}`);

  const store =
    options.store?.(config) ??
    new FileConnectionStore({
      dataDir: config.dataDir ?? defaultDataDir(),
      storeKey: config.storeKey,
      log,
      environment: config.environment,
    });
  const oauth =
    hasClientCredentials(config) && config.clientId && config.clientSecret
      ? new IntuitOAuth({
          clientId: config.clientId,
          clientSecret: config.clientSecret,
          tokenUrl: config.tokenUrl,
          revokeUrl: config.revokeUrl,
          authorizeUrl: config.authorizeUrl,
          timeoutMs: config.httpTimeoutMs,
        })
      : null;
  const manager = new TokenManager({
    config: {
      refreshToken: config.refreshToken,
      accessToken: config.accessToken,
      realmId: config.realmId,
      environment: config.environment,
      refreshSkewSeconds: config.refreshSkewSeconds,
      demo: config.demo,
      canConnect: hasClientCredentials(config),
      warnings: config.warnings,
    },
    store,
    oauth,
    log,
    secrets,
    clientName: options.clientName,
    telemetry: options.telemetry,
    ...options.manager,
  });
  try {
    await manager.start();
  } catch (err) {
    await manager.dispose();
    await store.close();
    await emulator?.close();
    throw err;
  }
  const desk = new ManagedDesk(manager, config, log);
  const connectFlow = new OAuthConnectFlow({
    oauth,
    tokens: manager,
    currentRefreshToken: () =>
      refreshTokenInUse({ status: () => manager.getStatus(), store, envRefreshToken: config.refreshToken }),
    scopes: config.scopes,
    log,
    secrets,
  });
  return {
    desk,
    manager,
    config,
    oauth,
    emulator,
    store,
    connectFlow,
    secrets,
    log,
    async close() {
      await manager.dispose();
      await store.close();
      await emulator?.close();
    },
  };
}

/** TokenDesk over the manager, plus CompanyInfo through the auto-refreshing client. */
class ManagedDesk implements TokenDesk {
  private client: { realmId: string; client: QuickBooksClient } | null = null;

  constructor(
    private readonly manager: TokenManager,
    private readonly config: Config,
    private readonly log: LogFn,
  ) {}

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

  async testConnection(): Promise<ConnectionTestResult> {
    const realmId = this.manager.getStatus().realmId;
    if (!realmId) {
      throw new NotConfiguredError(
        'No company id: set QB_REALM_ID (the realmId from the Connect redirect) or use Connect.',
      );
    }
    if (this.client?.realmId !== realmId) {
      this.client = {
        realmId,
        client: new QuickBooksClient({
          tokens: this.manager,
          apiBaseUrl: this.config.apiBaseUrl,
          realmId,
          fetchTimeoutMs: this.config.httpTimeoutMs,
          log: this.log,
        }),
      };
    }
    const started = Date.now();
    const info = await this.client.client.getCompanyInfo();
    return {
      companyName: info.companyName,
      realmId: info.realmId,
      intuitTid: info.intuitTid,
      durationMs: Date.now() - started,
    };
  }

  onStatusChanged(listener: (status: TokenStatus) => void): () => void {
    return this.manager.onStatusChanged(listener);
  }

  dispose(): Promise<void> {
    return this.manager.dispose();
  }
}
