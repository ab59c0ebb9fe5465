// The engine as the library runs it: the desk's own pieces (the connection store, IntuitOAuth,
// TokenManager, built by src/core/engine-parts.ts exactly as startDesk builds them) over a Config,
// with no demo branch, so nothing here can load the emulator. Same store and lock as the desk: a
// process using the library and the desk refresh one chain, one at a time, and share its history.
import { configSecrets, type Config } from '../core/config';
import type { ConnectionStore } from '../core/connection-store';
import { fileStoreFor, managerConfigFor, tokenEndpointFor } from '../core/engine-parts';
import { redactingLog, SecretRegistry, type LogFn } from '../core/log';
import { selectSharedStore } from '../core/store-selection';
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
  // The same choice as the desk's: QB_STORE_URL's PostgreSQL store, else the file store in QB_DATA_DIR.
  const store: ConnectionStore = (await selectSharedStore(config, log)) ?? fileStoreFor(config, log);
  const manager = new TokenManager({
    config: managerConfigFor(config),
    store,
    oauth: tokenEndpointFor(config),
    log,
    secrets,
    clientName: options.clientName,
    ...options.manager,
  });
  try {
    await manager.start();
  } catch (err) {
    await manager.dispose();
    await store.close();
    throw err;
  }
  return {
    manager,
    config,
    secrets,
    log,
    async close() {
      await manager.dispose();
      await store.close();
    },
  };
}
