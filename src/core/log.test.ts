import { describe, expect, it } from 'vitest';
import { redactingLog, SecretRegistry } from './log';

describe('SecretRegistry', () => {
  it('redacts known values to their preview', () => {
    const secrets = new SecretRegistry();
    secrets.add('eyJ-access-token-value-1234');
    const lines: string[] = [];
    redactingLog((line) => lines.push(line), secrets, '')('sent eyJ-access-token-value-1234 to Intuit');
    expect(lines).toEqual(['sent …1234 to Intuit']);
  });

  it('stays bounded over a long run but never forgets pinned configuration secrets', () => {
    const secrets = new SecretRegistry();
    secrets.pin('client-secret-from-config');
    for (let i = 0; i < 10_000; i += 1) secrets.add(`access-token-number-${i}`);
    expect(secrets.values().length).toBeLessThanOrEqual(65);
    expect(secrets.redact('client-secret-from-config')).toBe('…nfig');
    // The newest tokens are the ones a log line could still carry.
    expect(secrets.redact('access-token-number-9999')).toBe('…9999');
  });
});
