// The alert claim in the shared record, on a real PostgreSQL server: two servers' stores on one
// database decide each announcement once, a restart does not repeat one, and a store that went
// away is tried again once it is back.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { emptyHealth, type ConnectionRecord } from '../../core/connection-record';
import { StoreUnavailableError } from '../../core/errors';
import { PgConnectionStore } from '../../core/pg/pg-connection-store';
import { PostgresServer } from '../../core/testing/postgres-server';
import type { ActiveCondition } from '../../shared/conditions';
import { statusAt } from '../../shared/testing/status-fixture';
import type { TokenStatus } from '../../shared/contract';
import { StoreLedger } from './alert-ledger';
import { AlertMonitor } from './alert-monitor';
import type { AlertPayload } from './alert-payload';
import { WebhookSender } from './alert-webhook';
import { startWebhookReceiver } from './testing/webhook-receiver';

const KEY = 'the store key, sixteen+ chars';
let server: PostgresServer;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  server = await PostgresServer.start();
}, 60_000);
afterAll(async () => {
  await server?.close();
});
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
  if (!server.running) await server.restart();
});

async function openStore(url: string): Promise<PgConnectionStore> {
  const store = new PgConnectionStore({ url, storeKey: KEY, lockWaitMs: 5000, connectTimeoutMs: 1000 });
  cleanups.push(() => store.close());
  await store.open();
  return store;
}

/** Two servers' stores on one fresh database, holding the default connection's record. */
async function twoStores(): Promise<[PgConnectionStore, PgConnectionStore, string]> {
  const url = await server.createDatabase();
  const a = await openStore(url);
  const b = await openStore(url);
  const record: ConnectionRecord = {
    version: 2,
    id: 'default',
    revision: 1,
    profile: {
      name: 'QuickBooks sandbox',
      environment: 'sandbox',
      realmId: '9341453012345678',
      companyName: null,
    },
    tokens: null,
    health: emptyHealth(),
  };
  await a.withLock('default', () => a.save(record));
  return [a, b, url];
}

const reconnect: ActiveCondition = {
  kind: 'reconnect_required',
  connectionId: 'default',
  message: 'QuickBooks sandbox: QuickBooks no longer accepts the refresh token; reconnect to QuickBooks.',
  intuitTid: '1-abc',
};

describe('alert claims in PostgreSQL', () => {
  it('two servers settling the same change at once: exactly one announces it; a restart repeats nothing', async () => {
    const [storeA, storeB, url] = await twoStores();
    const a = new StoreLedger({ store: storeA, instance: 'a' });
    const b = new StoreLedger({ store: storeB, instance: 'b' });

    const raised = await Promise.all([a.settle('default', [reconnect]), b.settle('default', [reconnect])]);
    expect(raised.map((changes) => changes.raised.length).sort()).toEqual([0, 1]);
    const { record } = await storeB.load('default');
    expect(record?.health.announced?.conditions).toEqual([reconnect]);
    expect(['a', 'b']).toContain(record?.health.announced?.by);

    const cleared = await Promise.all([b.settle('default', []), a.settle('default', [])]);
    expect(cleared.map((changes) => changes.cleared.map((c) => c.kind)).sort()).toEqual([
      [],
      ['reconnect_required'],
    ]);

    // A server that starts again finds the record as announced: nothing to send.
    const restarted = new StoreLedger({ store: await openStore(url), instance: 'a2' });
    expect(await restarted.settle('default', [])).toEqual({ raised: [], cleared: [], announced: [] });
  });

  it('two monitors, one receiver: one webhook per change, recovery included', async () => {
    const [storeA, storeB] = await twoStores();
    const hook = await startWebhookReceiver();
    cleanups.push(() => hook.close());
    let status: TokenStatus = statusAt(Date.now());
    const monitors = [storeA, storeB].map((store, i) => {
      const instance = `server-${i}`;
      const sender = new WebhookSender({ url: hook.url, secret: null, log: () => undefined });
      const monitor = new AlertMonitor({
        statuses: () => [status],
        subscribe: () => () => undefined,
        ledger: new StoreLedger({ store, instance }),
        deliver: (payload) => sender.send(payload, payload.condition),
        instance,
        log: () => undefined,
      });
      cleanups.push(
        () => sender.close(),
        () => monitor.close(),
      );
      return monitor;
    });
    await Promise.all(monitors.map((monitor) => monitor.start()));

    status = statusAt(Date.now(), {
      state: 'reauthorization_required',
      stats: { refreshes: 1, failures: 3, retriedOn401: 0, consecutiveFailures: 3, failingSince: null },
    });
    await Promise.all(monitors.map((monitor) => monitor.check()));
    status = statusAt(Date.now());
    await Promise.all(monitors.map((monitor) => monitor.check()));
    await Promise.all(monitors.map((monitor) => monitor.idle()));

    const sent = hook.delivered<AlertPayload>().map((p) => `${p.event} ${p.condition}`);
    expect(sent.sort()).toEqual([
      'cleared reconnect_required',
      'cleared refresh_failing',
      'raised reconnect_required',
      'raised refresh_failing',
    ]);
  });

  it('a store that cannot be reached: the claim fails, the monitor tries again once the store is back', async () => {
    const [storeA] = await twoStores();
    const hook = await startWebhookReceiver();
    cleanups.push(() => hook.close());
    const lines: string[] = [];
    let status: TokenStatus = statusAt(Date.now());
    const sender = new WebhookSender({ url: hook.url, secret: null, log: () => undefined });
    const monitor = new AlertMonitor({
      statuses: () => [status],
      subscribe: () => () => undefined,
      ledger: new StoreLedger({ store: storeA, instance: 'a' }),
      deliver: (payload) => sender.send(payload, payload.condition),
      instance: 'a',
      log: (line) => lines.push(line),
    });
    cleanups.push(
      () => sender.close(),
      () => monitor.close(),
    );
    await monitor.start();

    await server.stop('fast');
    await expect(
      new StoreLedger({ store: storeA, instance: 'a' }).settle('default', [reconnect]),
    ).rejects.toThrow(StoreUnavailableError);
    status = statusAt(Date.now(), { state: 'reauthorization_required' });
    await monitor.check();
    await monitor.check();
    expect(lines.filter((line) => line.includes('could not record the announced conditions'))).toHaveLength(
      1,
    );
    expect(hook.requests).toHaveLength(0);

    await server.restart();
    await monitor.check();
    await monitor.idle();
    expect(hook.delivered<AlertPayload>().map((p) => `${p.event} ${p.condition}`)).toEqual([
      'raised reconnect_required',
    ]);
  });
});
