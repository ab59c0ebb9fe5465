// Several companies in one desk, against the real emulator serving several realms: each connection
// has its own chain, lock, schedule, back-off and health; one connection's refresh, failure or
// busy API client never touches another. Connect adds a company for the realm picked at Intuit or
// reconnects the one already there; connections another process adds or removes are picked up.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator } from '../emulator';
import { emulatorEnv } from '../emulator/app-env';
import type { EmulatorHandle } from '../emulator/types';
import { DEFAULT_CONNECTION_ID, type TokenStatus } from '../shared/contract';
import { startDesk, type StartedDesk } from './bootstrap';
import type { TokenDesk } from './desk';
import { fileStoreFor } from './engine-parts';
import { ConfigError, UnknownConnectionError } from './errors';
import { addAuthorizedCompany } from './testing/add-company';
import { LeakScan } from './testing/leak-scan';

const REALM_A = '5550101';
const REALM_B = '5550102';

let emulator: EmulatorHandle;
let dir: string;
const desks: StartedDesk[] = [];
const lines: string[] = [];

beforeEach(async () => {
  emulator = await startEmulator();
  dir = await mkdtemp(join(tmpdir(), 'qbtd-registry-'));
  lines.length = 0;
});

afterEach(async () => {
  for (const started of desks.splice(0)) await started.close();
  await emulator.close();
  await rm(dir, { recursive: true, force: true });
});

async function start(extra: Record<string, string> = {}): Promise<StartedDesk> {
  const started = await startDesk({
    env: { ...emulatorEnv(emulator, dir), ...extra },
    cwd: dir,
    log: (line) => lines.push(line),
    manager: { retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 20, cooldownMs: 60_000 } },
  });
  desks.push(started);
  await started.manager.whenIdle();
  return started;
}

/** The default connection plus two companies added with the emulator's authorizations, all refreshed. */
async function threeCompanies(started: StartedDesk): Promise<void> {
  for (const [realm, name] of [
    [REALM_A, 'Alpha Books'],
    [REALM_B, 'Beta Bikes'],
  ] as const) {
    await addAuthorizedCompany(started.connections, emulator, { name, realmId: realm });
    await started.connections.desk(realm).refresh('manual');
  }
}

function until(
  desk: TokenDesk,
  accept: (status: TokenStatus) => boolean,
  timeoutMs = 10_000,
): Promise<TokenStatus> {
  return new Promise((resolve, reject) => {
    if (accept(desk.getStatus())) return resolve(desk.getStatus());
    const timer = setTimeout(() => {
      off();
      reject(new Error(`status never matched; last ${desk.getStatus().state}`));
    }, timeoutMs);
    const off = desk.onStatusChanged((status) => {
      if (!accept(status)) return;
      clearTimeout(timer);
      off();
      resolve(status);
    });
  });
}

async function stored(started: StartedDesk, id: string) {
  const { record } = await started.store.load(id);
  if (!record) throw new Error(`no record for ${id}`);
  return record;
}

describe('several connections in one desk', () => {
  it('lists the default connection first, then each added company with its own realm and name', async () => {
    const started = await start();
    await threeCompanies(started);
    const list = started.connections.list();
    expect(list.map((c) => [c.id, c.name, c.realmId, c.isDefault, c.state])).toEqual([
      [DEFAULT_CONNECTION_ID, 'QuickBooks sandbox', emulator.realmId, true, 'valid'],
      [REALM_A, 'Alpha Books', REALM_A, false, 'valid'],
      [REALM_B, 'Beta Bikes', REALM_B, false, 'valid'],
    ]);
    // Each status names its connection; CompanyInfo goes to the connection's own realm.
    expect(started.connections.desk(REALM_B).getStatus().connection).toMatchObject({
      id: REALM_B,
      name: 'Beta Bikes',
    });
    const info = await started.connections.desk(REALM_A).testConnection();
    expect(info.realmId).toBe(REALM_A);
    // What CompanyInfo said is recorded: the list names the company from now on.
    expect(started.connections.list().find((c) => c.id === REALM_A)?.companyName).toBe(info.companyName);
    expect((await stored(started, REALM_A)).profile.companyName).toBe(info.companyName);
    expect(() => started.connections.desk('nope')).toThrow(UnknownConnectionError);
  });

  it('refreshing one connection touches no other: one token call, the others’ records and statuses unchanged', async () => {
    const started = await start();
    await threeCompanies(started);
    const before = {
      default: await stored(started, DEFAULT_CONNECTION_ID),
      b: await stored(started, REALM_B),
      statusDefault: started.desk.getStatus(),
      statusB: started.connections.desk(REALM_B).getStatus(),
    };
    const aBefore = await stored(started, REALM_A);
    emulator.control.resetCounters();

    await started.connections.desk(REALM_A).refresh('manual');

    expect(emulator.control.counters().tokenCalls.refresh_token).toBe(1);
    const aAfter = await stored(started, REALM_A);
    expect(aAfter.revision).toBeGreaterThan(aBefore.revision);
    expect(aAfter.tokens?.accessToken).not.toBe(aBefore.tokens?.accessToken);
    expect(await stored(started, DEFAULT_CONNECTION_ID)).toEqual(before.default);
    expect(await stored(started, REALM_B)).toEqual(before.b);
    expect(started.desk.getStatus().lastRefresh).toEqual(before.statusDefault.lastRefresh);
    expect(started.connections.desk(REALM_B).getStatus().accessToken).toEqual(before.statusB.accessToken);
    expect(started.connections.desk(REALM_B).getStatus().history).toEqual(before.statusB.history);
  });

  it('invalid_grant in one connection shows only there; the others keep refreshing', async () => {
    const started = await start();
    await threeCompanies(started);
    // Intuit ends B's authorization (revoked elsewhere): its next refresh gets invalid_grant.
    const bToken = (await stored(started, REALM_B)).tokens?.refreshToken ?? '';
    await started.connections.oauthFor('sandbox')?.revoke(bToken);

    await expect(started.connections.desk(REALM_B).refresh('manual')).rejects.toMatchObject({
      kind: 'invalid_grant',
    });
    await started.desk.refresh('manual');
    await started.connections.desk(REALM_A).refresh('manual');

    const states = Object.fromEntries(started.connections.list().map((c) => [c.id, c.state]));
    expect(states).toEqual({
      [DEFAULT_CONNECTION_ID]: 'valid',
      [REALM_A]: 'valid',
      [REALM_B]: 'reauthorization_required',
    });
    const list = started.connections.list();
    expect(list.find((c) => c.id === REALM_B)?.lastRefresh).toMatchObject({
      ok: false,
      errorKind: 'invalid_grant',
    });
    expect(list.find((c) => c.id === REALM_A)?.lastRefresh).toMatchObject({ ok: true, errorKind: null });
    for (const id of [DEFAULT_CONNECTION_ID, REALM_A]) {
      const status = started.connections.desk(id).getStatus();
      expect(status.warnings.join(' ')).not.toMatch(/reconnect/i);
      expect(status.stats.failures).toBe(0);
    }
  });

  it('a refresh stuck at Intuit for one connection does not delay another’s', async () => {
    const started = await start({ QB_HTTP_TIMEOUT_MS: '3000' });
    await threeCompanies(started);
    // The next token call (A's) is held at Intuit for 2 s; B's, sent after it, must not queue behind it.
    emulator.control.resetCounters();
    emulator.control.injectTokenFault({ kind: 'delay', ms: 2000 });
    const order: string[] = [];
    const slow = started.connections
      .desk(REALM_A)
      .refresh('manual')
      .then(() => order.push('A'));
    await until(started.connections.desk(REALM_A), (status) => status.state === 'refreshing');
    await started.connections.desk(REALM_B).refresh('manual');
    order.push('B');
    // When B is done, Intuit has received both refreshes but answered only B's: A's is still held
    // and A is still refreshing, so B went out and came back while A waited.
    const atB = emulator.control.counters();
    expect(atB.tokenCalls.refresh_token).toBe(2);
    expect(atB.tokenSuccesses).toBe(1);
    expect(started.connections.desk(REALM_A).getStatus().state).toBe('refreshing');
    expect(started.connections.desk(REALM_B).getStatus().state).toBe('valid');
    await slow;
    expect(order).toEqual(['B', 'A']);
    expect(emulator.control.counters().tokenSuccesses).toBe(2);
  });

  it('the API client’s per-company limit is per connection: a busy company never queues another’s call', async () => {
    const started = await start();
    await threeCompanies(started);
    emulator.control.configure({ apiLatencyMs: 300 });
    emulator.control.resetCounters();
    const busy = started.connections.desk(REALM_A).client();
    const calls = Array.from({ length: 25 }, () => busy.getCompanyInfo());
    // A's ten slots are taken and fifteen calls wait; B's call goes out at once.
    expect(busy.load).toMatchObject({ inFlight: 10, queued: 15 });
    const other = started.connections.desk(REALM_B).client();
    const b = other.getCompanyInfo();
    expect(other.load.inFlight).toBe(1);
    await b;
    expect(busy.load.queued).toBeGreaterThan(0);
    await Promise.all(calls);
    const peaks = emulator.control.counters().maxApiInFlightByRealm;
    expect(peaks[REALM_A]).toBe(10);
    expect(peaks[REALM_B]).toBe(1);
    // Intuit's 10 a second is on here: A's 25 calls waited in its own queue instead of drawing 429s.
    expect(emulator.control.counters().api429s).toBe(0);
  });

  it('keeps token values out of every status, list and log line', async () => {
    const started = await start();
    await threeCompanies(started);
    const scan = new LeakScan().addEmulator(emulator).addSecretSource(() => started.secrets.values());
    scan.collect('list', started.connections.list()).collect('statuses', started.connections.statuses());
    for (const line of lines) scan.collect('log', line);
    scan.assertClean();
  });
});

describe('adding and removing connections', () => {
  it('connections add of the realm already there reconnects it instead of adding another', async () => {
    const started = await start();
    await threeCompanies(started);
    const again = emulator.control.issueAuthorization(REALM_A);
    const status = await started.connections.add({
      name: 'Alpha Books Ltd',
      realmId: REALM_A,
      environment: 'sandbox',
      refreshToken: again.refreshToken,
    });
    expect(status.connection).toMatchObject({ id: REALM_A, name: 'Alpha Books Ltd' });
    expect(started.connections.list()).toHaveLength(3);
    expect((await stored(started, REALM_A)).tokens?.refreshToken).toBe(again.refreshToken);
  });

  it('refuses a bad name or realm, and removing the default connection, naming what is wrong', async () => {
    const started = await start();
    const add = (name: string, realmId: string) =>
      started.connections.add({
        name,
        realmId,
        environment: 'sandbox',
        refreshToken: 'RT-some-refresh-token',
      });
    await expect(add('', REALM_A)).rejects.toThrow(/--name/);
    await expect(add('Ok', '12ab')).rejects.toThrow(/--realm must be the numeric company id/);
    await expect(started.connections.remove(DEFAULT_CONNECTION_ID)).rejects.toThrow(ConfigError);
    await expect(started.connections.remove('nope')).rejects.toThrow(UnknownConnectionError);
    expect(started.connections.list()).toHaveLength(1);
  });

  it('remove revokes at Intuit first, then drops the record; the others stay', async () => {
    const started = await start();
    await threeCompanies(started);
    const token = (await stored(started, REALM_B)).tokens?.refreshToken ?? '';
    await started.connections.remove(REALM_B);
    expect(emulator.control.isRefreshTokenValid(token)).toBe(false);
    expect((await started.store.load(REALM_B)).record).toBeNull();
    expect(started.connections.list().map((c) => c.id)).toEqual([DEFAULT_CONNECTION_ID, REALM_A]);
    await started.connections.desk(REALM_A).refresh('manual');
  });

  it('a connection whose token Intuit already holds as invalid is removed: its 400 means nothing to revoke', async () => {
    const started = await start();
    await threeCompanies(started);
    // Revoked elsewhere: Intuit answers the removal's revoke with 400 and an empty body.
    const token = (await stored(started, REALM_B)).tokens?.refreshToken ?? '';
    await started.connections.oauthFor('sandbox')?.revoke(token);
    const { connections, disconnected } = await started.connections.removeReporting(REALM_B);
    expect(connections.map((c) => c.id)).toEqual([DEFAULT_CONNECTION_ID, REALM_A]);
    expect(disconnected.history[0]?.message).toBe(
      'Disconnected: Intuit had nothing to revoke: the token was already invalid. The stored tokens were forgotten.',
    );
    expect((await started.store.load(REALM_B)).record).toBeNull();
    expect(emulator.control.counters().revokeCalls).toBe(2);
  });

  it('a removal Intuit cannot be asked to revoke (unreachable) keeps the connection, unless forced', async () => {
    const started = await start({ QB_REVOKE_URL: 'http://127.0.0.1:9/v2/oauth2/tokens/revoke' });
    await threeCompanies(started);
    await expect(started.connections.remove(REALM_B)).rejects.toMatchObject({
      code: 'revoke_failed',
      message: expect.stringMatching(/could not be reached/),
    });
    expect(started.connections.list().map((c) => c.id)).toContain(REALM_B);
    expect((await started.store.load(REALM_B)).record?.tokens).not.toBeNull();
    await started.connections.remove(REALM_B, { force: true });
    expect(started.connections.list().map((c) => c.id)).not.toContain(REALM_B);
  });

  it('a connection another process adds or removes appears and disappears, with a list event each time', async () => {
    const serving = await start();
    const other = await start();
    const lists: string[][] = [];
    serving.connections.onConnectionsChanged((list) => lists.push(list.map((c) => c.id)));
    await addAuthorizedCompany(other.connections, emulator, { name: 'Alpha Books', realmId: REALM_A });
    await expect.poll(() => serving.connections.has(REALM_A), { timeout: 10_000 }).toBe(true);
    expect(serving.connections.desk(REALM_A).getStatus().connection.name).toBe('Alpha Books');
    await other.connections.remove(REALM_A);
    await expect.poll(() => serving.connections.has(REALM_A), { timeout: 10_000 }).toBe(false);
    expect(lists).toEqual([[DEFAULT_CONNECTION_ID, REALM_A], [DEFAULT_CONNECTION_ID]]);
  });

  it('a company added here while the change feed is starting it runs on one engine: closing the desk leaves none running', async () => {
    const other = await start();
    // The serving desk's store holds the engine start's read of the new company (after reading it)
    // until the test lets it go: the window in which this desk's own add of that company came in.
    let loads = 0;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let held!: () => void;
    const holding = new Promise<void>((resolve) => (held = resolve));
    const serving = await startDesk({
      env: emulatorEnv(emulator, dir),
      cwd: dir,
      log: (line) => lines.push(line),
      store: (config) => {
        const store = fileStoreFor(config, () => undefined);
        const load = store.load.bind(store);
        store.load = async (id) => {
          const loaded = await load(id);
          // The change feed's check reads it first; the engine it then starts reads it second.
          if (id === REALM_A && ++loads === 2) {
            held();
            await released;
          }
          return loaded;
        };
        return store;
      },
    });
    desks.push(serving);
    await addAuthorizedCompany(other.connections, emulator, { name: 'Alpha Books', realmId: REALM_A });
    await holding;
    const adding = addAuthorizedCompany(serving.connections, emulator, {
      name: 'Alpha Again',
      realmId: REALM_A,
    });
    // The add runs as far as it can while the feed's engine start is held (an add that starts an
    // engine of its own finishes here), then that start is let go.
    await Promise.race([adding, new Promise((resolve) => setTimeout(resolve, 500))]);
    const engines = serving.connections.has(REALM_A) ? [serving.connections.desk(REALM_A)] : [];
    release();
    await adding;
    engines.push(serving.connections.desk(REALM_A));
    await serving.close();
    desks.splice(desks.indexOf(serving), 1);
    // Every engine this desk started for the company was closed with it: none is left refreshing.
    for (const engine of engines) {
      const answer = await engine.getAccessToken().then(
        () => 'an access token: the engine is still running',
        (err: unknown) => (err as Error).message,
      );
      expect(answer).toContain('disposed');
    }
    expect((await stored(other, REALM_A)).profile.name).toBe('Alpha Again');
  });

  it('a process serving one connection starts only that one besides the default', async () => {
    const started = await start();
    await threeCompanies(started);
    const cli = await startDesk({
      env: emulatorEnv(emulator, dir),
      cwd: dir,
      log: () => undefined,
      manager: { refreshOnStart: false },
      connections: { only: [REALM_B] },
    });
    desks.push(cli);
    expect(cli.connections.list().map((c) => c.id)).toEqual([DEFAULT_CONNECTION_ID, REALM_B]);
    expect(cli.connections.desk(REALM_B).getStatus().state).toBe('valid');
  });
});

describe('Connect with several companies', () => {
  /** Runs the consent flow at the emulator for `realmId` (the company the user picks there). */
  async function consent(
    started: StartedDesk,
    realmId: string | null,
    environment?: 'sandbox' | 'production',
  ) {
    const redirectUri = 'http://127.0.0.1:8765/callback';
    const { authorizeUrl } = started.connectFlow.begin(redirectUri, environment ? { environment } : {});
    const url = new URL(authorizeUrl);
    if (realmId) url.searchParams.set('realm_id', realmId);
    emulator.control.configure({ autoApprove: true });
    const answer = await fetch(url, { redirect: 'manual' });
    const back = new URL(answer.headers.get('location') ?? '');
    return started.connectFlow.complete(back.searchParams);
  }

  it('fills an empty default connection, as with one company; another realm is added; the same realm reconnects', async () => {
    const started = await start({ QB_REFRESH_TOKEN: '', QB_REALM_ID: '' });
    expect(started.desk.getStatus().state).toBe('not_configured');

    const first = await consent(started, null);
    expect(first.connection.id).toBe(DEFAULT_CONNECTION_ID);
    expect(first.realmId).toBe(emulator.realmId);

    const added = await consent(started, REALM_A);
    expect(added.connection.id).toBe(REALM_A);
    expect(added.state).toBe('valid');
    expect(started.connections.list().map((c) => c.id)).toEqual([DEFAULT_CONNECTION_ID, REALM_A]);
    // The new company is named after CompanyInfo once its tokens are stored.
    await expect
      .poll(() => started.connections.desk(REALM_A).getStatus().connection.companyName, { timeout: 10_000 })
      .toBeTruthy();

    const before = (await stored(started, REALM_A)).tokens?.refreshToken;
    const again = await consent(started, REALM_A);
    expect(again.connection.id).toBe(REALM_A);
    expect(started.connections.list()).toHaveLength(2);
    expect((await stored(started, REALM_A)).tokens?.refreshToken).not.toBe(before);
  });

  it('uses each environment’s own app keys: production companies refresh with QB_PRODUCTION_CLIENT_ID', async () => {
    const started = await start({
      QB_PRODUCTION_CLIENT_ID: 'wrong-production-client',
      QB_PRODUCTION_CLIENT_SECRET: 'wrong-production-secret',
      QB_ALLOW_NON_INTUIT_URLS: '1',
    });
    await addAuthorizedCompany(started.connections, emulator, {
      name: 'Beta Bikes (live)',
      realmId: REALM_B,
      environment: 'production',
    });
    // The emulator knows only the sandbox app: production's keys are refused, sandbox's still work.
    await expect(started.connections.desk(REALM_B).refresh('manual')).rejects.toMatchObject({
      kind: 'invalid_client',
    });
    await started.desk.refresh('manual');
    expect(started.connections.desk(REALM_B).getStatus().environment).toBe('production');
    expect(started.desk.getStatus().state).toBe('valid');
  });

  it('refuses to connect an environment without keys, naming the variables', async () => {
    const started = await start();
    expect(() =>
      started.connectFlow.begin('http://127.0.0.1:8765/callback', { environment: 'production' }),
    ).toThrow(/QB_PRODUCTION_CLIENT_ID/);
  });
});
