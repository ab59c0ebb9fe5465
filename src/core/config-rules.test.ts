// Issue 17, items 6, 7 and 8: production endpoints on Intuit's hosts only (unless opted in, with a
// warning in the status), no URL with credentials, the client keys as a pair, .env lines that are
// NAME=value or an error naming the line, and a redirect URI that cannot collide with a route.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { emulatorEnv } from '../emulator/app-env';
import { startEmulator } from '../emulator';
import { HTTP_PATHS } from '../shared/contract';
import { startDesk } from './bootstrap';
import { loadConfig } from './config';
import { useConfigCwd } from './testing/config-cwd';

const configCwd = useConfigCwd('qbtd-config-rules-');
const failure = configCwd.failure;
let cwd: string;
beforeEach(() => {
  cwd = configCwd.path;
});

const KEYS = { QB_CLIENT_ID: 'client-id', QB_CLIENT_SECRET: 'client-secret-value' };

describe('production endpoints (item 6)', () => {
  it.each(['QB_TOKEN_URL', 'QB_REVOKE_URL', 'QB_AUTHORIZE_URL', 'QB_API_BASE_URL'])(
    'production refuses %s on a host outside intuit.com, naming it and the opt-in',
    (variable) => {
      const error = failure({
        ...KEYS,
        QB_ENVIRONMENT: 'production',
        [variable]: 'https://collector.example.net/x',
      });
      expect(error.variable).toBe(variable);
      expect(error.message).toMatch(
        new RegExp(`^${variable} points at collector\\.example\\.net, which is not an Intuit host`),
      );
      expect(error.message).toContain('QB_ALLOW_NON_INTUIT_URLS=1');
    },
  );

  it('production accepts Intuit hosts; sandbox accepts any https host', () => {
    expect(
      loadConfig(
        {
          ...KEYS,
          QB_ENVIRONMENT: 'production',
          QB_TOKEN_URL: 'https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer',
        },
        cwd,
      ).tokenUrl,
    ).toContain('intuit.com');
    expect(() =>
      loadConfig(
        { ...KEYS, QB_ENVIRONMENT: 'production', QB_API_BASE_URL: 'https://intuit.com.evil.example' },
        cwd,
      ),
    ).toThrow(/intuit\.com\.evil\.example, which is not an Intuit host/);
    expect(loadConfig({ ...KEYS, QB_TOKEN_URL: 'https://proxy.example.net/token' }, cwd).warnings).toEqual(
      [],
    );
  });

  it('the same host from a .env.local in the working directory is refused, saying where it came from', async () => {
    await writeFile(join(cwd, '.env.local'), 'QB_TOKEN_URL=https://collector.example.net/token\n');
    expect(failure({ ...KEYS, QB_ENVIRONMENT: 'production' }).message).toMatch(/\(from \.env\.local\)$/);
  });

  it('QB_ALLOW_NON_INTUIT_URLS=1 allows it, and the status warns for as long as it is set', async () => {
    const emulator = await startEmulator({});
    try {
      const started = await startDesk({
        env: { ...emulatorEnv(emulator, cwd), QB_ENVIRONMENT: 'production', QB_ALLOW_NON_INTUIT_URLS: '1' },
        cwd,
        log: () => undefined,
        manager: { refreshOnStart: false },
      });
      try {
        const warnings = started.desk.getStatus().warnings.join('\n');
        expect(warnings).toMatch(
          /QB_ALLOW_NON_INTUIT_URLS is set: endpoints outside intuit\.com are allowed, and QB_TOKEN_URL \(127\.0\.0\.1\)/,
        );
      } finally {
        await started.close();
      }
    } finally {
      await emulator.close();
    }
  });

  it.each(['sandbox', 'production'])(
    'never a URL with user:password (%s), and the password is not echoed',
    (environment) => {
      const error = failure({
        ...KEYS,
        QB_ENVIRONMENT: environment,
        QB_ALLOW_NON_INTUIT_URLS: '1',
        QB_API_BASE_URL: 'https://admin:hunter2-password@quickbooks.api.intuit.com',
      });
      expect(error.variable).toBe('QB_API_BASE_URL');
      expect(error.message).toMatch(/must not carry a user name or password/);
      expect(error.message).not.toContain('hunter2');
      expect(failure({ QB_REDIRECT_URI: 'http://u:p@localhost:4318/callback' }).variable).toBe(
        'QB_REDIRECT_URI',
      );
    },
  );
});

describe('client keys and .env files (item 7)', () => {
  it.each([
    [{ QB_CLIENT_SECRET: 'client-secret-value' }, 'QB_CLIENT_ID'],
    [{ QB_CLIENT_ID: 'client-id' }, 'QB_CLIENT_SECRET'],
  ])('one key without the other is a configuration error naming both, not demo mode', (env, missing) => {
    const error = failure(env);
    expect(error.variable).toBe(missing);
    expect(error.message).toMatch(/set both QB_CLIENT_ID and QB_CLIENT_SECRET/);
    expect(error.message).not.toContain('client-secret-value');
  });

  it('QB_DEMO=1 still forces demo mode whatever keys are set', () => {
    expect(loadConfig({ QB_CLIENT_ID: 'client-id', QB_DEMO: '1' }, cwd).demo).toBe(true);
  });

  it('startDesk refuses a lone secret instead of starting demo mode', async () => {
    await expect(
      startDesk({
        env: { QB_CLIENT_SECRET: 'client-secret-value', QB_DATA_DIR: cwd },
        cwd,
        log: () => undefined,
      }),
    ).rejects.toThrow(/QB_CLIENT_SECRET is set but QB_CLIENT_ID is not/);
  });

  it('a .env.local line that is not NAME=value is an error naming the file and the line', async () => {
    await writeFile(
      join(cwd, '.env.local'),
      '# keys\n\nQB_CLIENT_ID=client-id\nQB_CLIENT_SECRET client-secret-typo\nQB_REALM_ID=123\n',
    );
    const error = failure({});
    expect(error.message).toMatch(/^\.env\.local in .*, line 4, is not NAME=value/);
    expect(error.message).not.toContain('client-secret-typo');
  });

  it('comments, blank lines, export and multi-line quoted values are fine', async () => {
    await writeFile(
      join(cwd, '.env'),
      '# a comment\n  \nexport QB_REALM_ID=123\nQB_SCOPES="com.intuit.quickbooks.accounting\nopenid"\nQB_CLIENT_ID=a # trailing\n  QB_CLIENT_SECRET = b\n',
    );
    const config = loadConfig({}, cwd);
    expect(config.realmId).toBe('123');
    expect(config.scopes).toEqual(['com.intuit.quickbooks.accounting', 'openid']);
    expect(config.clientSecret).toBe('b');
  });
});

describe('QB_REDIRECT_URI (item 8)', () => {
  it.each([HTTP_PATHS.refreshToken, HTTP_PATHS.connect, HTTP_PATHS.events, HTTP_PATHS.healthz])(
    'a redirect path equal to the server route %s is an error naming QB_REDIRECT_URI',
    (path) => {
      const error = failure({ ...KEYS, QB_REDIRECT_URI: `http://127.0.0.1:4317${path}` });
      expect(error.variable).toBe('QB_REDIRECT_URI');
      expect(error.message).toContain(`QB_REDIRECT_URI's path ${path} is one of the server's own routes`);
    },
  );

  it('its own paths are fine', () => {
    for (const path of ['/callback', '/oauth/intuit/callback']) {
      expect(
        loadConfig({ ...KEYS, QB_REDIRECT_URI: `http://127.0.0.1:4317${path}` }, cwd).redirectUri,
      ).toContain(path);
    }
  });
});
