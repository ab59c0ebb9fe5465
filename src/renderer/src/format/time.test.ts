import { describe, expect, it } from 'vitest';
import {
  daysLeft,
  formatAbsolute,
  formatClock,
  formatDuration,
  formatMs,
  formatRelative,
  formatSkew,
  parseTime,
  formatUtc,
  pluralDays,
  splitInstants,
} from './time';

const T0 = Date.parse('2026-11-27T12:00:00Z');

describe('formatDuration', () => {
  it('picks units by size', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(45_900)).toBe('45s');
    expect(formatDuration(4 * 60_000 + 9_000)).toBe('4m 09s');
    expect(formatDuration(2 * 3_600_000 + 5 * 60_000)).toBe('2h 05m');
    expect(formatDuration(3 * 86_400_000 + 4 * 3_600_000)).toBe('3d 4h');
    expect(formatDuration(87 * 86_400_000)).toBe('87 days');
  });

  it('uses the magnitude of negative durations', () => {
    expect(formatDuration(-12_000)).toBe('12s');
  });
});

describe('formatRelative', () => {
  it('says in / ago / now', () => {
    expect(formatRelative(T0 + 65_000, T0)).toBe('in 1m 05s');
    expect(formatRelative(T0 - 12_000, T0)).toBe('12s ago');
    expect(formatRelative(T0 + 400, T0)).toBe('now');
  });
});

describe('parseTime', () => {
  it('parses ISO strings and rejects the rest', () => {
    expect(parseTime('2026-11-27T12:00:00Z')).toBe(T0);
    expect(parseTime(null)).toBeNull();
    expect(parseTime(undefined)).toBeNull();
    expect(parseTime('')).toBeNull();
    expect(parseTime('not a date')).toBeNull();
  });
});

describe('absolute times', () => {
  const utc = { locale: 'en-GB', timeZone: 'UTC' };
  it('shows a wall clock with seconds', () => {
    expect(formatClock(T0 + 5_009_000, utc)).toBe('13:23:29');
  });
  it('adds the date for times far from now', () => {
    expect(formatAbsolute(T0 + 60_000, T0, utc)).toBe('12:01:00');
    expect(formatAbsolute(T0 + 3 * 86_400_000, T0, utc)).toBe('30 Nov 2026, 12:00');
  });
});

describe('days', () => {
  it('counts whole days left, negative once past', () => {
    expect(daysLeft(T0 + 13.9 * 86_400_000, T0)).toBe(13);
    expect(daysLeft(T0 - 1_000, T0)).toBe(-1);
    expect(pluralDays(1)).toBe('1 day');
    expect(pluralDays(12)).toBe('12 days');
  });
});

describe('small formats', () => {
  it('formats skew and durations in ms', () => {
    expect(formatSkew(300)).toBe('5 min before expiry');
    expect(formatSkew(90)).toBe('90 s before expiry');
    expect(formatMs(340.4)).toBe('340 ms');
    expect(formatMs(1_234)).toBe('1.2 s');
  });
});

describe('UTC and local instants', () => {
  it('writes the exact UTC instant for a tooltip', () => {
    expect(formatUtc(T0 + 5_123)).toBe('2026-11-27 12:00:05.123 UTC');
  });
  it('finds the engine’s ISO instants in a sentence and keeps the rest as text', () => {
    expect(splitInstants('Access token refreshed (…ab12), valid until 2026-11-27T13:00:00.000Z.')).toEqual([
      { text: 'Access token refreshed (…ab12), valid until ' },
      { iso: '2026-11-27T13:00:00.000Z', ms: T0 + 3_600_000 },
      { text: '.' },
    ]);
    expect(splitInstants('from 2026-11-27T12:00:00+01:00 to 2026-11-27T12:00Z')).toEqual([
      { text: 'from ' },
      { iso: '2026-11-27T12:00:00+01:00', ms: T0 - 3_600_000 },
      { text: ' to ' },
      { iso: '2026-11-27T12:00Z', ms: T0 },
    ]);
    expect(splitInstants('no times; a date 2026-11-27 alone stays text')).toEqual([
      { text: 'no times; a date 2026-11-27 alone stays text' },
    ]);
    expect(splitInstants('')).toEqual([]);
  });
});
