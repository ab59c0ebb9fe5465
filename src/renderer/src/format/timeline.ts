// The token timeline's model: which access tokens lived when, and what happened to the chain, over
// the last 24 hours (or since the oldest event the status still carries). Pure: the status and a
// clock in, plain numbers out; the component only draws it.
import type { HistoryEvent, RefreshTrigger, TokenStatus } from '../../../shared/contract';
import { DEFAULT_ACCESS_LIFETIME_MS } from './lifetime';
import { parseTime, TIME_UNITS } from './time';

export const TIMELINE_WINDOW_MS = 24 * TIME_UNITS.HOUR;

export interface TimelineBar {
  issuedAt: number;
  /** When the token expires (or would have): the bar's end unless something dropped it earlier. */
  expiresAt: number;
  /** Where the bar ends: the expiry, or the Clear / Disconnect that dropped the token first. */
  endsAt: number;
  /** True when the expiry is a guess (the event did not carry it). */
  estimated: boolean;
  /** The token in use now. */
  current: boolean;
  trigger: RefreshTrigger | null;
  /** Row inside the access-token band, so overlapping tokens stay visible. */
  lane: number;
}

export type TimelineMarkKind = 'refresh' | 'failure' | 'rotation' | 'cleared';

export interface TimelineMark {
  kind: TimelineMarkKind;
  at: number;
  trigger: RefreshTrigger | null;
  message: string;
}

export interface Timeline {
  start: number;
  end: number;
  now: number;
  /** True when the history does not reach back a whole window: the timeline starts at its oldest event. */
  sinceOldestEvent: boolean;
  /** The oldest event's time (now without one): what "since" names, the drawing starts a little before. */
  firstEventAt: number;
  bars: TimelineBar[];
  lanes: number;
  marks: TimelineMark[];
}

const ISSUES_TOKEN: ReadonlySet<HistoryEvent['type']> = new Set(['refreshed', 'connected']);
const DROPS_TOKEN: ReadonlySet<HistoryEvent['type']> = new Set(['cleared', 'disconnected']);
const MARKS: Partial<Record<HistoryEvent['type'], TimelineMarkKind>> = {
  refreshed: 'refresh',
  failed: 'failure',
  rotated: 'rotation',
  cleared: 'cleared',
};

interface Timed {
  event: HistoryEvent;
  at: number;
}

/** The typical lifetime of this chain's tokens: the newest one whose expiry is known, else Intuit's hour. */
function typicalLifetime(issues: Timed[]): number {
  for (let i = issues.length - 1; i >= 0; i--) {
    const issue = issues[i];
    const expires = parseTime(issue?.event.accessTokenExpiresAt);
    if (issue && expires !== null && expires > issue.at) return expires - issue.at;
  }
  return DEFAULT_ACCESS_LIFETIME_MS;
}

function assignLanes(bars: Omit<TimelineBar, 'lane'>[]): { bars: TimelineBar[]; lanes: number } {
  const laneEnds: number[] = [];
  const placed = bars.map((bar) => {
    let lane = laneEnds.findIndex((end) => end <= bar.issuedAt);
    if (lane === -1) lane = laneEnds.length;
    laneEnds[lane] = bar.endsAt;
    return { ...bar, lane };
  });
  return { bars: placed, lanes: Math.max(1, laneEnds.length) };
}

/**
 * The events that issued an access token. A refresh always does; a Connect does too, but a company
 * added with a bare refresh token (`qb-token connections add`) is `connected` with none: without the
 * expiry on the event, a `connected` one counts only as the token in use now.
 */
function tokenIssues(events: Timed[], currentExpiry: number | null): Timed[] {
  const candidates = events.filter((e) => ISSUES_TOKEN.has(e.event.type));
  return candidates.filter(
    (e, index) =>
      e.event.type !== 'connected' ||
      parseTime(e.event.accessTokenExpiresAt) !== null ||
      (index === candidates.length - 1 && currentExpiry !== null && currentExpiry > e.at),
  );
}

function tokenBars(events: Timed[], status: TokenStatus, now: number): Omit<TimelineBar, 'lane'>[] {
  const currentExpiry = status.source === 'cached' ? parseTime(status.accessToken?.expiresAt) : null;
  const issues = tokenIssues(events, currentExpiry);
  const lifetime = typicalLifetime(issues);
  return issues.map((issue, index) => {
    const newest = index === issues.length - 1;
    const known = parseTime(issue.event.accessTokenExpiresAt);
    // The newest issue is the token in use while the status shows a cached one expiring after it.
    const current = newest && currentExpiry !== null && currentExpiry > issue.at;
    const expiresAt = known ?? (current && currentExpiry !== null ? currentExpiry : issue.at + lifetime);
    const dropped = events.find((e) => DROPS_TOKEN.has(e.event.type) && e.at >= issue.at);
    const endsAt = Math.max(issue.at, Math.min(expiresAt, dropped?.at ?? Number.POSITIVE_INFINITY));
    return {
      issuedAt: issue.at,
      expiresAt,
      endsAt,
      estimated: known === null && !current,
      current: current && (dropped === undefined || dropped.at > now),
      trigger: issue.event.trigger ?? null,
    };
  });
}

/** The timeline for `status` at `now`: the last `windowMs`, or from the oldest event if that is later. */
export function buildTimeline(status: TokenStatus, now: number, windowMs = TIMELINE_WINDOW_MS): Timeline {
  const events: Timed[] = status.history
    .map((event) => ({ event, at: parseTime(event.at) }))
    .filter((e): e is Timed => e.at !== null && e.at <= now)
    .sort((a, b) => a.at - b.at);
  const all = tokenBars(events, status, now);
  // The token in use is drawn to its expiry: "valid until" is the one future fact worth seeing.
  const end = Math.max(now, ...all.filter((bar) => bar.current).map((bar) => bar.endsAt));
  // Some past before the oldest event, so a fresh start does not sit on the left edge.
  const oldest = events[0]?.at ?? now;
  const start = Math.max(
    now - windowMs,
    Math.min(oldest, now - Math.max(TIME_UNITS.MINUTE, (end - now) / 4)),
  );
  const { bars, lanes } = assignLanes(all.filter((bar) => bar.endsAt > start));
  const marks: TimelineMark[] = events.flatMap(({ event, at }) => {
    const kind = MARKS[event.type];
    return kind && at >= start ? [{ kind, at, trigger: event.trigger ?? null, message: event.message }] : [];
  });
  return {
    start,
    end,
    now,
    sinceOldestEvent: now - start < windowMs,
    firstEventAt: Math.max(start, oldest),
    bars,
    lanes,
    marks,
  };
}

/** Axis ticks: round local times at a step that gives at most `maxTicks`. */
export function timelineTicks(start: number, end: number, maxTicks = 8): number[] {
  const { MINUTE, HOUR } = TIME_UNITS;
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360].map((m) => m * MINUTE).concat([12 * HOUR]);
  const span = Math.max(1, end - start);
  const step = steps.find((s) => span / s < maxTicks) ?? 12 * HOUR;
  // Align to the local clock (a zone offset in minutes keeps 09:00 on 09:00, not on UTC's hour).
  const offset = -new Date(start).getTimezoneOffset() * MINUTE;
  const ticks: number[] = [];
  for (let t = Math.ceil((start + offset) / step) * step - offset; t <= end; t += step) ticks.push(t);
  return ticks;
}

/** One sentence for screen readers: what the picture shows. */
export function describeTimeline(timeline: Timeline, since: string): string {
  const count = (kind: TimelineMarkKind) => timeline.marks.filter((m) => m.kind === kind).length;
  const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
  const triggers = new Map<string, number>();
  for (const mark of timeline.marks) {
    if (mark.kind === 'refresh' && mark.trigger)
      triggers.set(mark.trigger, (triggers.get(mark.trigger) ?? 0) + 1);
  }
  const byTrigger = [...triggers].map(([trigger, n]) => `${n} ${trigger}`).join(', ');
  return (
    `Token timeline, ${timeline.sinceOldestEvent ? `since ${since}` : 'last 24 hours'}: ` +
    `${plural(timeline.bars.length, 'access token')}, ` +
    `${plural(count('refresh'), 'refresh', 'refreshes')}${byTrigger ? ` (${byTrigger})` : ''}, ` +
    `${plural(count('rotation'), 'rotation')}, ${plural(count('failure'), 'failure')}.`
  );
}
