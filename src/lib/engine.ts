// The engine as the library runs it: the desk's own pieces (store, IntuitOAuth, TokenManager) over
// a Config, with no demo branch, so nothing here can load the emulator. Same store and lock as
// the desk: a process using the library and the desk refresh one chain, one at a time.
import { configSecrets, defaultDataDir, hasClientCredentials, type Config } from '../core/config';
import { FileTokenStore } from '../core/file-token-store';
import { IntuitOAuth } from '../core/intuit-oauth';
import { redactingLog, SecretRegistry, type LogFn } from '../core/log';
import { TokenManager, type TokenManagerOptions } from '../core/token-manager';

export interface LibraryEngine {
  manager: TokenManager;
  config: Config;
  /** Every token value the engine has seen (for the log redactor and the tests' leak scans). */
  secrets: SecretRegistry;
  /** The caller's log behind the redactor, prefixed with the client name. */
  log: LogFn;
  close(): Promise<void>;
}

export interface LibraryEngineOptions {
  clientName: string;
  log: LogFn;
  /** Engine knobs for tests (back-off, clock). */
  manager?: Pick<TokenManagerOptions, 'retry' | 'now' | 'timers' | 'random'>;
}

export async function startLibraryEngine(
  config: Config,
  options: LibraryEngineOptions,
): Promise<LibraryEngine> {
  const secrets = new SecretRegistry();
  secrets.pin(...configSecrets(config));
  const log = redactingLog(options.log, secrets, `[qb-token-desk ${options.clientName}]`);
  const store = new FileTokenStore({
    dataDir: config.dataDir ?? defaultDataDir(),
    storeKey: config.storeKey,
    log,
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
      demo: false,
      canConnect: hasClientCredentials(config),
    },
    store,
    oauth,
    log,
    secrets,
    ...options.manager,
  });
  try {
    await manager.start();
  } catch (err) {
    await manager.dispose();
    throw err;
  }
  return {
    manager,
    config,
    secrets,
    log,
    close: () => manager.dispose(),
  };
}
