// Flags of `npm run emulator`, parsed into EmulatorOptions (kept apart from cli.ts so tests can import it).
import { parseArgs } from 'node:util';
import type { EmulatorCompany, EmulatorOptions } from './types';

export const USAGE = `Usage: npm run emulator -- [options]

  --port N                   port on 127.0.0.1 (0 = any free port; default 0)
  --json                     print one JSON line with URLs and demo credentials, nothing else on stdout
  --env                      start in the background and print shell lines that point the desk at it:
                             eval "$(npm run --silent emulator -- --port 4700 --env)"; stop: kill $INTUIT_EMULATOR_PID
  --access-ttl S             access token lifetime, seconds (default 3600)
  --refresh-ttl S            rolling refresh token lifetime, seconds (default 8726400)
  --hard-ttl S               absolute refresh token cap, seconds (default 5 years)
  --rotate-after S           new refresh token value when the current one is this old (default 86400; 0 = every refresh)
  --rotate-every N           also rotate after N refreshes with the same value (default 0 = off)
  --old-token-policy P       immediate | grace (default immediate)
  --grace-period S           with grace: seconds the previous value keeps working (default 86400)
  --fault-spelling S         intuit (401 lower case, the rest capitalised) | lower | capital (default intuit)
  --auto-approve             the consent page redirects at once
  --redirect-uri URI         register a redirect URI for the consent page (repeatable; replaces the
                             default http://localhost:*/callback and http://127.0.0.1:*/callback)
  --max-concurrent N         API requests in flight per company and app before 429 (default 10)
  --max-per-second N         API requests per second per company and app before 429 (default 10)
  --max-per-minute N         API requests per minute per company before 429 (default 500)
  --api-latency-ms N         delay every Accounting API answer (default 0)
  --client-id ID, --client-secret S, --refresh-token RT, --realm-id ID
                             demo credentials to accept (generated when omitted)
  --company-name NAME        CompanyInfo's name for every company --company does not name
                             (default "Sandbox Company_US_1")
  --company REALM_ID=NAME    a company the signed-in user has (repeatable, in the order the consent
                             page lists them); with two or more the user picks one there, as at Intuit
                             (default: the demo realm alone, named --company-name)
  --quiet                    no request log on stderr
  --help`;

function integer(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new Error(`--${flag} must be a non-negative integer, got "${value}"`);
  return Number(value);
}

/** `--company 9130350000000001=Lantern Street Books`: the realm id, then the name after the first '='. */
function companies(values: string[] | undefined): EmulatorCompany[] | undefined {
  return values?.map((value) => {
    const at = value.indexOf('=');
    if (at <= 0 || at === value.length - 1)
      throw new Error(
        `--company must be REALM_ID=NAME (e.g. 9130350000000001=Lantern Street Books), got "${value}"`,
      );
    return { realmId: value.slice(0, at), companyName: value.slice(at + 1) };
  });
}

function oneOf<T extends string>(
  flag: string,
  value: string | undefined,
  allowed: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new Error(`--${flag} must be one of ${allowed.join(', ')}, got "${value}"`);
  }
  return value as T;
}

export function optionsFromArgs(args: string[]): {
  options: EmulatorOptions;
  json: boolean;
  env: boolean;
  background: boolean;
  quiet: boolean;
  help: boolean;
} {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      port: { type: 'string' },
      json: { type: 'boolean' },
      env: { type: 'boolean' },
      // Internal: the process --env starts; prints its JSON line, then closes stdout.
      background: { type: 'boolean' },
      'access-ttl': { type: 'string' },
      'refresh-ttl': { type: 'string' },
      'hard-ttl': { type: 'string' },
      'rotate-after': { type: 'string' },
      'rotate-every': { type: 'string' },
      'old-token-policy': { type: 'string' },
      'grace-period': { type: 'string' },
      'fault-spelling': { type: 'string' },
      'auto-approve': { type: 'boolean' },
      'redirect-uri': { type: 'string', multiple: true },
      'max-concurrent': { type: 'string' },
      'max-per-second': { type: 'string' },
      'max-per-minute': { type: 'string' },
      'api-latency-ms': { type: 'string' },
      'client-id': { type: 'string' },
      'client-secret': { type: 'string' },
      'refresh-token': { type: 'string' },
      'realm-id': { type: 'string' },
      'company-name': { type: 'string' },
      company: { type: 'string', multiple: true },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const options: EmulatorOptions = {
    port: integer('port', values.port) ?? 0,
    accessTokenTtlSeconds: integer('access-ttl', values['access-ttl']),
    refreshTokenTtlSeconds: integer('refresh-ttl', values['refresh-ttl']),
    refreshTokenHardTtlSeconds: integer('hard-ttl', values['hard-ttl']),
    rotateAfterSeconds: integer('rotate-after', values['rotate-after']),
    rotateEveryRefreshes: integer('rotate-every', values['rotate-every']),
    oldRefreshTokenPolicy: oneOf('old-token-policy', values['old-token-policy'], [
      'immediate',
      'grace',
    ] as const),
    gracePeriodSeconds: integer('grace-period', values['grace-period']),
    faultSpelling: oneOf('fault-spelling', values['fault-spelling'], ['intuit', 'lower', 'capital'] as const),
    autoApprove: values['auto-approve'],
    redirectUris: values['redirect-uri'],
    maxConcurrentPerRealm: integer('max-concurrent', values['max-concurrent']),
    maxRequestsPerSecondPerRealm: integer('max-per-second', values['max-per-second']),
    maxRequestsPerMinutePerRealm: integer('max-per-minute', values['max-per-minute']),
    apiLatencyMs: integer('api-latency-ms', values['api-latency-ms']),
    companyName: values['company-name'],
    companies: companies(values.company),
    demo: {
      clientId: values['client-id'],
      clientSecret: values['client-secret'],
      refreshToken: values['refresh-token'],
      realmId: values['realm-id'],
    },
  };
  if (values.env && values.json) throw new Error('--env and --json are alternatives: choose one');
  return {
    options,
    json: values.json ?? false,
    env: values.env ?? false,
    background: values.background ?? false,
    quiet: values.quiet ?? false,
    help: values.help ?? false,
  };
}
