// Two headless servers sharing one connection through one real PostgreSQL, one webhook receiver on
// loopback: every change of condition (and every recovery) arrives exactly once, whichever server
// saw it first. When the database goes away, each server reports its own store_unreachable, its
// readiness fails with one line, and both recover when it is back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeakScan } from '../../core/testing/leak-scan';
import { PostgresServer } from '../../core/testing/postgres-server';
import { startEmulator } from '../../emulator';
import type { EmulatorHandle } from '../../emulator/types';
import { HTTP_PATHS, type TokenStatus } from '../../shared/contract';
import { waitForStatus } from '../test-support';
import type { AlertPayload } from './alert-payload';
import { startOpsStack, type OpsStack } from './testing/ops-stack';
import { startWebhookReceiver, type WebhookReceiver } from './testing/webhook-receiver';

const STORE_KEY = 'the store key, sixteen+ chars';
const SECRET = 'hmac-key-0123456789abcdef';

let pg: PostgresServer;
let emulator: EmulatorHandle;
let hook: WebhookReceiver;
const servers: OpsStack[] = [];

beforeAll(async () => {
  pg = await PostgresServer.start();
  emulator = await startEmulator({ rotateAfterSeconds: 0 });
  hook = await startWebhookReceiver({ secret: SECRET });
}, 60_000);

afterAll(async () => {
  for (const server of servers) await server.close();
  await hook?.close();
  await emulator?.close();
  await pg?.close();
});

const summary = (p: AlertPayload) => `${p.event} ${p.condition}`;

/** Both servers show the condition (one learned it from the other through the database). */
async function bothSee(accept: (status: TokenStatus) => boolean): Promise<void> {
  await Promise.all(servers.map((server) => waitForStatus(server.started.desk, accept)));
  // Each server checks on its own status change; wait for those checks and their deliveries.
  await Promise.all(servers.map((server) => server.ops.idle()));
}

describe('two servers, one PostgreSQL, one webhook', () => {
  it('each condition change and each recovery is sent exactly once', async () => {
    const url = await pg.createDatabase();
    for (const instance of ['server-a', 'server-b']) {
      servers.push(
        await startOpsStack({
          emulator,
          env: { QB_STORE_URL: url, QB_STORE_KEY: STORE_KEY },
          ops: { alertWebhookUrl: hook.url, alertWebhookSecret: SECRET },
          manager: {
            retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5, cooldownMs: 60_000 },
            storeRetryMs: 100,
          },
          serviceOps: { instance, webhookRetry: { baseDelayMs: 5, maxDelayMs: 20 } },
        }),
      );
    }
    const [a, b] = servers;
    const leaks = new LeakScan()
      .addEmulator(emulator)
      .addSecrets(STORE_KEY, SECRET, a.adminToken, b.adminToken);
    const post = (server: OpsStack) => server.call(HTTP_PATHS.refreshToken, { method: 'POST' });
    await Promise.all(servers.map((server) => server.ops.idle()));
    expect(hook.requests).toHaveLength(0);

    // Server A: three failed attempts in a row. B learns it from the shared record.
    emulator.control.injectTokenFault({ kind: 'status', status: 500 }, 3);
    expect((await post(a)).status).toBe(502);
    await bothSee((status) => status.stats.consecutiveFailures === 3);
    await hook.waitForRequests(1);

    // Server B refreshes fine: recovery.
    expect((await post(b)).status).toBe(200);
    await bothSee((status) => status.stats.consecutiveFailures === 0 && status.state === 'valid');
    await hook.waitForRequests(2);

    // Intuit refuses the refresh token on B: reconnect required, on both.
    emulator.control.injectTokenFault({ kind: 'invalid_grant' });
    expect((await post(b)).status).toBe(409);
    await bothSee((status) => status.state === 'reauthorization_required');
    await hook.waitForRequests(3);

    // Someone reconnects through A: recovery.
    const issued = emulator.control.issueAuthorization();
    await a.started.manager.adoptAuthorization({
      accessToken: issued.accessToken,
      refreshToken: issued.refreshToken,
      expiresIn: 3600,
      refreshExpiresIn: 8_726_400,
      realmId: issued.realmId,
    });
    await bothSee((status) => status.state === 'valid');
    await hook.waitForRequests(4);
    await Promise.all(servers.map((server) => server.ops.idle()));

    expect(hook.delivered<AlertPayload>().map(summary)).toEqual([
      'raised refresh_failing',
      'cleared refresh_failing',
      'raised reconnect_required',
      'cleared reconnect_required',
    ]);
    expect(hook.requests.every((request) => request.signature === 'ok')).toBe(true);
    leaks.collect(
      'alerts',
      hook.requests.map((request) => request.body),
    );
    for (const server of servers) leaks.collect('log', server.logLines);
    leaks.assertClean();
  });

  it('the database goes away: each server alerts for itself, readiness fails, store errors are counted; all recover', async () => {
    const [a, b] = servers;
    const before = hook.requests.length;
    const errorsBefore = await Promise.all(
      servers.map(async (server) =>
        (await server.scrape()).valueOr0('qb_token_desk_store_errors_total', {
          connection: 'default',
          kind: 'unavailable',
        }),
      ),
    );

    await pg.stop('fast');
    // A refresh on each server meets the dead store.
    await Promise.all(servers.map((server) => server.call(HTTP_PATHS.refreshToken, { method: 'POST' })));
    await bothSee((status) => status.store?.reachable === false);
    await hook.waitForRequests(before + 2);
    for (const server of [a, b]) {
      const ready = await server.call(HTTP_PATHS.readyz, { auth: false });
      expect([ready.status, await ready.text()]).toEqual([
        503,
        'not ready: the token store cannot be reached\n',
      ]);
      const metrics = await server.scrape();
      expect(
        metrics.value('qb_token_desk_condition', { connection: 'default', condition: 'store_unreachable' }),
      ).toBe(1);
    }
    const errorsAfter = await Promise.all(
      servers.map(async (server) =>
        (await server.scrape()).value('qb_token_desk_store_errors_total', {
          connection: 'default',
          kind: 'unavailable',
        }),
      ),
    );
    expect(errorsAfter[0]).toBeGreaterThan(errorsBefore[0]);
    expect(errorsAfter[1]).toBeGreaterThan(errorsBefore[1]);

    await pg.restart();
    await bothSee((status) => status.store?.reachable === true);
    await hook.waitForRequests(before + 4);
    for (const server of [a, b]) {
      expect((await server.call(HTTP_PATHS.readyz, { auth: false })).status).toBe(200);
    }

    const outage = hook.delivered<AlertPayload>().slice(before);
    expect(outage.map((p) => `${p.instance} ${summary(p)}`).sort()).toEqual([
      'server-a cleared store_unreachable',
      'server-a raised store_unreachable',
      'server-b cleared store_unreachable',
      'server-b raised store_unreachable',
    ]);
  });
});
