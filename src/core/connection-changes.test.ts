// What Connect, `connections add`, Clear, a rename and Disconnect do, against the emulator over real
// loopback HTTP and the real file store: each is written before it is served, Clear keeps the refresh
// token (and an unsaved rotated one), a new authorization clears a rejection, a refresh token given by
// hand is not displaced by an unchanged QB_REFRESH_TOKEN, and a rename reaches the shared record even
// when the store could not take it at first.
import { describe, expect, it } from 'vitest';
import { harnessPerTest, type EngineHarness } from './testing/engine-harness';
import { waitFor } from './testing/manual-clock';

const setup = harnessPerTest();
const refreshCalls = (h: EngineHarness) => h.emulator.control.counters().tokenCalls.refresh_token;

describe('clear, connect and forget', () => {
  it('clear drops only the access token; the refresh token survives', async () => {
    const h = await setup();
    const manager = await h.manager();
    await manager.getAccessToken();
    const status = await manager.clear();
    expect(status.accessToken).toBeNull();
    expect(status.refreshToken?.source).toBe('stored');
    const stored = await h.readStoredTokens();
    expect(stored?.accessToken).toBeNull();
    expect(h.emulator.control.isRefreshTokenValid(stored?.refreshToken ?? '')).toBe(true);
    await manager.getAccessToken();
    expect(manager.getStatus().state).toBe('valid');
  });

  it('adoptAuthorization stores the new chain before serving it and clears reauthorization', async () => {
    const h = await setup();
    const manager = await h.manager();
    h.emulator.control.injectTokenFault({ kind: 'invalid_grant' });
    await manager.refresh('manual').catch(() => undefined);
    expect(manager.getStatus().state).toBe('reauthorization_required');
    const fresh = h.freshAuthorization();
    await manager.adoptAuthorization({ ...fresh, expiresIn: 3600, refreshExpiresIn: 8_726_400 });
    expect((await h.readStoredTokens())?.refreshToken).toBe(fresh.refreshToken);
    expect(await manager.getAccessToken()).toBe(fresh.accessToken);
    const status = manager.getStatus();
    expect(status.state).toBe('valid');
    expect(status.history[0]?.type).toBe('connected');
    // The API client's cheap read of the company id agrees with the status.
    expect(manager.realmId()).toBe(status.realmId);
    // The token timeline draws the access token Connect issued from this event.
    expect(status.history[0]?.accessTokenExpiresAt).toBe(status.accessToken?.expiresAt);
    const forgotten = await manager.disconnect();
    expect(forgotten.state).toBe('not_configured');
    expect(manager.realmId()).toBe(forgotten.realmId);
    expect(await h.readStoredTokens()).toBeNull();
  });
});

describe('what the status says after Connect', () => {
  it('after invalid_grant the refresh token says when Intuit rejected it; Connect clears it', async () => {
    const h = await setup();
    const manager = await h.manager();
    await manager.getAccessToken();
    h.emulator.control.injectTokenFault({ kind: 'invalid_grant' });
    await manager.refresh('manual').catch(() => undefined);
    const rejected = manager.getStatus();
    expect(rejected.refreshToken?.rejectedAt).toBe(rejected.lastRefresh?.at);
    const fresh = h.freshAuthorization();
    const connected = await manager.adoptAuthorization({
      ...fresh,
      expiresIn: 3600,
      refreshExpiresIn: 8_726_400,
    });
    expect(connected.refreshToken?.rejectedAt).toBeNull();
    expect(connected.stats.consecutiveFailures).toBe(0);
  });
});

describe('a store that cannot be written', () => {
  it('Clear keeps the unsaved rotated chain: the older stored one never replaces it', async () => {
    const h = await setup({ rotateAfterSeconds: 0 });
    const manager = await h.managerFailingNextSave();
    await manager.refresh('manual').catch(() => undefined);
    await manager.clear();
    const stored = await h.readStoredTokens();
    expect(h.emulator.control.isRefreshTokenValid(stored?.refreshToken ?? '')).toBe(true);
    expect(manager.getStatus().warnings.join(' ')).not.toMatch(/could not be saved/);
    await expect(manager.getAccessToken()).resolves.toBeTruthy();
  });
});

describe('a refresh token given by hand (`qb-token connections add`)', () => {
  it('is stored before use, the first call refreshes with it, and an unchanged QB_REFRESH_TOKEN does not displace it', async () => {
    const h = await setup();
    const manager = await h.manager();
    const given = h.emulator.control.issueAuthorization(h.emulator.realmId);
    h.scan.addSecrets(given.accessToken, given.refreshToken);
    h.emulator.control.resetCounters();
    const status = await manager.adoptRefreshToken(given.refreshToken, h.emulator.realmId);
    expect((await h.readStoredTokens())?.refreshToken).toBe(given.refreshToken);
    expect(status.refreshToken).toMatchObject({
      preview: `…${given.refreshToken.slice(-4)}`,
      source: 'stored',
    });
    expect(status.history[0]?.type).toBe('connected');
    expect(status.history[0]?.message).toContain(`…${given.refreshToken.slice(-4)}`);
    expect(refreshCalls(h)).toBe(0);
    await manager.getAccessToken();
    expect(refreshCalls(h)).toBe(1);
    await manager.dispose();
    // A process started later with the same QB_REFRESH_TOKEN as before keeps the chain given by hand.
    const later = await h.manager();
    expect(later.getStatus().refreshToken).toMatchObject({ source: 'stored' });
    expect(later.getStatus().refreshToken?.preview).toBe(manager.getStatus().refreshToken?.preview);
  });
});

describe('a rename or a company name', () => {
  it('shows at once, is written to the shared record, and reaches another process', async () => {
    const h = await setup();
    const a = await h.manager();
    await a.getAccessToken();
    const b = await h.manager();
    const renamed = await a.updateProfile({ name: 'Billing company' });
    expect(renamed.connection.name).toBe('Billing company');
    expect((await h.readRecord())?.profile.name).toBe('Billing company');
    await waitFor(() => b.getStatus().connection.name === 'Billing company', "B's view of the rename");
  });

  it('one the store could not take shows at once and is written with the next write', async () => {
    const h = await setup();
    const manager = await h.managerFailingNextSave();
    await expect(manager.updateProfile({ companyName: 'Acme Tools Ltd' })).rejects.toThrow();
    expect(manager.getStatus().connection.companyName).toBe('Acme Tools Ltd');
    expect((await h.readRecord())?.profile.companyName).toBeNull();
    await manager.refresh('manual');
    expect((await h.readRecord())?.profile.companyName).toBe('Acme Tools Ltd');
    expect(manager.getStatus().connection.companyName).toBe('Acme Tools Ltd');
  });
});
