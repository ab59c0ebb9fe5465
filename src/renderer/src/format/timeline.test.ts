import { describe, expect, it } from 'vitest';
import type { HistoryEvent } from '../../../shared/contract';
import { statusAt } from '../../../shared/testing/status-fixture';
import { buildTimeline, describeTimeline, TIMELINE_WINDOW_MS, timelineTicks } from './timeline';

const T0 = Date.parse('2026-11-27T12:00:00Z');
const MIN = 60_000;
const HOUR = 60 * MIN;
const iso = (offsetMs: number) => new Date(T0 + offsetMs).toISOString();

/** History newest first, as the status carries it. */
const history = (...events: HistoryEvent[]): HistoryEvent[] =>
  [...events].sort((a, b) => b.at.localeCompare(a.at));
const refreshed = (
  at: number,
  expiresIn: number | null,
  trigger: HistoryEvent['trigger'] = 'scheduled',
): HistoryEvent => ({
  at: iso(at),
  type: 'refreshed',
  message: 'Access token refreshed.',
  trigger,
  ...(expiresIn === null ? {} : { accessTokenExpiresAt: iso(at + expiresIn) }),
});

describe('buildTimeline', () => {
  it('draws no token for a company connected with a bare refresh token; a Connect that issued the token in use is drawn', () => {
    const connected = (at: number): HistoryEvent => ({
      at: iso(at),
      type: 'connected',
      message: 'Connected with a refresh token given by hand (…wxyz).',
    });
    // `qb-token connections add`: no access token until the first refresh.
    const byHand = buildTimeline(
      statusAt(T0, { accessToken: null, history: history(connected(-2 * MIN)) }),
      T0,
    );
    expect(byHand.bars).toEqual([]);
    const thenRefreshed = buildTimeline(
      statusAt(T0, {
        accessToken: { preview: '…a1B2', expiresAt: iso(59 * MIN) },
        history: history(connected(-2 * MIN), refreshed(-MIN, HOUR, 'on-demand')),
      }),
      T0,
    );
    expect(thenRefreshed.bars).toMatchObject([{ issuedAt: T0 - MIN, current: true }]);
    // Connect's answer carries an access token: the one in use now.
    const viaConnect = buildTimeline(
      statusAt(T0, {
        accessToken: { preview: '…a1B2', expiresAt: iso(58 * MIN) },
        history: history(connected(-2 * MIN)),
      }),
      T0,
    );
    expect(viaConnect.bars).toMatchObject([{ issuedAt: T0 - 2 * MIN, endsAt: T0 + 58 * MIN, current: true }]);
  });

  it('draws each access token from issue to expiry, overlapping ones in a second lane', () => {
    const status = statusAt(T0, {
      accessToken: { preview: '…a1B2', expiresAt: iso(55 * MIN) },
      history: history(refreshed(-65 * MIN, HOUR), refreshed(-5 * MIN, HOUR, 'manual')),
    });
    const timeline = buildTimeline(status, T0);
    expect(timeline.bars).toMatchObject([
      { issuedAt: T0 - 65 * MIN, endsAt: T0 - 5 * MIN, current: false, estimated: false, lane: 0 },
      { issuedAt: T0 - 5 * MIN, endsAt: T0 + 55 * MIN, current: true, trigger: 'manual', lane: 0 },
    ]);
    const overlapping = buildTimeline(
      statusAt(T0, { history: history(refreshed(-64 * MIN, HOUR), refreshed(-8 * MIN, HOUR)) }),
      T0,
    );
    expect(overlapping.bars.map((bar) => bar.lane)).toEqual([0, 1]);
    expect(overlapping.lanes).toBe(2);
  });

  it('starts at the oldest event when the history is younger than 24 hours, and ends at the current token’s expiry', () => {
    const timeline = buildTimeline(
      statusAt(T0, {
        accessToken: { preview: '…a1B2', expiresAt: iso(55 * MIN) },
        history: history(refreshed(-30 * MIN, HOUR), refreshed(-5 * MIN, HOUR)),
      }),
      T0,
    );
    expect(timeline.start).toBe(T0 - 30 * MIN);
    expect(timeline.sinceOldestEvent).toBe(true);
    expect(timeline.end).toBe(T0 + 55 * MIN);
    // A fresh start gets a quarter of the future as past, so "now" is not on the left edge.
    const fresh = buildTimeline(
      statusAt(T0, {
        accessToken: { preview: '…a1B2', expiresAt: iso(60 * MIN - 1000) },
        history: history(refreshed(-1000, HOUR)),
      }),
      T0,
    );
    expect([fresh.start, fresh.end]).toEqual([T0 + (-60 * MIN + 1000) / 4, T0 + 60 * MIN - 1000]);
    // "since" names the oldest event, not the padding drawn before it.
    expect(fresh.firstEventAt).toBe(T0 - 1000);

    const day = buildTimeline(statusAt(T0, { history: history(refreshed(-30 * HOUR, HOUR)) }), T0);
    expect(day.start).toBe(T0 - TIMELINE_WINDOW_MS);
    expect(day.sinceOldestEvent).toBe(false);
    expect(day.bars).toEqual([]);
  });

  it('estimates an expiry the event does not carry from the current token, else from a known lifetime', () => {
    const timeline = buildTimeline(
      statusAt(T0, {
        accessToken: { preview: '…a1B2', expiresAt: iso(100_000) },
        history: history(refreshed(-10 * MIN, 2 * MIN), refreshed(-7 * MIN, null), refreshed(-20_000, null)),
      }),
      T0,
    );
    expect(timeline.bars.map((bar) => [bar.expiresAt - T0, bar.estimated, bar.current])).toEqual([
      [-8 * MIN, false, false],
      [-5 * MIN, true, false],
      [100_000, false, true],
    ]);
    const none = buildTimeline(
      statusAt(T0, { accessToken: null, history: history(refreshed(-10 * MIN, null)) }),
      T0,
    );
    expect(none.bars[0]?.expiresAt).toBe(T0 - 10 * MIN + HOUR);
  });

  it('cuts a bar at Clear cache and marks refreshes by trigger, rotations and failures', () => {
    const timeline = buildTimeline(
      statusAt(T0, {
        state: 'no_token',
        accessToken: null,
        history: history(
          refreshed(-20 * MIN, HOUR, 'on-demand'),
          { at: iso(-19 * MIN), type: 'rotated', message: 'Refresh token rotated.' },
          { at: iso(-10 * MIN), type: 'failed', message: 'Refresh failed (server).', trigger: 'scheduled' },
          { at: iso(-2 * MIN), type: 'cleared', message: 'Cleared.' },
          { at: iso(-1 * MIN), type: 'retried_after_401', message: 'Retried.' },
        ),
      }),
      T0,
    );
    expect(timeline.bars).toMatchObject([{ endsAt: T0 - 2 * MIN, current: false }]);
    expect(timeline.marks.map((mark) => [mark.kind, mark.trigger])).toEqual([
      ['refresh', 'on-demand'],
      ['rotation', null],
      ['failure', 'scheduled'],
      ['cleared', null],
    ]);
    expect(timeline.end).toBe(T0);
    expect(describeTimeline(timeline, '11:40')).toBe(
      'Token timeline, since 11:40: 1 access token, 1 refresh (1 on-demand), 1 rotation, 1 failure.',
    );
  });

  it('ignores unreadable and future events, and spans at least a minute when empty', () => {
    const timeline = buildTimeline(
      statusAt(T0, {
        history: [{ at: 'garbage', type: 'refreshed', message: 'x' }, refreshed(5 * MIN, HOUR)],
      }),
      T0,
    );
    expect(timeline.bars).toEqual([]);
    expect(timeline.marks).toEqual([]);
    expect(timeline.end - timeline.start).toBe(MIN);
  });
});

describe('timelineTicks', () => {
  it('picks a round step that gives at most eight ticks', () => {
    const hourly = timelineTicks(T0 - 24 * HOUR, T0);
    expect(hourly.length).toBeLessThanOrEqual(8);
    expect(hourly.length).toBeGreaterThanOrEqual(4);
    expect((hourly[1] ?? 0) - (hourly[0] ?? 0)).toBe(6 * HOUR);
    const short = timelineTicks(T0 - 7 * MIN - 30_000, T0);
    expect(short.map((t) => (t - T0) / MIN)).toEqual([-7, -6, -5, -4, -3, -2, -1, 0]);
  });
});
