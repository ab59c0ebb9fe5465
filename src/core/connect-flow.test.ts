// The Connect flow and Disconnect against the real emulator over loopback HTTP: a TokenManager on a
// FileConnectionStore in a temp dir, IntuitOAuth, and the emulator's authorize page in auto-approve mode
// (its 302 carries code, state and realmId, exactly what a browser would follow).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator } from '../emulator';
import type { EmulatorHandle } from '../emulator/types';
import type { TokenStatus } from '../shared/contract';
import { ConnectRefusedError, NOTHING_TO_REVOKE, OAuthConnectFlow } from './connect-flow';
import { ConnectError, NotConfiguredError, toResultError } from './errors';
import { FileConnectionStore } from './file-connection-store';
import { IntuitOAuth } from './intuit-oauth';
import { SecretRegistry } from './log';
import { TokenManager } from './token-manager';
import type { ConnectionStore } from './connection-store';
import { failingSaves, wrapStore } from './testing/store-wrapper';

const REDIRECT = 'http://localhost:5999/callback';

interface Setup {
  emulator: EmulatorHandle;
  dir: string;
  logLines: string[];
  secrets: SecretRegistry;
  managers: TokenManager[];
  extraServers: Server[];
}

let s: Setup;

beforeEach(async () => {
  s = {
    emulator: await startEmulator({ autoApprove: true }),
    dir: await mkdtemp(join(tmpdir(), 'qbtd-connect-')),
    logLines: [],
    secrets: new SecretRegistry(),
    managers: [],
    extraServers: [],
  };
});

afterEach(async () => {
  for (const manager of s.managers) await manager.dispose();
  for (const server of s.extraServers) await new Promise((resolve) => server.close(resolve));
  await s.emulator.close();
  await rm(s.dir, { recursive: true, force: true });
});

function oauth(overrides: Partial<{ revokeUrl: string }> = {}): IntuitOAuth {
  return new IntuitOAuth({
    clientId: s.emulator.clientId,
    clientSecret: s.emulator.clientSecret,
    tokenUrl: s.emulator.tokenUrl,
    revokeUrl: overrides.revokeUrl ?? s.emulator.revokeUrl,
    authorizeUrl: s.emulator.authorizeUrl,
    timeoutMs: 2000,
  });
}

function store(): FileConnectionStore {
  return new FileConnectionStore({ dataDir: s.dir, storeKey: null, log: (line) => s.logLines.push(line) });
}

async function engine(
  options: {
    envRefreshToken?: string | null;
    revokeUrl?: string;
    wrapStore?: (store: ConnectionStore) => ConnectionStore;
    now?: () => number;
    withKeys?: boolean;
  } = {},
) {
  const tokenStore = options.wrapStore ? options.wrapStore(store()) : store();
  const envRefreshToken = options.envRefreshToken ?? null;
  const protocol = options.withKeys === false ? null : oauth({ revokeUrl: options.revokeUrl });
  const manager = new TokenManager({
    config: {
      refreshToken: envRefreshToken,
      accessToken: null,
      realmId: null,
      environment: 'sandbox',
      refreshSkewSeconds: 300,
      demo: false,
      canConnect: protocol !== null,
    },
    store: tokenStore,
    oauth: protocol,
    log: (line) => s.logLines.push(line),
    retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1, cooldownMs: 10 },
    refreshOnStart: false,
    secrets: s.secrets,
  });
  s.managers.push(manager);
  await manager.start();
  const flow = new OAuthConnectFlow({
    oauth: protocol,
    tokens: manager,
    scopes: ['com.intuit.quickbooks.accounting'],
    now: options.now,
    flowTtlMs: 60_000,
    log: (line) => s.logLines.push(line),
    secrets: s.secrets,
  });
  return { manager, flow, store: tokenStore };
}

/** What a browser does with the authorize URL when the emulator auto-approves: follow its 302. */
async function approve(authorizeUrl: string): Promise<URLSearchParams> {
  const response = await fetch(authorizeUrl, { redirect: 'manual' });
  expect(response.status).toBe(302);
  const location = new URL(response.headers.get('location') ?? '');
  expect(location.origin + location.pathname).toBe(REDIRECT);
  return location.searchParams;
}

/** Every secret a test could leak: the client secret, codes seen, tokens the engine saw. */
function assertNoSecretsIn(texts: string[], codes: string[] = []): void {
  const secrets = [s.emulator.clientSecret, ...codes, ...s.secrets.values()].filter((v) => v.length >= 8);
  for (const text of [...texts, ...s.logLines]) {
    for (const secret of secrets) expect(text.includes(secret), `a secret leaked into: ${text}`).toBe(false);
  }
}

describe('Connect', () => {
  it('connects a desk that has only the app keys; the chain and its realmId survive a restart', async () => {
    const { manager, flow } = await engine();
    expect(manager.getStatus()).toMatchObject({ state: 'not_configured', canConnect: true });

    const { authorizeUrl, state } = flow.begin(REDIRECT);
    const url = new URL(authorizeUrl);
    expect(url.searchParams.get('state')).toBe(state);
    expect(url.searchParams.get('redirect_uri')).toBe(REDIRECT);
    expect(url.searchParams.get('scope')).toBe('com.intuit.quickbooks.accounting');
    expect(url.searchParams.get('response_type')).toBe('code');
    expect(state).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const query = await approve(authorizeUrl);
    const status = await flow.complete(query);
    expect(status.state).toBe('valid');
    expect(status.realmId).toBe(s.emulator.realmId);
    expect(status.refreshToken?.source).toBe('stored');
    expect(status.history[0]?.type).toBe('connected');
    expect(s.emulator.control.counters().tokenCalls.authorization_code).toBe(1);

    // Next start: no QB_REFRESH_TOKEN, no QB_REALM_ID, yet the stored chain is used.
    await manager.dispose();
    const again = await engine();
    expect(again.manager.getStatus()).toMatchObject({ realmId: s.emulator.realmId });
    const refreshed = await again.manager.refresh('manual');
    expect(refreshed.state).toBe('valid');
    assertNoSecretsIn([JSON.stringify(status), JSON.stringify(refreshed)], [query.get('code') ?? '']);
  });

  it('writes the store before any status says connected', async () => {
    let saved = false;
    const { manager, flow } = await engine({
      wrapStore: (inner) =>
        wrapStore(inner, {
          async save(record) {
            await inner.save(record);
            saved = true;
          },
        }),
    });
    const seen: Array<{ connected: boolean; saved: boolean }> = [];
    manager.onStatusChanged((status) => seen.push({ connected: status.refreshToken !== null, saved }));
    const { authorizeUrl } = flow.begin(REDIRECT);
    await flow.complete(await approve(authorizeUrl));
    const connected = seen.filter((entry) => entry.connected);
    expect(connected.length).toBeGreaterThan(0);
    expect(connected.every((entry) => entry.saved)).toBe(true);
  });

  it('refuses a replayed redirect without sending the code again, and the connection keeps working', async () => {
    const { manager, flow } = await engine();
    const { authorizeUrl } = flow.begin(REDIRECT);
    const query = await approve(authorizeUrl);
    await flow.complete(query);
    const replay = await flow.complete(query).catch((err: unknown) => err);
    expect(replay).toBeInstanceOf(ConnectRefusedError);
    expect((replay as ConnectRefusedError).reason).toBe('replay');
    expect(toResultError(replay).code).toBe('connect_failed');
    expect(s.emulator.control.counters().tokenCalls.authorization_code).toBe(1);
    // A second exchange would have made the emulator revoke the authorization: it still works.
    expect((await manager.refresh('manual')).state).toBe('valid');
    assertNoSecretsIn([(replay as Error).message], [query.get('code') ?? '']);
  });

  it('exchanges the code once when the callback is hit twice at the same moment', async () => {
    const { manager, flow } = await engine();
    const query = await approve(flow.begin(REDIRECT).authorizeUrl);
    const outcomes = await Promise.allSettled([flow.complete(query), flow.complete(query)]);
    expect(outcomes.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected']);
    const rejected = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
    expect((rejected.reason as ConnectRefusedError).reason).toBe('replay');
    expect(s.emulator.control.counters().tokenCalls.authorization_code).toBe(1);
    expect((await manager.refresh('manual')).state).toBe('valid');
  });

  it('never sends a used code again, even under a fresh state', async () => {
    const { flow } = await engine();
    const first = await approve(flow.begin(REDIRECT).authorizeUrl);
    await flow.complete(first);
    const { state } = flow.begin(REDIRECT);
    const swapped = new URLSearchParams(first);
    swapped.set('state', state);
    const refused = await flow.complete(swapped).catch((err: unknown) => err);
    expect((refused as ConnectRefusedError).reason).toBe('replay');
    expect(s.emulator.control.counters().tokenCalls.authorization_code).toBe(1);
  });

  it('refuses a wrong state, and the real answer still completes afterwards', async () => {
    const { manager, flow } = await engine();
    const query = await approve(flow.begin(REDIRECT).authorizeUrl);
    const forged = new URLSearchParams(query);
    forged.set('state', 'not-the-state-we-sent');
    const refused = await flow.complete(forged).catch((err: unknown) => err);
    expect((refused as ConnectRefusedError).reason).toBe('state_mismatch');
    const missing = new URLSearchParams(query);
    missing.delete('state');
    expect(((await flow.complete(missing).catch((err: unknown) => err)) as ConnectRefusedError).reason).toBe(
      'state_mismatch',
    );
    expect(s.emulator.control.counters().tokenCalls.authorization_code).toBe(0);
    expect(manager.getStatus().state).toBe('not_configured');
    expect((await flow.complete(query)).state).toBe('valid');
  });

  it('refuses an answer that comes back after the flow expired', async () => {
    let now = Date.now();
    const { flow } = await engine({ now: () => now });
    const query = await approve(flow.begin(REDIRECT).authorizeUrl);
    now += 61_000;
    const refused = await flow.complete(query).catch((err: unknown) => err);
    expect((refused as ConnectRefusedError).reason).toBe('expired');
    expect((refused as Error).message).toMatch(/expired/);
    expect(s.emulator.control.counters().tokenCalls.authorization_code).toBe(0);
  });

  it("reports Intuit's error (the user cancelled) without calling the token endpoint", async () => {
    const { flow } = await engine();
    const { state } = flow.begin(REDIRECT);
    const refused = await flow
      .complete(new URLSearchParams({ error: 'access_denied', state }))
      .catch((err: unknown) => err);
    expect((refused as ConnectRefusedError).reason).toBe('denied');
    expect((refused as Error).message).toMatch(/access_denied/);
    const odd = flow.begin(REDIRECT).state;
    const weird = await flow
      .complete(new URLSearchParams({ error: '<script>alert(1)</script>', state: odd }))
      .catch((err: unknown) => err);
    expect((weird as Error).message).not.toMatch(/script/);
  });

  it('refuses a redirect without code or realmId', async () => {
    const { flow } = await engine();
    const { state } = flow.begin(REDIRECT);
    const refused = await flow.complete(new URLSearchParams({ state })).catch((err: unknown) => err);
    expect((refused as ConnectRefusedError).reason).toBe('bad_callback');
    const query = await approve(flow.begin(REDIRECT).authorizeUrl);
    query.delete('realmId');
    const noRealm = await flow.complete(query).catch((err: unknown) => err);
    expect((noRealm as ConnectRefusedError).reason).toBe('bad_callback');
    expect(s.emulator.control.counters().tokenCalls.authorization_code).toBe(0);
  });

  it('turns a failed exchange into connect_failed with the intuit_tid and keeps the previous state', async () => {
    const { manager, flow } = await engine({ envRefreshToken: s.emulator.refreshToken });
    const before = manager.getStatus().refreshToken?.preview;
    const query = await approve(flow.begin(REDIRECT).authorizeUrl);
    s.emulator.control.injectTokenFault({ kind: 'invalid_grant' });
    const failed = await flow.complete(query).catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(ConnectRefusedError);
    expect((failed as ConnectRefusedError).reason).toBe('exchange_failed');
    expect(toResultError(failed)).toMatchObject({ code: 'connect_failed', intuitTid: expect.any(String) });
    expect((failed as Error).message).toMatch(/invalid_grant/);
    expect(manager.getStatus().refreshToken?.preview).toBe(before);
    assertNoSecretsIn([(failed as Error).message], [query.get('code') ?? '']);
  });

  it('restores a working connection after invalid_grant', async () => {
    const { manager, flow } = await engine({ envRefreshToken: s.emulator.refreshToken });
    s.emulator.control.injectTokenFault({ kind: 'invalid_grant' });
    await expect(manager.refresh('manual')).rejects.toMatchObject({ kind: 'invalid_grant' });
    expect(manager.getStatus().state).toBe('reauthorization_required');
    const status = await flow.complete(await approve(flow.begin(REDIRECT).authorizeUrl));
    expect(status.state).toBe('valid');
    expect((await manager.refresh('manual')).state).toBe('valid');
  });

  it('refuses to begin without the app keys', async () => {
    const { flow } = await engine({ withKeys: false });
    expect(flow.available).toBe(false);
    expect(() => flow.begin(REDIRECT)).toThrow(NotConfiguredError);
  });
});

describe('Disconnect', () => {
  async function connected(options: { revokeUrl?: string } = {}) {
    const setup = await engine(options);
    await setup.flow.complete(await approve(setup.flow.begin(REDIRECT).authorizeUrl));
    const tokens = (await setup.store.load('default')).record?.tokens ?? null;
    return { ...setup, refreshToken: tokens?.refreshToken ?? '' };
  }

  it('revokes the refresh token at Intuit, then forgets the stored tokens', async () => {
    const { manager, flow, store: tokenStore, refreshToken } = await connected();
    expect(s.emulator.control.isRefreshTokenValid(refreshToken)).toBe(true);
    const status = await flow.disconnect();
    expect(s.emulator.control.counters().revokeCalls).toBe(1);
    expect(s.emulator.control.isRefreshTokenValid(refreshToken)).toBe(false);
    expect(status).toMatchObject({ state: 'not_configured', refreshToken: null, accessToken: null });
    expect(status.history[0]?.type).toBe('disconnected');
    expect((await tokenStore.load('default')).record?.tokens).toBeNull();
    expect(manager.getStatus().state).toBe('not_configured');
  });

  it("revokes the environment's refresh token when that is the one in use", async () => {
    const { flow } = await engine({ envRefreshToken: s.emulator.refreshToken });
    await flow.disconnect();
    expect(s.emulator.control.isRefreshTokenValid(s.emulator.refreshToken)).toBe(false);
  });

  it('a rotated refresh token this process could not save yet is the one revoked (the stored one is retired)', async () => {
    s.emulator.control.configure({ rotateAfterSeconds: 0 });
    const failures = { remaining: 0 };
    const setup = await engine({ wrapStore: (inner) => failingSaves(inner, failures) });
    await setup.flow.complete(await approve(setup.flow.begin(REDIRECT).authorizeUrl));
    failures.remaining = 1;
    await expect(setup.manager.refresh('manual')).rejects.toThrow(/could not be saved/);
    expect(setup.manager.getStatus().warnings.join(' ')).toMatch(/could not be saved/);

    const status = await setup.flow.disconnect();
    expect(status.history[0]?.message).toBe(
      'Disconnected: Intuit revoked the refresh token, and the stored tokens were forgotten.',
    );
    const live = s.emulator.control
      .issuedTokenValues()
      .filter((value) => value !== s.emulator.refreshToken && s.emulator.control.isRefreshTokenValid(value));
    expect(live.length, 'refresh tokens of the disconnected chain Intuit still accepts').toBe(0);
  });

  it('keeps the tokens when the revoke fails, and forgets them when confirmed again (force)', async () => {
    // A real loopback endpoint that answers like an Intuit outage.
    const outage = createServer((_req, res) => {
      res.writeHead(503, { 'content-type': 'text/plain', intuit_tid: '1-outage-tid' });
      res.end('Service Unavailable');
    });
    s.extraServers.push(outage);
    await new Promise<void>((resolve) => outage.listen(0, '127.0.0.1', resolve));
    const revokeUrl = `http://127.0.0.1:${(outage.address() as AddressInfo).port}/v2/oauth2/tokens/revoke`;
    const { manager, flow, store: tokenStore, refreshToken } = await connected({ revokeUrl });

    const failed = await flow.disconnect().catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(ConnectError);
    expect(toResultError(failed)).toEqual({
      code: 'revoke_failed',
      message: expect.stringMatching(/HTTP 503/),
      intuitTid: '1-outage-tid',
    });
    expect(manager.getStatus().state).toBe('valid');
    expect((await tokenStore.load('default')).record?.tokens?.refreshToken).toBe(refreshToken);

    const forced: TokenStatus = await flow.disconnect({ force: true });
    expect(forced.state).toBe('not_configured');
    expect((await tokenStore.load('default')).record?.tokens).toBeNull();
    assertNoSecretsIn([(failed as Error).message, JSON.stringify(forced)]);
  });

  it('a refresh token Intuit already holds as invalid (revoked elsewhere): nothing to revoke, so the tokens are forgotten and the history says so', async () => {
    const { manager, flow, store: tokenStore, refreshToken } = await connected();
    // Revoked out of band (another tool, Intuit's app page): Intuit answers a second revoke with 400.
    await expect(oauth().revoke(refreshToken)).resolves.toMatchObject({ outcome: 'revoked' });
    const status = await flow.disconnect();
    expect(s.emulator.control.counters().revokeCalls).toBe(2);
    expect(status).toMatchObject({ state: 'not_configured', refreshToken: null, accessToken: null });
    expect(status.history[0]).toMatchObject({
      type: 'disconnected',
      message:
        'Disconnected: Intuit had nothing to revoke: the token was already invalid. The stored tokens were forgotten.',
    });
    expect((await tokenStore.load('default')).record?.tokens).toBeNull();
    expect(manager.getStatus().state).toBe('not_configured');
    expect(s.logLines.some((line) => line.includes(NOTHING_TO_REVOKE))).toBe(true);
    assertNoSecretsIn([...s.logLines, JSON.stringify(status)]);
  });

  it('wrong app keys (401) or an unreachable Intuit still refuse without force', async () => {
    const { manager, store: tokenStore, refreshToken } = await connected();
    const flowWith = (protocol: IntuitOAuth) =>
      new OAuthConnectFlow({
        oauth: protocol,
        tokens: manager,
        scopes: [],
      });
    const wrongKeys = flowWith(
      new IntuitOAuth({
        clientId: s.emulator.clientId,
        clientSecret: 'not-the-secret',
        tokenUrl: s.emulator.tokenUrl,
        revokeUrl: s.emulator.revokeUrl,
        authorizeUrl: s.emulator.authorizeUrl,
        timeoutMs: 2000,
      }),
    );
    const refused = await wrongKeys.disconnect().catch((err: unknown) => err);
    expect(toResultError(refused)).toMatchObject({
      code: 'revoke_failed',
      message: expect.stringMatching(/app's keys \(HTTP 401\)/),
    });
    const unreachable = flowWith(oauth({ revokeUrl: 'http://127.0.0.1:9/v2/oauth2/tokens/revoke' }));
    const down = await unreachable.disconnect().catch((err: unknown) => err);
    expect(toResultError(down)).toMatchObject({
      code: 'revoke_failed',
      message: expect.stringMatching(/could not be reached/),
    });
    expect(manager.getStatus().state).toBe('valid');
    expect((await tokenStore.load('default')).record?.tokens?.refreshToken).toBe(refreshToken);
    expect(s.emulator.control.isRefreshTokenValid(refreshToken)).toBe(true);
    const forced = await unreachable.disconnect({ force: true });
    expect(forced.history[0]?.message).toMatch(
      /^Disconnected: Revoking the refresh token at Intuit failed: Intuit could not be reached\. The stored tokens were forgotten anyway, as confirmed\.$/,
    );
  });

  it('without app keys: revoke_failed unless forced', async () => {
    const { flow } = await engine({ withKeys: false, envRefreshToken: s.emulator.refreshToken });
    await expect(flow.disconnect()).rejects.toMatchObject({ code: 'revoke_failed' });
    expect((await flow.disconnect({ force: true })).state).toBe('not_configured');
  });

  it('with nothing connected it just reports not_configured', async () => {
    const { flow } = await engine();
    expect((await flow.disconnect()).state).toBe('not_configured');
    expect(s.emulator.control.counters().revokeCalls).toBe(0);
  });
});
