// Time formatting for the dashboard. Every countdown is computed from an absolute time and the
// ticker's "now": a "seconds left" figure would go stale between status pushes.

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** A compact, non-negative duration: `45s`, `4m 09s`, `2h 05m`, `3d 4h`, `87 days`. */
export function formatDuration(ms: number): string {
  const abs = Math.max(0, Math.abs(ms));
  if (abs < MINUTE) return `${Math.floor(abs / SECOND)}s`;
  if (abs < HOUR) return `${Math.floor(abs / MINUTE)}m ${pad2(Math.floor((abs % MINUTE) / SECOND))}s`;
  if (abs < DAY) return `${Math.floor(abs / HOUR)}h ${pad2(Math.floor((abs % HOUR) / MINUTE))}m`;
  if (abs < 14 * DAY) return `${Math.floor(abs / DAY)}d ${Math.floor((abs % DAY) / HOUR)}h`;
  const days = Math.floor(abs / DAY);
  return `${days} days`;
}

/** `in 4m 09s`, `12s ago`, `now`. */
export function formatRelative(targetMs: number, nowMs: number): string {
  const delta = targetMs - nowMs;
  if (Math.abs(delta) < SECOND) return 'now';
  return delta > 0 ? `in ${formatDuration(delta)}` : `${formatDuration(delta)} ago`;
}

/** Milliseconds since the epoch, or null for a missing or unparseable time. */
export function parseTime(iso: string | null | undefined): number | null {
  if (!iso) return null;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms;
}

interface ClockFormatOptions {
  locale?: string;
  timeZone?: string;
}

/** Wall-clock time of day with seconds, in the user's locale: `14:05:09`. */
export function formatClock(ms: number, options: ClockFormatOptions = {}): string {
  return new Intl.DateTimeFormat(options.locale, {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hour12: false,
    timeZone: options.timeZone,
  }).format(ms);
}

/** Date and time for things days or years away: `27 Nov 2026, 14:05`. */
export function formatDateTime(ms: number, options: ClockFormatOptions = {}): string {
  return new Intl.DateTimeFormat(options.locale, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hour12: false,
    timeZone: options.timeZone,
  }).format(ms);
}

/** Absolute time fit for its distance from now: time of day within a day, else date and time. */
export function formatAbsolute(ms: number, nowMs: number, options: ClockFormatOptions = {}): string {
  return Math.abs(ms - nowMs) < 20 * HOUR ? formatClock(ms, options) : formatDateTime(ms, options);
}

/** Whole days left until `ms` (rounded down; negative once past). */
export function daysLeft(ms: number, nowMs: number): number {
  return Math.floor((ms - nowMs) / DAY);
}

/** `1 day`, `12 days`. */
export function pluralDays(days: number): string {
  return `${days} ${Math.abs(days) === 1 ? 'day' : 'days'}`;
}

/** The refresh-ahead margin: `5 min before expiry`, `90 s before expiry`. */
export function formatSkew(seconds: number): string {
  const amount = seconds >= 60 && seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;
  return `${amount} before expiry`;
}

/** `1.2 s` or `340 ms`. */
export function formatMs(ms: number): string {
  return ms >= SECOND ? `${(ms / SECOND).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

export const TIME_UNITS = { SECOND, MINUTE, HOUR, DAY } as const;

/** The exact instant in UTC, for tooltips beside local times: `2026-11-27 12:00:05.123 UTC`. */
export function formatUtc(ms: number): string {
  return `${new Date(ms).toISOString().replace('T', ' ').replace('Z', '')} UTC`;
}

/** A piece of a message: plain text, or an ISO-8601 instant the page shows in local time. */
type MessagePart = { text: string } | { iso: string; ms: number };

// Instants as the engine writes them (`toISOString()`, or with an offset): full date and time.
const ISO_INSTANT = /\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:\d\d)/g;

/** Splits a server-written sentence around the UTC instants in it, so the page can show them in local time. */
export function splitInstants(message: string): MessagePart[] {
  const parts: MessagePart[] = [];
  let last = 0;
  for (const match of message.matchAll(ISO_INSTANT)) {
    const ms = Date.parse(match[0]);
    if (Number.isNaN(ms)) continue;
    if (match.index > last) parts.push({ text: message.slice(last, match.index) });
    parts.push({ iso: match[0], ms });
    last = match.index + match[0].length;
  }
  if (last < message.length) parts.push({ text: message.slice(last) });
  return parts;
}
