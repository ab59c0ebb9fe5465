import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { configSecrets, describeConfig, loadConfig } from './config';
import { useConfigCwd } from './testing/config-cwd';

const configCwd = useConfigCwd('qbtd-config-');
const failure = configCwd.failure;
let cwd: string;
beforeEach(() => {
  cwd = configCwd.path;
});

describe('loadConfig', () => {
  it('defaults to sandbox, Intuit URLs, skew 300, demo mode without a client id', () => {
    const config = loadConfig({}, cwd);
    expect(config.environment).toBe('sandbox');
    expect(config.apiBaseUrl).toBe('https://sandbox-quickbooks.api.intuit.com');
    expect(config.tokenUrl).toBe('https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer');
    expect(config.revokeUrl).toBe('https://developer.api.intuit.com/v2/oauth2/tokens/revoke');
    expect(config.authorizeUrl).toBe('https://appcenter.intuit.com/connect/oauth2');
    expect(config.refreshSkewSeconds).toBe(300);
    expect(config.httpTimeoutMs).toBe(15_000);
    expect(config.scopes).toEqual(['com.intuit.quickbooks.accounting']);
    expect(config.demo).toBe(true);
  });

  it('production picks the production API; QB_DEMO=1 forces demo mode', () => {
    const config = loadConfig({ QB_ENVIRONMENT: 'production', QB_CLIENT_ID: 'id', QB_DEMO: '1' }, cwd);
    expect(config.apiBaseUrl).toBe('https://quickbooks.api.intuit.com');
    expect(config.demo).toBe(true);
    expect(loadConfig({ QB_CLIENT_ID: 'id', QB_CLIENT_SECRET: 'secret' }, cwd).demo).toBe(false);
  });

  it('reads process env first, then .env.local, then .env, without touching process.env', async () => {
    await writeFile(
      join(cwd, '.env'),
      'QB_REALM_ID=111\nQB_CLIENT_ID=from-env-file\nQB_REFRESH_SKEW_SECONDS=60\n',
    );
    await writeFile(join(cwd, '.env.local'), 'QB_REALM_ID=222\nQB_CLIENT_ID=from-local\n');
    const config = loadConfig({ QB_CLIENT_ID: 'from-process', QB_CLIENT_SECRET: 'secret' }, cwd);
    expect(config.clientId).toBe('from-process');
    expect(config.realmId).toBe('222');
    expect(config.refreshSkewSeconds).toBe(60);
    expect(config.sources).toMatchObject({
      QB_CLIENT_ID: 'environment',
      QB_REALM_ID: '.env.local',
      QB_REFRESH_SKEW_SECONDS: '.env',
    });
    expect(process.env.QB_REALM_ID).toBeUndefined();
  });

  it.each([
    [
      { QB_ENVIRONMENT: 'prod' },
      'QB_ENVIRONMENT',
      'QB_ENVIRONMENT must be "sandbox" or "production", got "prod"',
    ],
    [
      { QB_REFRESH_SKEW_SECONDS: 'five' },
      'QB_REFRESH_SKEW_SECONDS',
      'QB_REFRESH_SKEW_SECONDS must be a whole number',
    ],
    [{ QB_REFRESH_SKEW_SECONDS: '-5' }, 'QB_REFRESH_SKEW_SECONDS', 'QB_REFRESH_SKEW_SECONDS must be'],
    [{ QB_TOKEN_URL: 'not a url' }, 'QB_TOKEN_URL', 'QB_TOKEN_URL must be an absolute https URL'],
    [
      { QB_API_BASE_URL: 'ftp://example.com' },
      'QB_API_BASE_URL',
      'QB_API_BASE_URL must be an absolute https URL',
    ],
    [{ QB_REVOKE_URL: 'http://proxy.example.com/revoke' }, 'QB_REVOKE_URL', 'QB_REVOKE_URL must use https'],
    [{ QB_PORT: '70000' }, 'QB_PORT', 'QB_PORT must be a port number'],
    [{ QB_DEMO: 'yes please' }, 'QB_DEMO', 'QB_DEMO must be 1'],
    [{ QB_REALM_ID: 'abc' }, 'QB_REALM_ID', 'QB_REALM_ID must be the numeric company id'],
    [{ QB_HTTP_TIMEOUT_MS: '1.5s' }, 'QB_HTTP_TIMEOUT_MS', 'QB_HTTP_TIMEOUT_MS must be'],
  ])('rejects %j naming the variable', (env, variable, message) => {
    const error = failure(env);
    expect(error.variable).toBe(variable);
    expect(error.message).toContain(message);
  });

  it('names the file a bad value came from, and never echoes a secret', async () => {
    await writeFile(join(cwd, '.env.local'), 'QB_ENVIRONMENT=live\n');
    expect(failure({}).message).toBe(
      'QB_ENVIRONMENT must be "sandbox" or "production", got "live" (from .env.local)',
    );
    await rm(join(cwd, '.env.local'));
    const secret = 'short-secret';
    const error = failure({ QB_STORE_KEY: secret });
    expect(error.variable).toBe('QB_STORE_KEY');
    expect(error.message).not.toContain(secret);
  });

  it('describeConfig shows secrets only as previews', () => {
    const config = loadConfig(
      {
        QB_CLIENT_ID: 'client-id',
        QB_CLIENT_SECRET: 'client-secret-value-1234',
        QB_REFRESH_TOKEN: 'AB11-refresh-token-value-WXYZ',
        QB_ACCESS_TOKEN: 'eyJ-access-token-value-QRST',
        QB_STORE_KEY: 'store-key-value-0123456789',
      },
      cwd,
    );
    const text = JSON.stringify(describeConfig(config));
    for (const secret of configSecrets(config)) expect(text).not.toContain(secret);
    expect(text).toContain('…WXYZ');
    expect(configSecrets(config)).toHaveLength(4);
  });
});
