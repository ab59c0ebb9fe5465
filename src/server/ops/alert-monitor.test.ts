// Alerts end to end: the real engine against the emulator fails and recovers; a webhook receiver
// on loopback gets one signed alert per condition change, and nothing else.
import { afterEach, describe, expect, it } from 'vitest';
import { LeakScan } from '../../core/testing/leak-scan';
import { HTTP_PATHS, type TokenStatus } from '../../shared/contract';
import { postgresStore, statusAt } from '../../shared/testing/status-fixture';
import { MemoryLedger } from './alert-ledger';
import { AlertMonitor } from './alert-monitor';
import type { AlertPayload } from './alert-payload';
import { startOpsStack, type OpsStack } from './testing/ops-stack';
import { startWebhookReceiver, type WebhookReceiver } from './testing/webhook-receiver';

const SECRET = 'hmac-key-0123456789abcdef';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function receiver(): Promise<WebhookReceiver> {
  const hook = await startWebhookReceiver({ secret: SECRET });
  cleanups.push(() => hook.close());
  return hook;
}

async function stackFor(hook: WebhookReceiver): Promise<OpsStack> {
  const stack = await startOpsStack({
    ops: { alertWebhookUrl: hook.url, alertWebhookSecret: SECRET },
    // Three quick attempts per refresh: three failures in a row come from one POST.
    manager: { retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5, cooldownMs: 60_000 } },
    serviceOps: { webhookRetry: { baseDelayMs: 5, maxDelayMs: 20 }, instance: 'desk-a:1' },
  });
  cleanups.push(() => stack.close());
  return stack;
}

const summary = (payload: AlertPayload) => `${payload.event} ${payload.condition}`;

describe('alert webhook, one server', () => {
  it('sends one signed alert per condition change: failing refreshes, reconnect needed, and the recovery from each', async () => {
    const hook = await receiver();
    const stack = await stackFor(hook);
    const leaks = new LeakScan().addEmulator(stack.emulator).addSecrets(SECRET);
    const refresh = () => stack.call(HTTP_PATHS.refreshToken, { method: 'POST' });
    await stack.ops.idle();
    expect(hook.requests).toHaveLength(0);

    // Three failed attempts in a row: refresh_failing.
    stack.emulator.control.injectTokenFault({ kind: 'status', status: 500 }, 3);
    expect((await refresh()).status).toBe(502);
    await hook.waitForRequests(1);
    await stack.ops.idle();
    const [raised] = hook.delivered<AlertPayload>();
    expect(raised).toMatchObject({
      event: 'raised',
      condition: 'refresh_failing',
      connection: { id: 'default', realmId: stack.emulator.realmId, environment: 'sandbox' },
      instance: 'desk-a:1',
    });
    expect(raised.state).toBe(stack.started.desk.getStatus().state);
    expect(raised.intuit_tid).toMatch(/^1-/);
    expect(raised.text).toContain('refreshes failing');
    expect(raised.text).toContain(`intuit_tid ${raised.intuit_tid}`);

    // A success clears it.
    expect((await refresh()).status).toBe(200);
    await hook.waitForRequests(2);

    // Intuit refuses the refresh token: reconnect_required (one failure: not "failing").
    stack.emulator.control.injectTokenFault({ kind: 'invalid_grant' });
    expect((await refresh()).status).toBe(409);
    await hook.waitForRequests(3);

    // Reconnecting (what the Connect flow does with Intuit's answer) clears it.
    const issued = stack.emulator.control.issueAuthorization();
    await stack.started.manager.adoptAuthorization({
      accessToken: issued.accessToken,
      refreshToken: issued.refreshToken,
      expiresIn: 3600,
      refreshExpiresIn: 8_726_400,
      realmId: issued.realmId,
    });
    await hook.waitForRequests(4);
    await stack.ops.idle();

    // More status changes without a change of condition: nothing more is sent.
    expect((await refresh()).status).toBe(200);
    expect((await stack.call(HTTP_PATHS.refreshToken, { method: 'DELETE' })).status).toBe(200);
    await stack.ops.idle();

    expect(hook.delivered<AlertPayload>().map(summary)).toEqual([
      'raised refresh_failing',
      'cleared refresh_failing',
      'raised reconnect_required',
      'cleared reconnect_required',
    ]);
    expect(hook.requests.every((request) => request.signature === 'ok')).toBe(true);
    const [, cleared, reconnect, reconnected] = hook.delivered<AlertPayload>();
    expect(cleared.text).toMatch(/recovered: refreshes failing/);
    expect(reconnect.state).toBe('reauthorization_required');
    expect(reconnect.text).toContain('reconnect to QuickBooks');
    expect(reconnected.text).toMatch(/recovered: reconnect required/);
    expect(stack.logLines.filter((line) => line.includes('Alert: '))).toHaveLength(4);

    leaks.collect(
      'alerts',
      hook.requests.map((request) => request.body),
    );
    leaks.collect('log', stack.logLines);
    leaks.assertClean();
  });
});

describe('alert monitor', () => {
  const t0 = Date.parse('2026-11-30T12:00:00.000Z');

  function monitorOver(options: {
    statuses: () => TokenStatus[];
    now: () => number;
    ledger: MemoryLedger;
    sent: AlertPayload[];
    instance: string;
  }) {
    const listeners = new Set<() => void>();
    const monitor = new AlertMonitor({
      statuses: options.statuses,
      subscribe: (listener) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      ledger: options.ledger,
      deliver: async (payload) => options.sent.push(payload),
      instance: options.instance,
      log: () => undefined,
      now: options.now,
      checkEveryMs: 3_600_000,
    });
    cleanups.push(() => monitor.close());
    return monitor;
  }

  /** Monitors `a` and `b` over the same statuses and one ledger, both started; `sent` is what either sent. */
  async function twoStartedMonitors(statuses: () => TokenStatus[]) {
    const ledger = new MemoryLedger();
    const sent: AlertPayload[] = [];
    const a = monitorOver({ statuses, now: () => t0, ledger, sent, instance: 'a' });
    const b = monitorOver({ statuses, now: () => t0, ledger, sent, instance: 'b' });
    await Promise.all([a.start(), b.start()]);
    return { a, b, sent };
  }

  it('notices conditions that begin by time alone (a refresh token entering its last 14 days)', async () => {
    let now = t0;
    const status = statusAt(t0, {
      refreshToken: {
        preview: '…Zz90',
        source: 'stored',
        expiresAt: new Date(t0 + 15 * 86_400_000).toISOString(),
        hardExpiresAt: null,
        lastRotatedAt: null,
        rejectedAt: null,
      },
    });
    const sent: AlertPayload[] = [];
    const monitor = monitorOver({
      statuses: () => [status],
      now: () => now,
      ledger: new MemoryLedger(),
      sent,
      instance: 'a',
    });
    await monitor.start();
    expect(sent).toEqual([]);
    now = t0 + 2 * 86_400_000;
    await monitor.check();
    await monitor.check();
    expect(sent.map(summary)).toEqual(['raised refresh_token_expiring']);
    expect(sent[0].message).toMatch(/ends in 13 days/);
  });

  it('two monitors deciding through one ledger send each change once', async () => {
    let status = statusAt(t0);
    const { a, b, sent } = await twoStartedMonitors(() => [status]);
    status = statusAt(t0, { state: 'reauthorization_required' });
    await Promise.all([a.check(), b.check()]);
    await Promise.all([b.check(), a.check()]);
    status = statusAt(t0);
    await Promise.all([b.check(), a.check()]);
    expect(sent.map(summary)).toEqual(['raised reconnect_required', 'cleared reconnect_required']);
  });

  it("announces this server's own store_unreachable itself, not through the ledger", async () => {
    let status = statusAt(t0);
    const { a, b, sent } = await twoStartedMonitors(() => [status]);
    status = statusAt(t0, {
      store: postgresStore({ reachable: false }),
    });
    await Promise.all([a.check(), b.check()]);
    expect(sent.map((p) => `${p.instance} ${summary(p)}`).sort()).toEqual([
      'a raised store_unreachable',
      'b raised store_unreachable',
    ]);
    expect(sent[0].text).not.toContain('db:5432');
  });
});
