// The list of companies and the choice of the one shown, over a stand-in bridge with controllable
// answers; the real bridges are exercised end to end by the browser specs.
import { describe, expect, it } from 'vitest';
import { summarizeStatus } from '../../shared/connections';
import type { ConnectionSummary, QbTokensBridge, Result, TokenStatus } from '../../shared/contract';
import { statusAt } from '../../shared/testing/status-fixture';
import { connectionFromHash, createConnectionsStore } from './connections-store';
import { createDashboardStore } from './store';
import { windowTitle } from './use-window-title';

const T0 = Date.parse('2026-11-30T12:00:00Z');
const ok = <T>(value: T): Promise<Result<T>> => Promise.resolve({ ok: true, value });

function statusOf(id: string, overrides: Partial<TokenStatus> = {}): TokenStatus {
  return statusAt(T0, {
    connection: { id, name: id === 'default' ? 'QuickBooks sandbox' : `Co ${id}`, companyName: null },
    ...overrides,
  });
}

function setUp(overrides: Partial<QbTokensBridge> = {}, initial: string | null = null) {
  const calls: string[] = [];
  const statuses = new Map<string, TokenStatus>(['default', '1', '2'].map((id) => [id, statusOf(id)]));
  const status = (id = 'default'): TokenStatus => statuses.get(id) ?? statusOf(id);
  const list = (): ConnectionSummary[] => [...statuses.values()].map(summarizeStatus);
  const bridge: QbTokensBridge = {
    getStatus: (id) => (calls.push(`getStatus ${id ?? '-'}`), ok(status(id))),
    refresh: (id) => (calls.push(`refresh ${id ?? '-'}`), ok(status(id))),
    clear: (id) => ok(status(id)),
    testConnection: () => ok({ companyName: 'X', realmId: '1', intuitTid: null, durationMs: 1 }),
    connect: (request) => (calls.push(`connect ${JSON.stringify(request ?? null)}`), ok(statusOf('3'))),
    disconnect: (options) => (
      calls.push(`disconnect ${JSON.stringify(options ?? null)}`),
      ok(status(options?.connectionId))
    ),
    listConnections: () => ok(list()),
    removeConnection: (id) => {
      calls.push(`remove ${id}`);
      statuses.delete(id);
      return ok(list());
    },
    onStatusChanged: () => () => undefined,
    onConnectionsChanged: () => () => undefined,
    ...overrides,
  };
  const dashboard = createDashboardStore(bridge, () => T0);
  const remembered: Array<string | null> = [];
  const connections = createConnectionsStore(bridge, dashboard, {
    clock: () => T0,
    initial,
    remember: (id) => remembered.push(id),
  });
  return { bridge, dashboard, connections, calls, statuses, remembered };
}

describe('connections store', () => {
  it('loads the list; choosing a company shows its status at once and acts on it alone', async () => {
    const { dashboard, connections, calls } = setUp();
    await dashboard.getState().load();
    await connections.getState().load();
    expect(connections.getState().connections.map((c) => c.id)).toEqual(['default', '1', '2']);
    // A push for company 1 updates its row, not the dashboard (which shows the default one).
    const pushed = statusOf('1', { state: 'expiring' });
    connections.getState().receiveStatus(pushed);
    dashboard.getState().receiveStatus(pushed);
    expect(connections.getState().connections[1].state).toBe('expiring');
    expect(dashboard.getState().status?.connection.id).toBe('default');

    connections.getState().select('1');
    expect(dashboard.getState().status).toBe(pushed);
    expect(dashboard.getState().connectionId).toBe('1');
    await dashboard.getState().refresh();
    await dashboard.getState().disconnect();
    expect(calls).toContain('refresh 1');
    expect(calls).toContain('disconnect {"connectionId":"1"}');
  });

  it('a list read before a push does not take the pushed row back', async () => {
    let answer!: (value: Result<ConnectionSummary[]>) => void;
    const { connections, statuses } = setUp({
      listConnections: () => new Promise((resolve) => (answer = resolve)),
    });
    const stale = [...statuses.values()].map(summarizeStatus);
    const loading = connections.getState().load();
    connections.getState().receiveStatus(statusOf('2', { state: 'reauthorization_required' }));
    answer({ ok: true, value: stale });
    await loading;
    expect(connections.getState().connections.map((c) => [c.id, c.state])).toEqual([
      ['default', 'valid'],
      ['1', 'valid'],
      ['2', 'reauthorization_required'],
    ]);
  });

  it('the default connection speaks as one company always did: no connection id at all', async () => {
    const { dashboard, connections, calls } = setUp();
    await connections.getState().load();
    await dashboard.getState().load();
    await dashboard.getState().refresh();
    await dashboard.getState().connect();
    await dashboard.getState().disconnect(true);
    expect(calls).toEqual(['getStatus -', 'refresh -', 'connect null', 'disconnect {"force":true}']);
  });

  it('Add company runs Connect in the chosen environment and shows the company it connected', async () => {
    const { dashboard, connections, calls, remembered } = setUp();
    await connections.getState().load();
    await connections.getState().addCompany('production');
    expect(calls).toContain('connect {"environment":"production"}');
    expect(connections.getState().selected).toBe('3');
    expect(dashboard.getState().connectionId).toBe('3');
    expect(connections.getState().connections.map((c) => c.id)).toContain('3');
    expect(remembered).toEqual(['3']);
  });

  it('removing the company shown goes back to the default one; a failed remove is kept for its button', async () => {
    const { dashboard, connections } = setUp();
    await connections.getState().load();
    connections.getState().select('2');
    await connections.getState().remove('2');
    expect(connections.getState().connections.map((c) => c.id)).toEqual(['default', '1']);
    expect(connections.getState().selected).toBe('default');
    expect(dashboard.getState().connectionId).toBeNull();
    expect(connections.getState().outcome).toMatchObject({
      ok: true,
      message: 'Removed Co 2: its refresh token no longer works at Intuit.',
    });
    // "Remove anyway" after Intuit could not revoke: the tokens still work at Intuit, and it says so.
    await connections.getState().remove('1', true);
    expect(connections.getState().outcome).toMatchObject({
      ok: true,
      message:
        'Removed Co 1 here. Intuit could not revoke it: its tokens stay valid there until they expire.',
    });

    const failing = setUp({
      removeConnection: () =>
        Promise.resolve({ ok: false, error: { code: 'revoke_failed', message: 'Intuit said no.' } }),
    });
    await failing.connections.getState().load();
    await failing.connections.getState().remove('1');
    expect(failing.connections.getState().outcome).toMatchObject({
      ok: false,
      action: 'remove',
      connectionId: '1',
    });
    expect(failing.connections.getState().connections).toHaveLength(3);
  });

  it('opens on the company the URL names, if it exists', async () => {
    const { connections, dashboard } = setUp({}, connectionFromHash('#connection=2'));
    await connections.getState().load();
    expect(connections.getState().selected).toBe('2');
    expect(dashboard.getState().connectionId).toBe('2');
    expect(connectionFromHash('#connection=../x')).toBeNull();
    const missing = setUp({}, '9');
    await missing.connections.getState().load();
    expect(missing.connections.getState().selected).toBe('default');
  });

  it('an outcome of an action on another company is not shown on the one chosen since', async () => {
    let answer!: (value: Result<TokenStatus>) => void;
    const { dashboard, connections } = setUp({
      refresh: () => new Promise((resolve) => (answer = resolve)),
    });
    await connections.getState().load();
    const running = dashboard.getState().refresh();
    connections.getState().select('1');
    answer({ ok: true, value: statusOf('default') });
    await running;
    expect(dashboard.getState().outcomes.refresh).toBeUndefined();
    expect(dashboard.getState().pending.refresh).toBe(false);
  });
});

describe('connections store under a burst of pushes', () => {
  it('takes a burst in with one list update when given a frame scheduler', async () => {
    const frames: Array<() => void> = [];
    const { bridge } = setUp();
    const dashboard = createDashboardStore(bridge, () => T0);
    const connections = createConnectionsStore(bridge, dashboard, {
      schedule: (flush) => frames.push(flush),
    });
    await connections.getState().load();
    let updates = 0;
    connections.subscribe(() => (updates += 1));
    for (const id of ['1', '2', 'default'])
      connections.getState().receiveStatus(statusOf(id, { state: 'expiring' }));
    expect(frames).toHaveLength(1);
    expect(connections.getState().connections.every((c) => c.state === 'valid')).toBe(true);
    frames[0]();
    expect(updates).toBe(1);
    expect(connections.getState().connections.map((c) => c.state)).toEqual([
      'expiring',
      'expiring',
      'expiring',
    ]);
  });
});

describe('window title', () => {
  it('names the worst state with several companies, and stays plain with one', () => {
    const one = [summarizeStatus(statusOf('default'))];
    expect(windowTitle(one)).toBe('QB Token Desk');
    const several = [...one, summarizeStatus(statusOf('1', { state: 'reauthorization_required' }))];
    expect(windowTitle(several)).toBe('Reconnect required: Co 1 · QB Token Desk');
    expect(windowTitle([...one, summarizeStatus(statusOf('2'))])).toBe('All 2 valid · QB Token Desk');
  });
});
