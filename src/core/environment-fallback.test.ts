// QB_ACCESS_TOKEN standing in: alone (its hour, a 401 or a disconnect ends it, it says so once and
// by preview only), then in the engine against the emulator over real loopback HTTP (after a failed
// refresh, after Clear, and never again once the API refused it).
import { describe, expect, it } from 'vitest';
import { ENV_ACCESS_TOKEN_MAX_LIFETIME_MS, EnvironmentFallback } from './environment-fallback';
import { NotConfiguredError, TokenError } from './errors';
import { QuickBooksClient } from './quickbooks-client';
import { harnessPerTest } from './testing/engine-harness';
import { MIN_USABLE_MS } from './token-status';

const TOKEN = 'env-access-token-from-the-environment-7f3a';
const STARTED = Date.parse('2026-12-01T09:00:00Z');

describe('EnvironmentFallback', () => {
  it('is usable for an hour from when this process first saw it (less the margin a caller needs)', () => {
    const fallback = new EnvironmentFallback(TOKEN, STARTED);
    const dies = STARTED + ENV_ACCESS_TOKEN_MAX_LIFETIME_MS;
    expect(fallback.token()).toEqual({ value: TOKEN, expiresAt: dies, usable: true });
    expect(fallback.usable(STARTED)).toBe(true);
    expect(fallback.usable(dies - MIN_USABLE_MS - 1)).toBe(true);
    expect(fallback.usable(dies - MIN_USABLE_MS)).toBe(false);
  });

  it('is not offered once the API refused it, nor after a disconnect', () => {
    const refused = new EnvironmentFallback(TOKEN, STARTED);
    expect(refused.refusedWith('some-other-access-token-value')).toBe(false);
    expect(refused.usable(STARTED)).toBe(true);
    expect(refused.refusedWith(TOKEN)).toBe(true);
    expect(refused.usable(STARTED)).toBe(false);
    expect(refused.token()?.usable).toBe(false);

    const disconnected = new EnvironmentFallback(TOKEN, STARTED);
    disconnected.forgotten = true;
    expect(disconnected.usable(STARTED)).toBe(false);
  });

  it('says so the first time it stands in (by preview, with the refresh error), not each time', () => {
    const fallback = new EnvironmentFallback(TOKEN, STARTED);
    const cause = new TokenError('server', 'Intuit answered 503.', { intuitTid: '1-abc' });
    const first = fallback.standIn(cause);
    expect(first.token).toBe(TOKEN);
    expect(first.notice?.message).toContain('Using QB_ACCESS_TOKEN (…7f3a) from the environment');
    expect(first.notice?.message).toContain('after the refresh failed (server)');
    expect(first.notice?.message).not.toContain(TOKEN);
    expect(first.notice?.intuitTid).toBe('1-abc');
    expect(fallback.active).toBe(true);
    expect(fallback.standIn(null)).toEqual({ token: TOKEN, notice: null });
  });

  it('without QB_ACCESS_TOKEN there is nothing to stand in', () => {
    const fallback = new EnvironmentFallback(null, STARTED);
    expect(fallback.token()).toBeNull();
    expect(fallback.usable(STARTED)).toBe(false);
    expect(() => fallback.standIn(null)).toThrow(NotConfiguredError);
  });
});

describe('the engine falling back to QB_ACCESS_TOKEN', () => {
  const setup = harnessPerTest();

  it('after Clear, QB_ACCESS_TOKEN stands in with the environment badge until the next refresh', async () => {
    const h = await setup();
    const seeded = h.emulator.control.issueAuthorization(h.emulator.realmId);
    h.scan.addSecrets(seeded.accessToken, seeded.refreshToken);
    const manager = await h.manager({ env: { accessToken: seeded.accessToken } });
    await manager.refresh('manual');
    expect(manager.getStatus().source).toBe('cached');
    const cleared = await manager.clear();
    expect(cleared.source).toBe('environment');
    expect(cleared.accessToken?.preview).toBe(`…${seeded.accessToken.slice(-4)}`);
    expect(cleared.refreshToken?.source).toBe('stored');
    const refreshed = await manager.refresh('manual');
    expect(refreshed.source).toBe('cached');
    expect(refreshed.accessToken?.preview).not.toBe(`…${seeded.accessToken.slice(-4)}`);
  });

  it('falls back to QB_ACCESS_TOKEN when refreshing fails, and says so', async () => {
    const h = await setup();
    const seeded = h.emulator.control.issueAuthorization(h.emulator.realmId);
    h.scan.addSecrets(seeded.accessToken, seeded.refreshToken);
    const manager = await h.manager({ env: { accessToken: seeded.accessToken }, retry: { maxAttempts: 2 } });
    h.emulator.control.injectTokenFault({ kind: 'status', status: 503 }, 2);
    expect(await manager.getAccessToken()).toBe(seeded.accessToken);
    const status = manager.getStatus();
    expect(status.source).toBe('environment');
    expect(status.accessToken?.preview).toBe(`…${seeded.accessToken.slice(-4)}`);
    expect(status.warnings.join(' ')).toMatch(/QB_ACCESS_TOKEN/);
    expect(status.history[0]?.type).toBe('fell_back_to_environment');
    // The environment's token really works against the API.
    const client = new QuickBooksClient({
      tokens: manager,
      apiBaseUrl: h.emulator.apiBaseUrl,
      realmId: h.emulator.realmId,
    });
    expect((await client.getCompanyInfo()).realmId).toBe(h.emulator.realmId);
    // Recovery: the next refresh puts the engine back on its own tokens.
    await manager.refresh('manual');
    expect(manager.getStatus().source).toBe('cached');
    expect(manager.getStatus().warnings.join(' ')).not.toMatch(/QB_ACCESS_TOKEN/);
  });

  it('does not fall back to an environment token the API has rejected', async () => {
    const h = await setup();
    const seeded = h.emulator.control.issueAuthorization(h.emulator.realmId);
    h.scan.addSecrets(seeded.accessToken, seeded.refreshToken);
    const manager = await h.manager({ env: { accessToken: seeded.accessToken }, retry: { maxAttempts: 1 } });
    h.emulator.control.injectTokenFault({ kind: 'status', status: 503 }, 3);
    expect(await manager.getAccessToken()).toBe(seeded.accessToken);
    const error = await manager.refreshAfter401(seeded.accessToken).catch((err: unknown) => err);
    h.scan.collect('error', error);
    expect((error as TokenError).kind).toBe('server');
    expect(manager.getStatus().stats.retriedOn401).toBe(1);
    expect(await manager.getAccessToken().catch((err: unknown) => err)).toBeInstanceOf(TokenError);
  });
});
