// The engine's pieces as every composition builds them from a Config: startDesk (the desktop app,
// the headless server, the CLI; with demo mode) and the library's createQuickBooks (without it).
// Nothing here may import the emulator: the library reaches these and nothing of demo mode.
import { defaultDataDir, hasClientCredentials, type Config } from './config';
import { FileConnectionStore } from './file-connection-store';
import { IntuitOAuth } from './intuit-oauth';
import type { LogFn } from './log';
import type { TokenManagerConfig } from './token-manager';

/** The file store in QB_DATA_DIR (the default when no other store is chosen). */
export function fileStoreFor(config: Config, log: LogFn): FileConnectionStore {
  return new FileConnectionStore({
    dataDir: config.dataDir ?? defaultDataDir(),
    storeKey: config.storeKey,
    log,
    environment: config.environment,
  });
}

/** The token/revoke/authorize protocol for the configured keys; null without them. */
export function tokenEndpointFor(config: Config): IntuitOAuth | null {
  if (!hasClientCredentials(config) || !config.clientId || !config.clientSecret) return null;
  return new IntuitOAuth({
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    tokenUrl: config.tokenUrl,
    revokeUrl: config.revokeUrl,
    authorizeUrl: config.authorizeUrl,
    timeoutMs: config.httpTimeoutMs,
  });
}

/** The parts of the configuration the TokenManager reads. */
export function managerConfigFor(config: Config): TokenManagerConfig {
  return {
    refreshToken: config.refreshToken,
    accessToken: config.accessToken,
    realmId: config.realmId,
    environment: config.environment,
    refreshSkewSeconds: config.refreshSkewSeconds,
    demo: config.demo,
    canConnect: hasClientCredentials(config),
    warnings: config.warnings,
  };
}
