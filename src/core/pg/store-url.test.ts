import { describe, expect, it } from 'vitest';
import { configSecrets, describeConfig, loadConfig } from '../config';
import { ConfigError } from '../errors';
import { maskStoreUrl, parseStoreUrl, plaintextTransportWarning } from './store-url';

const load = (QB_STORE_URL: string) => loadConfig({ QB_STORE_URL }, '/nonexistent-qbtd-cwd');

function configError(value: string): ConfigError {
  try {
    load(value);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`expected ${maskStoreUrl(value)} to be refused`);
}

describe('QB_STORE_URL', () => {
  it('accepts postgres:// and postgresql://, and shows host:port/database without the password', () => {
    const url = parseStoreUrl(
      'postgres://app:s3cr%40t-pass@db.example.com:6543/qb_tokens?sslmode=verify-full',
    );
    expect(url).toMatchObject({
      host: 'db.example.com',
      port: 6543,
      database: 'qb_tokens',
      user: 'app',
      password: 's3cr@t-pass',
      sslMode: 'verify-full',
      location: 'db.example.com:6543/qb_tokens',
      masked: 'postgres://app:***@db.example.com:6543/qb_tokens?sslmode=verify-full',
    });
    expect(parseStoreUrl('postgresql://app@10.0.0.5/qb').location).toBe('10.0.0.5:5432/qb');
    const config = load('postgresql://app:hunter2-password@127.0.0.1:5432/qb');
    expect(config.storeUrl).toBe('postgresql://app:hunter2-password@127.0.0.1:5432/qb');
    expect(JSON.stringify(describeConfig(config))).not.toContain('hunter2');
    expect(describeConfig(config).QB_STORE_URL).toBe('postgresql://app:***@127.0.0.1:5432/qb');
    // The redactor learns the password, so no log line can carry it.
    expect(configSecrets(config)).toContain('hunter2-password');
    expect(loadConfig({}, '/nonexistent-qbtd-cwd').storeUrl).toBeNull();
  });

  it('honours sslmode the way libpq reads it', () => {
    expect(parseStoreUrl('postgres://u@h/db?sslmode=disable').ssl).toBe(false);
    expect(parseStoreUrl('postgres://u@h/db?sslmode=require').ssl).toMatchObject({
      rejectUnauthorized: false,
    });
    expect(parseStoreUrl('postgres://u@h/db?sslmode=verify-full').ssl).toEqual({});
    expect(parseStoreUrl('postgres://u@h/db').ssl).toBe(false);
  });

  it.each([
    ['mysql://u:pw-secret-1@h/db', /QB_STORE_URL must start with postgres:\/\/ or postgresql:\/\//],
    ['postgres://u:pw-secret-1@h', /QB_STORE_URL must name one database/],
    ['postgres://:pw-secret-1@h/db', /QB_STORE_URL must name the user/],
    ['not a url pw-secret-1', /QB_STORE_URL must be a PostgreSQL URL such as postgres:\/\//],
    [
      'postgres://u:pw-secret-1@h/db?sslmode=prefer',
      /sslmode=prefer; use one of disable, require, verify-ca/,
    ],
    ['postgres://u:pw-secret-1@h/db?sslmode=verify-ca', /QB_STORE_URL cannot be used: .*sslrootcert/],
    ['postgres://u:pw-secret-1@h:99999/db', /QB_STORE_URL must be a PostgreSQL URL/],
    // Generated passwords carry characters a URL should escape; none of them may leak a fragment.
    ['postgres://u:pw/secret-1@h:1/db', /QB_STORE_URL must be a PostgreSQL URL/],
    ['postgres://u:pw?secret-1@h:1/db', /QB_STORE_URL/],
    ['postgres://u:pw#secret-1@h:1/db', /QB_STORE_URL/],
    ['postgres://u:pw@secret-1@h:1', /QB_STORE_URL must name one database/],
    ['postgres://u:pw-secret-1', /QB_STORE_URL/],
    ['postgres://u@h/db?password=pw-secret-1&sslmode=prefer', /sslmode=prefer/],
  ])('refuses %s with a message naming QB_STORE_URL, the password masked', (value, message) => {
    const error = configError(value);
    expect(error.variable).toBe('QB_STORE_URL');
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain('pw-secret-1');
    expect(error.message).not.toContain('secret-1');
  });

  it.each([
    ['postgres://app:pa/ss@h@db:5432/qb', 'postgres://app:***@db:5432/qb'],
    [
      'postgres://app@db/qb?password=hunter2&sslmode=require',
      'postgres://app@db/qb?password=***&sslmode=require',
    ],
    ['postgres://db/qb', 'postgres://db/qb'],
    ['not a url', '(not a URL)'],
  ])('masks %s as %s', (value, masked) => {
    expect(maskStoreUrl(value)).toBe(masked);
  });

  it('warns when tokens would cross a network without TLS, not on loopback or with sslmode chosen', () => {
    expect(plaintextTransportWarning(parseStoreUrl('postgres://u@db.internal/qb'))).toMatch(
      /PostgreSQL at db.internal:5432\/qb is not encrypted .*sslmode=verify-full/,
    );
    expect(plaintextTransportWarning(parseStoreUrl('postgres://u@127.0.0.1/qb'))).toBeNull();
    expect(
      plaintextTransportWarning(parseStoreUrl('postgres://u@db.internal/qb?sslmode=disable')),
    ).toBeNull();
  });
});
