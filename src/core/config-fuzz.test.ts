// Bad input against the configuration loader: malformed values for every variable (wrong types,
// odd encodings, huge strings), malformed .env files, and seeded random values. The loader either
// returns a configuration or throws a ConfigError that names the variable; it never throws anything
// else, never echoes a secret, and a start-up refused for bad configuration leaves the stored token
// chain byte for byte as it was. Replay with FUZZ_SEED=<printed seed>.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDesk } from './bootstrap';
import { CONFIG_VARIABLES, loadConfig, type ConfigVariable } from './config';
import { ConfigError } from './errors';
import { seedStoredChain } from './testing/stored-chain';
import { fingerprintToken } from './token-store';
import { seededRandom } from './testing/seeded-random';

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
const SECRET_VARIABLES: ConfigVariable[] = [
  'QB_CLIENT_SECRET',
  'QB_REFRESH_TOKEN',
  'QB_ACCESS_TOKEN',
  'QB_ADMIN_TOKEN',
  'QB_STORE_KEY',
  'QB_SANDBOX_CLIENT_SECRET',
  'QB_PRODUCTION_CLIENT_SECRET',
];

/** Key variables come in pairs: each is tried beside a valid partner. */
const PARTNERS: Partial<Record<ConfigVariable, Record<string, string>>> = {
  QB_CLIENT_ID: { QB_CLIENT_SECRET: 'a-client-secret' },
  QB_CLIENT_SECRET: { QB_CLIENT_ID: 'a-client-id' },
  QB_SANDBOX_CLIENT_ID: { QB_SANDBOX_CLIENT_SECRET: 'a-client-secret' },
  QB_SANDBOX_CLIENT_SECRET: { QB_SANDBOX_CLIENT_ID: 'a-client-id' },
  QB_PRODUCTION_CLIENT_ID: { QB_PRODUCTION_CLIENT_SECRET: 'a-client-secret' },
  QB_PRODUCTION_CLIENT_SECRET: { QB_PRODUCTION_CLIENT_ID: 'a-client-id' },
};

const ODD_VALUES = [
  '-1',
  '1e3',
  '0x10',
  '1.5',
  'NaN',
  'Infinity',
  '99999999999999999999999',
  '\u0661\u0662\u0663', // Arabic-Indic digits
  '１２３', // full-width digits
  '12\u0000',
  'abc',
  'true',
  'null',
  '[]',
  '{"a":1}',
  'ftp://example.com',
  'javascript:alert(1)',
  'http://',
  '127.0.0.1:8080',
  '//evil.example/x',
  'http://[::1',
  'sandbox\n',
  'Sandbox',
  'PRODUCTION',
  '\ufeffsandbox',
  '🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑',
  'a'.repeat(1_000_000),
  '\ud800',
  'é'.repeat(20),
  '$(rm -rf /)',
  '${HOME}',
];

let cwd: string;

beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'qbtd-config-fuzz-'));
  console.log(`[config-fuzz] seed ${SEED} (replay with FUZZ_SEED=${SEED})`);
});

afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

/** Loads; returns null on success or the ConfigError. Anything else fails the test. */
function attempt(env: NodeJS.ProcessEnv, dir = cwd): ConfigError | null {
  try {
    loadConfig(env, dir);
    return null;
  } catch (err) {
    expect(err, `not a ConfigError: ${String(err)}`).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
}

function expectClear(error: ConfigError, variable: ConfigVariable, value: string): void {
  expect(error.variable).toBe(variable);
  expect(error.message).toContain(variable);
  expect(error.message.length).toBeLessThan(2000);
  if (SECRET_VARIABLES.includes(variable) && value.trim().length >= 8) {
    expect(error.message).not.toContain(value.trim());
  }
}

describe('config loader under bad input', () => {
  it('every variable x odd values: a config or a ConfigError naming the variable', () => {
    let refused = 0;
    for (const variable of CONFIG_VARIABLES) {
      for (const value of ODD_VALUES) {
        // The client keys come as a pair (a lone one is its own error): each is tried beside a valid partner.
        const partner: Record<string, string> = PARTNERS[variable] ?? {};
        const error = attempt({ ...partner, [variable]: value });
        if (error) {
          refused += 1;
          expectClear(error, variable, value);
        }
      }
    }
    // The typed variables (numbers, URLs, enums, lengths) refuse most of these.
    expect(refused).toBeGreaterThan(100);
  });

  it('numeric variables refuse non-decimal and out-of-range values', () => {
    for (const variable of ['QB_PORT', 'QB_REFRESH_SKEW_SECONDS', 'QB_HTTP_TIMEOUT_MS'] as const) {
      for (const value of [
        '-1',
        '1e3',
        '0x10',
        '1.5',
        'NaN',
        '١٢٣',
        '１２３',
        '12\u0000',
        '99999999999999999999999',
      ]) {
        const error = attempt({ [variable]: value });
        expect(error, `${variable}=${JSON.stringify(value)} was accepted`).not.toBeNull();
        if (error) expectClear(error, variable, value);
      }
    }
  });

  it('the company id refuses anything but ASCII digits', () => {
    for (const value of ['-1', '1e3', '0x10', '1.5', '١٢٣', '１２３', '12\u0000', 'abc']) {
      const error = attempt({ QB_REALM_ID: value });
      expect(error, `QB_REALM_ID=${JSON.stringify(value)} was accepted`).not.toBeNull();
      if (error) expectClear(error, 'QB_REALM_ID', value);
    }
  });

  it('URL variables refuse non-http(s) and relative values', () => {
    for (const variable of [
      'QB_TOKEN_URL',
      'QB_REVOKE_URL',
      'QB_AUTHORIZE_URL',
      'QB_API_BASE_URL',
      'QB_REDIRECT_URI',
    ] as const) {
      for (const value of [
        'ftp://example.com',
        'javascript:alert(1)',
        'http://',
        '127.0.0.1:8080',
        '//evil.example/x',
        'http://[::1',
      ]) {
        const error = attempt({ [variable]: value });
        expect(error, `${variable}=${value} was accepted`).not.toBeNull();
        if (error) expectClear(error, variable, value);
      }
    }
  });

  it('secrets that are refused are never echoed', () => {
    for (const variable of ['QB_ADMIN_TOKEN', 'QB_STORE_KEY'] as const) {
      const error = attempt({ [variable]: 'short-secret' });
      expect(error).not.toBeNull();
      if (error) expectClear(error, variable, 'short-secret');
    }
  });

  it('wrong JavaScript types in the environment object do not crash the loader', () => {
    for (const value of [42, true, null, {}, [], Symbol.iterator] as unknown[]) {
      for (const variable of ['QB_PORT', 'QB_CLIENT_ID', 'QB_ENVIRONMENT'] as const) {
        let thrown: unknown = null;
        try {
          loadConfig({ [variable]: value } as unknown as NodeJS.ProcessEnv, cwd);
        } catch (err) {
          thrown = err;
        }
        if (thrown !== null)
          expect(thrown, `${variable}=${String(value)}: ${String(thrown)}`).toBeInstanceOf(ConfigError);
      }
    }
  });

  it('malformed .env and .env.local files: loaded, or refused with the file named', async () => {
    const files: Array<[string, string | Buffer]> = [
      ['binary garbage', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 37) % 256))],
      ['invalid UTF-8', Buffer.from([0x51, 0x42, 0x5f, 0x50, 0x4f, 0x52, 0x54, 0x3d, 0xff, 0xfe, 0x0a])],
      [
        'UTF-16 with BOM',
        Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('QB_PORT=123\n', 'utf16le')]),
      ],
      ['UTF-8 BOM and CRLF', '\ufeffQB_ENVIRONMENT=production\r\nQB_PORT=8080\r\n'],
      ['unbalanced quotes', 'QB_CLIENT_ID="abc\nQB_PORT=1\n'],
      ['export prefix and duplicates', 'export QB_PORT=1\nQB_PORT=2\nQB_PORT=oops\n'],
      ['huge file', `QB_SCOPES=${'x '.repeat(500_000)}\n`],
      ['no equals signs', 'QB_PORT\nQB_ENVIRONMENT\n'],
      ['bad value from .env', 'QB_ENVIRONMENT=staging\n'],
    ];
    for (const [name, content] of files) {
      for (const file of ['.env', '.env.local']) {
        const dir = await mkdtemp(join(cwd, 'env-'));
        await writeFile(join(dir, file), content);
        const error = attempt({}, dir);
        if (error) {
          expect(error.message, name).toMatch(/QB_|\.env/);
          if (error.variable) expect(error.message, name).toContain(file);
        }
        await rm(dir, { recursive: true, force: true });
      }
    }
  });

  it(`500 seeded random environments (seed ${SEED})`, () => {
    const random = seededRandom(SEED);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
    const pieces = [
      '1',
      '0',
      '-',
      '.',
      'e',
      'x',
      ' ',
      'http',
      '://',
      '127.0.0.1',
      '\u0000',
      'é',
      '\ud83d',
      '%',
      '"',
      '=',
    ];
    for (let i = 0; i < 500; i += 1) {
      const env: NodeJS.ProcessEnv = {};
      const count = 1 + Math.floor(random() * 4);
      for (let j = 0; j < count; j += 1) {
        const length = Math.floor(random() * 12);
        env[pick(CONFIG_VARIABLES)] = Array.from({ length }, () => pick(pieces)).join('');
      }
      const error = attempt(env);
      if (error) {
        expect(error.variable, `case ${i} (seed ${SEED}): ${error.message}`).not.toBeNull();
        const variable = error.variable as ConfigVariable;
        expectClear(error, variable, env[variable] ?? '');
      }
    }
  });
});

describe('a start-up refused for bad configuration leaves the token store untouched', () => {
  it('the stored chain is byte for byte the same after every refused start', async () => {
    const dataDir = await mkdtemp(join(cwd, 'store-'));
    const refreshToken = 'RT-config-fuzz-0123456789abcdef';
    const recordPath = await seedStoredChain(dataDir, {
      version: 1,
      refreshToken: 'RT-stored-rotated-0123456789',
      refreshTokenIssuedAt: Date.now(),
      lastRotatedAt: Date.now(),
      refreshTokenExpiresAt: Date.now() + 86_400_000,
      refreshTokenHardExpiresAt: null,
      accessToken: 'AT-stored-0123456789',
      accessTokenExpiresAt: Date.now() + 3_600_000,
      refreshedAt: Date.now(),
      realmId: '123',
      origin: { envRefreshTokenSha256: fingerprintToken(refreshToken) },
    });
    const original = await readFile(recordPath);
    const base = {
      QB_CLIENT_ID: 'client',
      QB_CLIENT_SECRET: 'secret-0123456789',
      QB_REFRESH_TOKEN: refreshToken,
      QB_REALM_ID: '123',
      QB_DATA_DIR: dataDir,
      QB_TOKEN_URL: 'http://127.0.0.1:9/token',
    };
    for (const bad of [
      { QB_ENVIRONMENT: 'staging' },
      { QB_PORT: '-1' },
      { QB_REFRESH_SKEW_SECONDS: '1e3' },
      { QB_TOKEN_URL: 'ftp://x' },
      { QB_STORE_KEY: 'short' },
      { QB_REALM_ID: '12a' },
      { QB_HTTP_TIMEOUT_MS: '0x10' },
    ]) {
      await expect(
        startDesk({ env: { ...base, ...bad }, cwd: dataDir, log: () => {} }),
      ).rejects.toBeInstanceOf(ConfigError);
      expect((await readFile(recordPath)).equals(original)).toBe(true);
    }
  });
});
