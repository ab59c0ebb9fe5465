// Configuration: process environment first, then `.env.local`, then `.env` in the working
// directory (the seed's convention), validated once. A bad value stops start-up with a
// ConfigError naming the variable; missing keys are not an error (the status is not_configured).
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { z } from 'zod';
import { HTTP_PATHS, type QbEnvironment } from '../shared/contract';
import { previewToken } from '../shared/preview';
import { ConfigError } from './errors';
import {
  CLIENT_KEY_SECRET_VARIABLES,
  CLIENT_KEY_VARIABLES,
  clientKeySchema,
  clientKeySecrets,
  describeClientKeys,
  environmentKeysProblem,
  environmentsWithKeys,
  resolveClientKeys,
  type ClientKeysByEnvironment,
} from './client-keys-config';
import {
  ALLOW_NON_INTUIT_URLS,
  checkDotenvLines,
  clientKeysProblem,
  nonIntuitUrlWarning,
  productionHostProblem,
  redirectPathProblem,
} from './config-rules';
import {
  describeOpsConfig,
  OPS_SECRET_VARIABLES,
  OPS_VARIABLES,
  opsConfigFrom,
  opsSecrets,
  type OpsConfig,
} from './ops-config';
import { parseStoreUrl, storeUrlProblem } from './pg/store-url';

export const INTUIT_ENDPOINTS = {
  tokenUrl: 'https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer',
  revokeUrl: 'https://developer.api.intuit.com/v2/oauth2/tokens/revoke',
  authorizeUrl: 'https://appcenter.intuit.com/connect/oauth2',
  apiBaseUrl: {
    sandbox: 'https://sandbox-quickbooks.api.intuit.com',
    production: 'https://quickbooks.api.intuit.com',
  },
} as const;

export const CONFIG_VARIABLES = [
  'QB_CLIENT_ID',
  'QB_CLIENT_SECRET',
  'QB_REFRESH_TOKEN',
  'QB_ACCESS_TOKEN',
  'QB_REALM_ID',
  'QB_ENVIRONMENT',
  'QB_TOKEN_URL',
  'QB_REVOKE_URL',
  'QB_AUTHORIZE_URL',
  'QB_API_BASE_URL',
  'QB_REFRESH_SKEW_SECONDS',
  'QB_DATA_DIR',
  'QB_DEMO',
  'QB_PORT',
  'QB_ADMIN_TOKEN',
  'QB_STORE_KEY',
  'QB_STORE_URL',
  'QB_SCOPES',
  'QB_REDIRECT_URI',
  'QB_HTTP_TIMEOUT_MS',
  'QB_ALLOW_NON_INTUIT_URLS',
  // Running as a service: metrics, alerts, log format (validated in ops-config.ts).
  ...OPS_VARIABLES,
  // Keys per environment, for companies in both (client-keys-config.ts).
  ...CLIENT_KEY_VARIABLES,
] as const;

export type ConfigVariable = (typeof CONFIG_VARIABLES)[number];
type ConfigSource = 'environment' | '.env.local' | '.env' | 'default';

/** Validated configuration. Holds secrets: never log it whole; use describeConfig(). */
export interface Config {
  clientId: string | null;
  clientSecret: string | null;
  refreshToken: string | null;
  accessToken: string | null;
  realmId: string | null;
  environment: QbEnvironment;
  tokenUrl: string;
  revokeUrl: string;
  authorizeUrl: string;
  apiBaseUrl: string;
  refreshSkewSeconds: number;
  /** Where the file store lives; null = the adapter's default (see defaultDataDir). */
  dataDir: string | null;
  demo: boolean;
  port: number | null;
  adminToken: string | null;
  storeKey: string | null;
  /** QB_STORE_URL: keep the connections in PostgreSQL; null = the file store (desktop: its own store). */
  storeUrl: string | null;
  scopes: string[];
  redirectUri: string | null;
  httpTimeoutMs: number;
  /** QB_ALLOW_NON_INTUIT_URLS: production may talk to endpoints outside intuit.com (a warning says so). */
  allowNonIntuitUrls: boolean;
  /** Standing sentences for the status about the configuration itself (never a secret). */
  warnings: string[];
  /** Metrics, alerts and log format (ops-config.ts). */
  ops: OpsConfig;
  /** The app's keys each environment's connections use (client-keys-config.ts); clientId/clientSecret are QB_ENVIRONMENT's. */
  clientKeys: ClientKeysByEnvironment;
  /** Where each set variable came from (no values). */
  sources: Partial<Record<ConfigVariable, ConfigSource>>;
}

const optionalText = z.string().optional();

const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '[::1]'];

/**
 * An absolute https URL; plain http only to loopback (the emulator, a local proxy). Tokens and the
 * client secret travel to these URLs, so they never go unencrypted over a network.
 */
function urlVar(name: string) {
  return z
    .string()
    .optional()
    .superRefine((value, ctx) => {
      if (value === undefined) return;
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        ctx.addIssue({
          code: 'custom',
          message: `${name} must be an absolute https URL such as https://example.com/path`,
        });
        return;
      }
      if (url.username || url.password) {
        ctx.addIssue({
          code: 'custom',
          message: `${name} must not carry a user name or password (user:password@host): they would be sent, and logged, with every request`,
        });
        return;
      }
      if (url.protocol === 'https:') return;
      if (url.protocol === 'http:' && LOOPBACK_HOSTS.includes(url.hostname)) return;
      ctx.addIssue({
        code: 'custom',
        message:
          url.protocol === 'http:'
            ? `${name} must use https (plain http is allowed only to 127.0.0.1 or localhost)`
            : `${name} must be an absolute https URL such as https://example.com/path`,
      });
    });
}

function intVar(name: string, min: number, max: number, what: string) {
  return z
    .string()
    .optional()
    .refine(
      (value) => value === undefined || (/^\d+$/.test(value.trim()) && inRange(Number(value), min, max)),
      {
        message: `${name} must be ${what}`,
      },
    );
}

function inRange(value: number, min: number, max: number): boolean {
  return Number.isSafeInteger(value) && value >= min && value <= max;
}

const schema = z.object({
  QB_CLIENT_ID: optionalText,
  QB_CLIENT_SECRET: optionalText,
  QB_REFRESH_TOKEN: optionalText,
  QB_ACCESS_TOKEN: optionalText,
  QB_REALM_ID: z
    .string()
    .optional()
    .refine((value) => value === undefined || /^\d+$/.test(value), {
      message:
        'QB_REALM_ID must be the numeric company id (digits only), as shown in the redirect after Connect',
    }),
  QB_ENVIRONMENT: z
    .string()
    .optional()
    .refine((value) => value === undefined || value === 'sandbox' || value === 'production', {
      message: 'QB_ENVIRONMENT must be "sandbox" or "production"',
    }),
  QB_TOKEN_URL: urlVar('QB_TOKEN_URL'),
  QB_REVOKE_URL: urlVar('QB_REVOKE_URL'),
  QB_AUTHORIZE_URL: urlVar('QB_AUTHORIZE_URL'),
  QB_API_BASE_URL: urlVar('QB_API_BASE_URL'),
  QB_REFRESH_SKEW_SECONDS: intVar(
    'QB_REFRESH_SKEW_SECONDS',
    0,
    3000,
    'a whole number of seconds from 0 to 3000 (default 300)',
  ),
  QB_DATA_DIR: optionalText,
  QB_DEMO: z
    .string()
    .optional()
    .refine((value) => value === undefined || ['1', '0', 'true', 'false'].includes(value.toLowerCase()), {
      message: 'QB_DEMO must be 1 (demo mode) or 0',
    }),
  QB_PORT: intVar('QB_PORT', 0, 65535, 'a port number from 0 to 65535'),
  QB_ADMIN_TOKEN: z
    .string()
    .optional()
    .refine((value) => value === undefined || value.length >= 16, {
      message: 'QB_ADMIN_TOKEN must be at least 16 characters (leave it unset to have one generated)',
    }),
  QB_STORE_KEY: z
    .string()
    .optional()
    .refine((value) => value === undefined || value.length >= 16, {
      message:
        'QB_STORE_KEY must be at least 16 characters (a passphrase or random string the store key is derived from)',
    }),
  QB_STORE_URL: z
    .string()
    .optional()
    .superRefine((value, ctx) => {
      const problem = value === undefined ? null : storeUrlProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  QB_SCOPES: optionalText,
  QB_REDIRECT_URI: urlVar('QB_REDIRECT_URI'),
  QB_HTTP_TIMEOUT_MS: intVar(
    'QB_HTTP_TIMEOUT_MS',
    100,
    600_000,
    'a whole number of milliseconds from 100 to 600000 (default 15000)',
  ),
  [ALLOW_NON_INTUIT_URLS]: z
    .string()
    .optional()
    .refine((value) => value === undefined || ['1', '0', 'true', 'false'].includes(value.toLowerCase()), {
      message: `${ALLOW_NON_INTUIT_URLS} must be 1 (allow endpoints outside intuit.com in production) or 0`,
    }),
  ...clientKeySchema,
});

/** Reads the variables from the three sources, earliest wins; empty values count as unset. */
export function collectVariables(
  env: NodeJS.ProcessEnv,
  cwd: string,
): {
  values: Partial<Record<ConfigVariable, string>>;
  sources: Partial<Record<ConfigVariable, ConfigSource>>;
} {
  const layers: Array<[ConfigSource, Record<string, string | undefined>]> = [['environment', env]];
  for (const file of ['.env.local', '.env'] as const) {
    const path = join(cwd, file);
    if (!existsSync(path)) continue;
    let text: Buffer;
    try {
      text = readFileSync(path);
    } catch {
      throw new ConfigError(`${file} in ${cwd} could not be read`);
    }
    // dotenv skips a line it cannot parse without a word; a typo would silently drop a setting.
    checkDotenvLines(text.toString('utf8'), `${file} in ${cwd}`);
    layers.push([file, parseDotenv(text)]);
  }
  const values: Partial<Record<ConfigVariable, string>> = {};
  const sources: Partial<Record<ConfigVariable, ConfigSource>> = {};
  for (const name of CONFIG_VARIABLES) {
    for (const [source, layer] of layers) {
      const raw: unknown = layer[name];
      // process.env holds only strings, but programmatic callers (startDesk({ env })) may pass anything.
      if (raw !== undefined && typeof raw !== 'string') {
        throw new ConfigError(`${name} must be a string, got ${typeof raw}`, name);
      }
      const value = raw?.trim();
      if (value) {
        values[name] = value;
        sources[name] = source;
        break;
      }
    }
  }
  return { values, sources };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): Config {
  const { values, sources } = collectVariables(env, cwd);
  const parsed = schema.safeParse(values);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const variable = String(issue?.path[0] ?? '');
    const raw = values[variable as ConfigVariable];
    // Secrets are never echoed back, only the shape of the problem.
    const secret = [
      'QB_CLIENT_SECRET',
      'QB_REFRESH_TOKEN',
      'QB_ACCESS_TOKEN',
      'QB_ADMIN_TOKEN',
      'QB_STORE_KEY',
      ...OPS_SECRET_VARIABLES,
      ...CLIENT_KEY_SECRET_VARIABLES,
      // Its message already shows it with the password masked.
      'QB_STORE_URL',
    ];
    // Echo at most a short prefix: a megabyte of junk in a variable should not become a megabyte of error.
    // A URL's user:password part is a secret too.
    const safe = raw?.replace(/\/\/[^/@\s]*@/, '//…@');
    const shown = safe !== undefined && safe.length > 60 ? `${safe.slice(0, 60)}…` : safe;
    const got = raw === undefined || secret.includes(variable) ? '' : `, got ${JSON.stringify(shown)}`;
    const from = sources[variable as ConfigVariable];
    const where = from && from !== 'environment' ? ` (from ${from})` : '';
    throw new ConfigError(`${issue?.message ?? 'invalid configuration'}${got}${where}`, variable || null);
  }
  const v = parsed.data;
  const environment: QbEnvironment = (v.QB_ENVIRONMENT as QbEnvironment | undefined) ?? 'sandbox';
  const demoFlag = v.QB_DEMO !== undefined && ['1', 'true'].includes(v.QB_DEMO.toLowerCase());
  const allowNonIntuitUrls =
    v[ALLOW_NON_INTUIT_URLS] !== undefined && ['1', 'true'].includes(v[ALLOW_NON_INTUIT_URLS].toLowerCase());
  const clientKeys = resolveClientKeys(values, environment);
  const problem =
    (demoFlag ? null : clientKeysProblem(v.QB_CLIENT_ID, v.QB_CLIENT_SECRET)) ??
    (demoFlag ? null : environmentKeysProblem(values)) ??
    (environment === 'production' && !allowNonIntuitUrls ? productionHostProblem(values) : null) ??
    (clientKeys.production && !allowNonIntuitUrls
      ? productionHostProblem(values, 'with production keys (QB_PRODUCTION_CLIENT_ID)')
      : null) ??
    redirectPathProblem(v.QB_REDIRECT_URI, Object.values(HTTP_PATHS));
  if (problem) {
    const from = sources[problem.citing ?? problem.variable];
    const where = from && from !== 'environment' ? ` (from ${from})` : '';
    throw new ConfigError(`${problem.message}${where}`, problem.variable);
  }
  const warnings = allowNonIntuitUrls ? [nonIntuitUrlWarning(values)] : [];
  return {
    clientId: clientKeys[environment]?.clientId ?? null,
    clientSecret: clientKeys[environment]?.clientSecret ?? null,
    refreshToken: v.QB_REFRESH_TOKEN ?? null,
    accessToken: v.QB_ACCESS_TOKEN ?? null,
    realmId: v.QB_REALM_ID ?? null,
    environment,
    tokenUrl: v.QB_TOKEN_URL ?? INTUIT_ENDPOINTS.tokenUrl,
    revokeUrl: v.QB_REVOKE_URL ?? INTUIT_ENDPOINTS.revokeUrl,
    authorizeUrl: v.QB_AUTHORIZE_URL ?? INTUIT_ENDPOINTS.authorizeUrl,
    apiBaseUrl: (v.QB_API_BASE_URL ?? INTUIT_ENDPOINTS.apiBaseUrl[environment]).replace(/\/+$/, ''),
    refreshSkewSeconds: v.QB_REFRESH_SKEW_SECONDS !== undefined ? Number(v.QB_REFRESH_SKEW_SECONDS) : 300,
    dataDir: v.QB_DATA_DIR ?? null,
    demo: demoFlag || environmentsWithKeys(clientKeys).length === 0,
    port: v.QB_PORT !== undefined ? Number(v.QB_PORT) : null,
    adminToken: v.QB_ADMIN_TOKEN ?? null,
    storeKey: v.QB_STORE_KEY ?? null,
    storeUrl: v.QB_STORE_URL ?? null,
    scopes: (v.QB_SCOPES ?? 'com.intuit.quickbooks.accounting').split(/[\s,]+/).filter(Boolean),
    redirectUri: v.QB_REDIRECT_URI ?? null,
    httpTimeoutMs: v.QB_HTTP_TIMEOUT_MS !== undefined ? Number(v.QB_HTTP_TIMEOUT_MS) : 15_000,
    allowNonIntuitUrls,
    warnings,
    ops: opsConfigFrom(values, (name) =>
      sources[name] && sources[name] !== 'environment' ? ` (from ${sources[name]})` : '',
    ),
    clientKeys,
    sources,
  };
}

/** The store's default location for Node adapters (CLI, headless) when QB_DATA_DIR is unset. */
export function defaultDataDir(): string {
  return join(homedir(), '.qb-token-desk');
}

/** Whether the keys needed to call the token endpoint are present. */
export function hasClientCredentials(config: Config): boolean {
  return config.clientId !== null && config.clientSecret !== null;
}

/** A loggable view of the configuration: secrets as previews, everything else as is. */
export function describeConfig(config: Config): Record<string, string | number | boolean | null> {
  const secret = (value: string | null) => (value === null ? null : previewToken(value));
  return {
    QB_CLIENT_ID: config.clientId,
    QB_CLIENT_SECRET: secret(config.clientSecret),
    QB_REFRESH_TOKEN: secret(config.refreshToken),
    QB_ACCESS_TOKEN: secret(config.accessToken),
    QB_REALM_ID: config.realmId,
    QB_ENVIRONMENT: config.environment,
    QB_TOKEN_URL: config.tokenUrl,
    QB_REVOKE_URL: config.revokeUrl,
    QB_AUTHORIZE_URL: config.authorizeUrl,
    QB_API_BASE_URL: config.apiBaseUrl,
    QB_REFRESH_SKEW_SECONDS: config.refreshSkewSeconds,
    QB_DATA_DIR: config.dataDir,
    QB_DEMO: config.demo,
    QB_PORT: config.port,
    QB_ADMIN_TOKEN: secret(config.adminToken),
    QB_STORE_KEY: config.storeKey === null ? null : 'set',
    QB_STORE_URL: config.storeUrl === null ? null : parseStoreUrl(config.storeUrl).masked,
    QB_SCOPES: config.scopes.join(' '),
    QB_REDIRECT_URI: config.redirectUri,
    QB_HTTP_TIMEOUT_MS: config.httpTimeoutMs,
    QB_ALLOW_NON_INTUIT_URLS: config.allowNonIntuitUrls,
    ...describeOpsConfig(config.ops),
    ...describeClientKeys(config.clientKeys, config.sources),
  };
}

/** Every secret value in the configuration, for the log redactor. */
export function configSecrets(config: Config): string[] {
  return [
    config.clientSecret,
    config.refreshToken,
    config.accessToken,
    config.adminToken,
    config.storeKey,
    ...opsSecrets(config.ops),
    config.storeUrl === null ? null : parseStoreUrl(config.storeUrl).password,
    ...clientKeySecrets(config.clientKeys),
  ].filter(
    (value, i, all): value is string => value !== null && value.length > 0 && all.indexOf(value) === i,
  );
}
