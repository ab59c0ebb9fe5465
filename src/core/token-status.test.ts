// TokenStatus as a pure function of the shared record, this process's facts and the clock.
import { describe, expect, it } from 'vitest';
import {
  applyHealthChanges,
  defaultProfile,
  newConnectionRecord,
  type ConnectionRecord,
  type HealthChange,
} from './connection-record';
import { computeTokenStatus, servedToken, skewMs, tokenState, type ProcessFacts } from './token-status';
import { fingerprintToken, type StoredTokens } from './token-store';

const NOW = Date.parse('2026-11-30T10:00:00.000Z');
const MIN = 60_000;
const DAY = 86_400_000;
const REFRESH = 'RT-status-test-0000-Rf42';
const ACCESS = 'AT-status-test-0000-Ac17';
const ENV_ACCESS = 'AT-from-the-environment-En99';

const chain = (overrides: Partial<StoredTokens> = {}): StoredTokens => ({
  version: 1,
  refreshToken: REFRESH,
  refreshTokenIssuedAt: NOW - 10 * MIN,
  lastRotatedAt: null,
  refreshTokenExpiresAt: NOW + 100 * DAY,
  refreshTokenHardExpiresAt: NOW + 1000 * DAY,
  accessToken: ACCESS,
  accessTokenExpiresAt: NOW + 50 * MIN,
  refreshedAt: NOW - 10 * MIN,
  realmId: '9130350000000042',
  origin: { envRefreshTokenSha256: null },
  ...overrides,
});

const record = (tokens: StoredTokens | null = chain(), changes: HealthChange[] = []): ConnectionRecord =>
  applyHealthChanges(
    { ...newConnectionRecord('default', defaultProfile('sandbox', null), tokens), revision: 3 },
    changes,
  );

const facts = (overrides: Partial<ProcessFacts> = {}): ProcessFacts => ({
  connectionId: 'default',
  environment: 'sandbox',
  demo: false,
  configuredRealmId: null,
  refreshSkewSeconds: 300,
  canConnect: true,
  canRefresh: true,
  chainStored: true,
  refreshing: false,
  retrying: null,
  nextRefreshAt: NOW + 45 * MIN,
  autoRefresh: true,
  environmentAccessToken: null,
  environmentFallback: false,
  unsaved: false,
  clientError: null,
  configWarnings: [],
  store: {
    description: { kind: 'file', location: '/data/connections', encrypted: true },
    reachable: true,
    warnings: [],
    problem: null,
    misconfigured: false,
  },
  ...overrides,
});

const rejected = (tokens = chain()): ConnectionRecord =>
  record(tokens, [
    {
      type: 'refresh_failed',
      attempt: { at: NOW - MIN, trigger: 'scheduled', durationMs: 80, client: 'qb-token' },
      error: { kind: 'invalid_grant', message: 'Intuit refused it.', intuitTid: '1-tid' },
      refreshTokenSha256: fingerprintToken(tokens.refreshToken),
      events: [],
    },
  ]);

describe('state', () => {
  it('valid, then expiring inside the skew, then expired', () => {
    expect(tokenState(record(), facts(), NOW)).toBe('valid');
    expect(tokenState(record(), facts(), NOW + 46 * MIN)).toBe('expiring');
    expect(tokenState(record(), facts(), NOW + 50 * MIN)).toBe('expired');
  });

  it('no_token, not expired, when a refresh token is there but no access token was fetched yet or Clear dropped it', () => {
    const cleared = chain({ accessToken: null, accessTokenExpiresAt: null });
    expect(tokenState(record(cleared), facts(), NOW)).toBe('no_token');
    // Fresh from QB_REFRESH_TOKEN, never refreshed.
    expect(
      tokenState(
        record(chain({ accessToken: null, accessTokenExpiresAt: null, refreshedAt: null })),
        facts({ chainStored: false }),
        NOW,
      ),
    ).toBe('no_token');
  });

  it('refreshing while this process has a refresh in flight', () => {
    expect(tokenState(record(), facts({ refreshing: true }), NOW)).toBe('refreshing');
  });

  it("reauthorization_required when Intuit rejected the chain's refresh token, whichever process saw it", () => {
    expect(tokenState(rejected(), facts(), NOW)).toBe('reauthorization_required');
    // A chain that moved on since (another process reconnected) is not rejected.
    const moved = { ...rejected(), tokens: chain({ refreshToken: 'RT-after-reconnect-0000' }) };
    expect(tokenState(moved, facts(), NOW)).toBe('valid');
  });

  it('not_configured without a chain or usable environment token, without client keys, or with a store key error', () => {
    expect(tokenState(null, facts(), NOW)).toBe('not_configured');
    expect(tokenState(record(null), facts(), NOW)).toBe('not_configured');
    const noAccess = record(chain({ accessToken: null, accessTokenExpiresAt: null }));
    expect(tokenState(noAccess, facts({ canRefresh: false }), NOW)).toBe('not_configured');
    // A still-valid token is served without keys, until it expires.
    expect(tokenState(record(), facts({ canRefresh: false }), NOW)).toBe('valid');
    const keyError = facts({
      store: {
        description: { kind: 'file', location: '/data/connections', encrypted: true },
        reachable: true,
        warnings: [],
        problem: 'QB_STORE_KEY is wrong',
        misconfigured: true,
      },
    });
    expect(tokenState(noAccess, keyError, NOW)).toBe('not_configured');
  });

  it('QB_ACCESS_TOKEN stands in when no access token is cached, until an hour after it was first seen', () => {
    const env = { value: ENV_ACCESS, expiresAt: NOW + 30 * MIN, usable: true };
    const cleared = record(chain({ accessToken: null, accessTokenExpiresAt: null }));
    const status = computeTokenStatus(cleared, facts({ environmentAccessToken: env }), NOW);
    expect(status).toMatchObject({
      state: 'valid',
      source: 'environment',
      accessToken: { preview: '…En99' },
    });
    expect(
      computeTokenStatus(cleared, facts({ environmentAccessToken: { ...env, usable: false } }), NOW).state,
    ).toBe('no_token');
    // Only the environment's token, no refresh token at all.
    expect(tokenState(null, facts({ environmentAccessToken: env }), NOW)).toBe('valid');
  });
});

describe('the status', () => {
  it('shows only previews, and times as absolute ISO strings', () => {
    const status = computeTokenStatus(record(), facts(), NOW);
    expect(status.accessToken).toEqual({ preview: '…Ac17', expiresAt: '2026-11-30T10:50:00.000Z' });
    expect(status.refreshToken).toEqual({
      preview: '…Rf42',
      source: 'stored',
      expiresAt: new Date(NOW + 100 * DAY).toISOString(),
      hardExpiresAt: new Date(NOW + 1000 * DAY).toISOString(),
      lastRotatedAt: null,
      rejectedAt: null,
    });
    expect(JSON.stringify(status)).not.toContain(REFRESH);
    expect(JSON.stringify(status)).not.toContain(ACCESS);
    expect(status.connection).toEqual({ id: 'default', name: 'QuickBooks sandbox', companyName: null });
    expect(status.store).toEqual({
      kind: 'file',
      location: '/data/connections',
      encrypted: true,
      reachable: true,
      misconfigured: false,
      problem: null,
    });
    expect(status.autoRefresh).toEqual({
      enabled: true,
      nextRefreshAt: '2026-11-30T10:45:00.000Z',
      skewSeconds: 300,
      retrying: null,
    });
  });

  it('after invalid_grant: rejectedAt set, the last refresh (with its client), stats and a warning, from the shared record', () => {
    const status = computeTokenStatus(rejected(), facts(), NOW);
    expect(status.refreshToken?.rejectedAt).toBe('2026-11-30T09:59:00.000Z');
    expect(status.lastRefresh).toMatchObject({
      ok: false,
      client: 'qb-token',
      error: { kind: 'invalid_grant' },
    });
    expect(status.stats).toMatchObject({
      failures: 1,
      consecutiveFailures: 1,
      failingSince: '2026-11-30T09:59:00.000Z',
    });
    expect(status.warnings).toContain(
      'QuickBooks no longer accepts the refresh token: reconnect to QuickBooks.',
    );
  });

  it('an invalid_grant that followed an interrupted refresh says so in the warnings', () => {
    const tokens = chain();
    const record_ = record(tokens, [
      {
        type: 'refresh_failed',
        attempt: { at: NOW, trigger: 'manual', durationMs: 5 },
        error: {
          kind: 'invalid_grant',
          message: 'QB Token Desk was stopped during a refresh …',
          intuitTid: null,
        },
        refreshTokenSha256: fingerprintToken(tokens.refreshToken),
        cause: 'interrupted_refresh',
        events: [],
      },
    ]);
    expect(computeTokenStatus(record_, facts(), NOW).warnings).toContain(
      'QB Token Desk was stopped during a refresh …',
    );
  });

  it('the store: unreachable, its problem, its warnings; configuration warnings come first', () => {
    const status = computeTokenStatus(
      record(),
      facts({
        configWarnings: ['QB_ALLOW_NON_INTUIT_URLS is set.'],
        store: {
          description: { kind: 'postgres', location: 'db:5432/qb', encrypted: false },
          reachable: false,
          warnings: ['Tokens are stored unencrypted.'],
          problem: 'The token store cannot be reached.',
          misconfigured: false,
        },
      }),
      NOW,
    );
    expect(status.state).toBe('valid');
    expect(status.store).toEqual({
      kind: 'postgres',
      location: 'db:5432/qb',
      encrypted: false,
      reachable: false,
      misconfigured: false,
      problem: 'The token store cannot be reached.',
    });
    expect(status.warnings.slice(0, 3)).toEqual([
      'QB_ALLOW_NON_INTUIT_URLS is set.',
      'Tokens are stored unencrypted.',
      'The token store cannot be reached.',
    ]);
  });

  it('warns about an unsaved chain, the fallback, rejected keys, missing keys and expiries under 14 days', () => {
    const soon = chain({ refreshTokenExpiresAt: NOW + 10 * DAY, refreshTokenHardExpiresAt: NOW + 12 * DAY });
    const warnings = computeTokenStatus(
      record(soon),
      facts({
        unsaved: true,
        environmentFallback: true,
        canRefresh: false,
        clientError: { kind: 'invalid_client', message: 'keys refused', intuitTid: null },
      }),
      NOW,
    ).warnings.join('\n');
    expect(warnings).toMatch(/could not be saved to the token store; they are kept in memory/);
    expect(warnings).toMatch(/calls use QB_ACCESS_TOKEN/);
    expect(warnings).toMatch(/Configuration error: keys refused/);
    expect(warnings).toMatch(/QB_CLIENT_ID and QB_CLIENT_SECRET are not set/);
    expect(warnings).toContain(`The refresh token expires on ${new Date(NOW + 10 * DAY).toISOString()}`);
    expect(warnings).toContain(`5-year limit on ${new Date(NOW + 12 * DAY).toISOString()}`);
    expect(computeTokenStatus(record(), facts(), NOW).warnings).toEqual([]);
  });

  it('the profile names the connection and the realm falls back to QB_REALM_ID', () => {
    const named = {
      ...record(chain({ realmId: null })),
      profile: { ...defaultProfile('production', null), companyName: 'Acme' },
    };
    const status = computeTokenStatus(
      named,
      facts({ environment: 'production', configuredRealmId: '123' }),
      NOW,
    );
    expect(status.connection).toEqual({ id: 'default', name: 'QuickBooks production', companyName: 'Acme' });
    expect(status.realmId).toBe('123');
    expect(status.environment).toBe('production');
  });
});

describe('the token served and the skew', () => {
  it('the skew is capped at half the token lifetime (demo tokens are shorter than the skew)', () => {
    expect(skewMs(chain(), 300)).toBe(300_000);
    const demo = chain({ refreshedAt: NOW, accessTokenExpiresAt: NOW + 120_000 });
    expect(skewMs(demo, 300)).toBe(60_000);
    expect(skewMs(null, 30)).toBe(30_000);
  });

  it('while falling back, the environment token is served even with a cached one', () => {
    const env = { value: ENV_ACCESS, expiresAt: NOW + 30 * MIN, usable: true };
    expect(
      servedToken(chain(), { environmentAccessToken: env, environmentFallback: true }, NOW)?.source,
    ).toBe('environment');
    expect(
      servedToken(chain(), { environmentAccessToken: env, environmentFallback: false }, NOW)?.source,
    ).toBe('cached');
  });
});
