import { describe, expect, it } from 'vitest';
import type { TokenStatus } from '../shared/contract';
import { statusAt } from '../shared/testing/status-fixture';
import type { Notice } from './condition-notifier';
import { DesktopIndicators } from './desktop-indicators';
import type { TrayPresentation } from './tray-presentation';

const START = Date.parse('2026-11-30T12:00:00Z');

function indicators(notifications = true) {
  let now = START;
  const trays: TrayPresentation[] = [];
  const notices: Notice[] = [];
  const subject = new DesktopIndicators(
    { showTray: (p) => trays.push(p), notify: (n) => notices.push(n) },
    { now: () => now, notificationsEnabled: () => notifications },
  );
  return { subject, trays, notices, advance: (ms: number) => (now += ms) };
}

function failingSince(since: number, consecutive: number): TokenStatus {
  return statusAt(START, {
    lastRefresh: {
      at: new Date(START).toISOString(),
      ok: false,
      trigger: 'scheduled',
      durationMs: 15_000,
      error: { kind: 'network', message: 'ECONNRESET', intuitTid: null },
    },
    stats: {
      refreshes: 1,
      failures: consecutive,
      retriedOn401: 0,
      consecutiveFailures: consecutive,
      failingSince: new Date(since).toISOString(),
    },
  });
}

describe('DesktopIndicators', () => {
  it('redraws the tray only when what it shows changes', () => {
    const { subject, trays, advance } = indicators();
    subject.update(statusAt(START));
    subject.update(statusAt(START));
    subject.tick();
    expect(trays).toHaveLength(1);
    advance(60_000);
    subject.tick();
    expect(trays.map((t) => t.lines[0])).toEqual([
      'Access token 30 min left · refresh token 50 days left',
      'Access token 29 min left · refresh token 49 days left',
    ]);
    subject.redraw();
    expect(trays).toHaveLength(3);
  });

  it('raises "Intuit unreachable" on a clock tick once ten minutes have passed without a new status', () => {
    const { subject, notices, trays, advance } = indicators();
    subject.update(failingSince(START, 1));
    expect(notices).toEqual([]);
    expect(trays.at(-1)?.level).toBe('failing');
    advance(10 * 60_000 + 1000);
    subject.tick();
    expect(notices.map((n) => n.kind)).toEqual(['intuit_unreachable']);
    subject.tick();
    expect(notices).toHaveLength(1);
  });

  it('keeps the worst across connections, each keyed by its id', () => {
    const { subject, trays } = indicators();
    subject.update(statusAt(START));
    subject.update(
      statusAt(START, {
        connection: { id: 'b', name: 'B', companyName: null },
        state: 'reauthorization_required',
      }),
    );
    expect(trays.at(-1)?.level).toBe('reconnect');
    subject.update(statusAt(START, { connection: { id: 'b', name: 'B', companyName: null } }));
    expect(trays.at(-1)?.level).toBe('valid');
    expect(subject.statuses()).toHaveLength(2);
  });

  it('notifies nothing while notifications are off', () => {
    const { subject, notices } = indicators(false);
    subject.update(statusAt(START, { state: 'reauthorization_required' }));
    expect(notices).toEqual([]);
  });
});
