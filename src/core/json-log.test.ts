import { describe, expect, it } from 'vitest';
import { jsonLog, logSink } from './json-log';
import { defaultLog, redactingLog, SecretRegistry, withLogFields } from './log';

/** A pino destination that keeps what it is given. */
function capture(): { lines: string[]; write(chunk: string): void } {
  const lines: string[] = [];
  return { lines, write: (chunk: string) => lines.push(...chunk.split('\n').filter(Boolean)) };
}

describe('QB_LOG_FORMAT=json', () => {
  it('writes one JSON object per line with level, time, message, connection, trigger and intuit_tid', () => {
    const out = capture();
    const log = jsonLog({ destination: out });
    log('Refreshed (scheduled).', {
      connection: '9341453012345678',
      trigger: 'scheduled',
      intuitTid: '1-abc',
    });
    log('Refresh failed (network).', { level: 'warn', connection: 'default' });
    log('Plain line.');

    expect(out.lines).toHaveLength(3);
    const [first, second, third] = out.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(first).toMatchObject({
      level: 'info',
      message: 'Refreshed (scheduled).',
      connection: '9341453012345678',
      trigger: 'scheduled',
      intuit_tid: '1-abc',
    });
    expect(new Date(String(first.time)).toISOString()).toBe(first.time);
    expect(second).toMatchObject({ level: 'warn', connection: 'default' });
    expect(second).not.toHaveProperty('trigger');
    expect(third).toMatchObject({ level: 'info', message: 'Plain line.' });
  });

  it('sits behind the secret redactor: no token value in a message or a field, and no "[qb-token-desk]" prefix', () => {
    const out = capture();
    const secrets = new SecretRegistry();
    const token = 'eyJ-access-token-value-that-must-not-leak-9f3K';
    secrets.add(token);
    const log = withLogFields(redactingLog(jsonLog({ destination: out }), secrets), {
      connection: 'default',
    });
    log(`sent ${token} to Intuit`, { intuitTid: `tid-${token}` });

    expect(out.lines).toHaveLength(1);
    expect(out.lines[0]).not.toContain(token);
    const line = JSON.parse(out.lines[0]) as Record<string, unknown>;
    expect(line.message).toBe('sent …9f3K to Intuit');
    expect(line.intuit_tid).toBe('tid-…9f3K');
    expect(line.connection).toBe('default');
  });

  it('the human sink stays the default and keeps its prefix', () => {
    expect(logSink('text', defaultLog)).toBe(defaultLog);
    const lines: string[] = [];
    const secrets = new SecretRegistry();
    redactingLog((line) => lines.push(line), secrets)('hello', { level: 'warn' });
    expect(lines).toEqual(['[qb-token-desk] hello']);
  });
});
