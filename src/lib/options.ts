// What createQuickBooks accepts, and how it becomes the engine's Config: the same QB_* variables,
// sources (process environment, then .env.local, then .env in the working directory) and
// validation as the desk, so a value the desk rejects the library rejects with the same message.
// An explicit `config` object overrides those variables field by field.
import { ConfigError } from '../core/errors';
import { collectVariables, loadConfig, type Config, type ConfigVariable } from '../core/config';
import { DEFAULT_CONNECTION_ID, type QbEnvironment } from '../shared/contract';
import { isValidConnectionId } from '../shared/ids';

/** The QB_* settings in camelCase; each wins over its variable. */
export interface QuickBooksConfig {
  clientId?: string;
  clientSecret?: string;
  refreshToken?: string;
  accessToken?: string;
  realmId?: string;
  environment?: QbEnvironment;
  tokenUrl?: string;
  revokeUrl?: string;
  authorizeUrl?: string;
  apiBaseUrl?: string;
  refreshSkewSeconds?: number;
  /** Where the file store lives; share it with the desk (QB_DATA_DIR) to share the token chain. */
  dataDir?: string;
  /** `postgres://…`: keep the connection in PostgreSQL, shared by every desk and app pointing at it. */
  storeUrl?: string;
  storeKey?: string;
  httpTimeoutMs?: number;
}

export interface CreateQuickBooksOptions {
  /**
   * The company this handle serves: a connection id (`qb-token connections list`) or the company's
   * realm id. Default: the default connection, the one the QB_* environment defines.
   */
  connection?: string;
  /**
   * Names this process in the desk's history beside each refresh it makes (e.g. "billing-app").
   * 1 to 64 printable characters; default "app".
   */
  clientName?: string;
  /** Settings that win over the QB_* environment, field by field. */
  config?: QuickBooksConfig;
  /** The environment to read QB_* from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Where .env.local and .env are read from (default process.cwd()). */
  cwd?: string;
  /** Receives the engine's log lines (token values already replaced by previews). Default: silent. */
  log?: (line: string) => void;
}

const CONFIG_FIELDS: Record<keyof QuickBooksConfig, ConfigVariable> = {
  clientId: 'QB_CLIENT_ID',
  clientSecret: 'QB_CLIENT_SECRET',
  refreshToken: 'QB_REFRESH_TOKEN',
  accessToken: 'QB_ACCESS_TOKEN',
  realmId: 'QB_REALM_ID',
  environment: 'QB_ENVIRONMENT',
  tokenUrl: 'QB_TOKEN_URL',
  revokeUrl: 'QB_REVOKE_URL',
  authorizeUrl: 'QB_AUTHORIZE_URL',
  apiBaseUrl: 'QB_API_BASE_URL',
  refreshSkewSeconds: 'QB_REFRESH_SKEW_SECONDS',
  dataDir: 'QB_DATA_DIR',
  storeUrl: 'QB_STORE_URL',
  storeKey: 'QB_STORE_KEY',
  httpTimeoutMs: 'QB_HTTP_TIMEOUT_MS',
};

const DEFAULT_CLIENT_NAME = 'app';

export function resolveClientName(name: string | undefined): string {
  if (name === undefined) return DEFAULT_CLIENT_NAME;
  // It is shown in every surface's history: short, one line, no control characters.
  if (typeof name !== 'string' || !/^[\x20-\x7e\u00a0-\uffff]{1,64}$/u.test(name) || !name.trim()) {
    throw new ConfigError(
      `clientName must be 1 to 64 printable characters (it names this app in the desk's history), got ${JSON.stringify(String(name).slice(0, 80))}`,
    );
  }
  return name.trim();
}

/** The connection a handle asks for, checked before anything runs (it reaches log lines and paths). */
export function resolveConnection(connection: string | undefined, field = 'connection'): string {
  if (connection === undefined) return DEFAULT_CONNECTION_ID;
  if (typeof connection !== 'string' || !isValidConnectionId(connection)) {
    throw new ConfigError(
      `${field} must be a connection id or a company's realm id (1 to 64 letters, digits, - or _), got ${JSON.stringify(String(connection).slice(0, 80))}`,
    );
  }
  return connection;
}

/** The engine's Config for the library: the desk's loader over the environment plus `config`. */
export function resolveConfig(options: CreateQuickBooksOptions): Config {
  const env: NodeJS.ProcessEnv = { ...(options.env ?? process.env) };
  for (const [field, value] of Object.entries(options.config ?? {})) {
    const variable = Object.hasOwn(CONFIG_FIELDS, field)
      ? CONFIG_FIELDS[field as keyof QuickBooksConfig]
      : null;
    if (!variable) {
      throw new ConfigError(
        `config.${field} is not a setting; expected one of ${Object.keys(CONFIG_FIELDS).join(', ')}`,
      );
    }
    if (value === undefined) continue;
    if (typeof value !== 'string' && typeof value !== 'number') {
      throw new ConfigError(`config.${field} (${variable}) must be a string, got ${typeof value}`, variable);
    }
    env[variable] = String(value);
  }
  const cwd = options.cwd ?? process.cwd();
  const config = loadConfig(env, cwd);
  const demoFlag = collectVariables(env, cwd).values.QB_DEMO?.toLowerCase();
  if (demoFlag === '1' || demoFlag === 'true') {
    throw new ConfigError(
      `QB_DEMO=1${config.sources.QB_DEMO && config.sources.QB_DEMO !== 'environment' ? ` (from ${config.sources.QB_DEMO})` : ''} runs the desk against its built-in emulator; the library uses your real keys and store: unset QB_DEMO for this process`,
      'QB_DEMO',
    );
  }
  // Without keys the desk starts demo mode; the library has none: it reports not_configured.
  return { ...config, demo: false };
}
