// The engine's pieces as every composition builds them from a Config: startDesk (the desktop app,
// the headless server, the CLI; with demo mode) and the library's createQuickBooks (without it).
// Nothing here may import the emulator: the library reaches these and nothing of demo mode.
import { DEFAULT_CONNECTION_ID, type ConnectionId, type QbEnvironment } from '../shared/contract';
import { defaultDataDir, hasClientCredentials, INTUIT_ENDPOINTS, type Config } from './config';
import { ConnectionDesk } from './connection-desk';
import type { ConnectionProfile } from './connection-record';
import { FileConnectionStore } from './file-connection-store';
import { IntuitOAuth } from './intuit-oauth';
import type { LogFn } from './log';
import { TokenManager, type TokenManagerConfig, type TokenManagerOptions } from './token-manager';

/** The file store in QB_DATA_DIR (the default when no other store is chosen). */
export function fileStoreFor(config: Config, log: LogFn): FileConnectionStore {
  return new FileConnectionStore({
    dataDir: config.dataDir ?? defaultDataDir(),
    storeKey: config.storeKey,
    log,
    environment: config.environment,
  });
}

/** The client keys an environment's connections use; null when that environment has none. */
export function clientKeysFor(
  config: Config,
  environment: QbEnvironment,
): { clientId: string; clientSecret: string } | null {
  if (environment === config.environment && config.clientId && config.clientSecret)
    return { clientId: config.clientId, clientSecret: config.clientSecret };
  return config.clientKeys[environment];
}

/** The token/revoke/authorize protocol for an environment's keys (default QB_ENVIRONMENT's); null without them. */
function tokenEndpointFor(
  config: Config,
  environment: QbEnvironment = config.environment,
): IntuitOAuth | null {
  const keys = clientKeysFor(config, environment);
  if (!keys) return null;
  return new IntuitOAuth({
    clientId: keys.clientId,
    clientSecret: keys.clientSecret,
    tokenUrl: config.tokenUrl,
    revokeUrl: config.revokeUrl,
    authorizeUrl: config.authorizeUrl,
    timeoutMs: config.httpTimeoutMs,
  });
}

/**
 * One OAuth client per environment, made on first use and shared by that environment's connections
 * (the registry and the library's engine each keep one); null without that environment's keys.
 */
export function oauthClientsFor(config: Config): (environment: QbEnvironment) => IntuitOAuth | null {
  const clients = new Map<QbEnvironment, IntuitOAuth | null>();
  return (environment) => {
    if (!clients.has(environment)) clients.set(environment, tokenEndpointFor(config, environment));
    return clients.get(environment) ?? null;
  };
}

/** QB_API_BASE_URL (or the demo emulator's) serves every environment; else Intuit's per environment. */
function apiBaseUrlFor(config: Config, environment: QbEnvironment): string {
  if (environment === config.environment || config.demo || config.sources.QB_API_BASE_URL !== undefined)
    return config.apiBaseUrl;
  return INTUIT_ENDPOINTS.apiBaseUrl[environment];
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

/** A connection other than the default one: no QB_* tokens; its environment and realm come from its record. */
export function storedConnectionManagerConfig(
  config: Config,
  profile: Pick<ConnectionProfile, 'environment' | 'realmId' | 'name'>,
): TokenManagerConfig {
  return {
    refreshToken: null,
    accessToken: null,
    realmId: profile.realmId,
    environment: profile.environment,
    refreshSkewSeconds: config.refreshSkewSeconds,
    demo: config.demo,
    canConnect: clientKeysFor(config, profile.environment) !== null,
    warnings: config.warnings,
    name: profile.name,
  };
}

/**
 * A connection's TokenManager, started, and its desk (CompanyInfo and the API client of its
 * environment's API base), logging under the connection's name. The store is shared with the other
 * connections: a failed start disposes the manager and leaves the store open.
 */
export async function startConnection(
  config: Config,
  options: TokenManagerOptions & { connectionId: ConnectionId; log: LogFn; requestLog?: null },
): Promise<{ manager: TokenManager; desk: ConnectionDesk }> {
  const log = connectionLog(options.log, options.connectionId);
  const manager = new TokenManager({ ...options, log });
  try {
    await manager.start();
  } catch (err) {
    await manager.dispose();
    throw err;
  }
  const desk = new ConnectionDesk({
    manager,
    apiBaseUrl: apiBaseUrlFor(config, options.config.environment),
    httpTimeoutMs: config.httpTimeoutMs,
    log,
    requestLog: options.requestLog,
    telemetry: options.telemetry,
  });
  return { manager, desk };
}

/** The default connection's log lines read as they always did; every other one's names its connection. */
function connectionLog(log: LogFn, id: ConnectionId): LogFn {
  return id === DEFAULT_CONNECTION_ID ? log : (line, fields) => log(`[${id}] ${line}`, fields);
}
