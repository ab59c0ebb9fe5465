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

  it('keeps room for the live tokens of every connection that reserved it (100 connections, 3 rounds of refreshes)', () => {
    const secrets = new SecretRegistry();
    const releases = Array.from({ length: 100 }, () => secrets.reserve(8));
    const token = (connection: number, round: number, kind: string) =>
      `${kind}-token-of-connection-${connection}-round-${round}`;
    for (let round = 0; round < 3; round += 1)
      for (let c = 0; c < 100; c += 1) secrets.add(token(c, round, 'access'), token(c, round, 'refresh'));
    // Each connection's current pair and the one before (still alive for a while): 400 values.
    const live = [1, 2].flatMap((round) =>
      Array.from({ length: 100 }, (_, c) => [token(c, round, 'access'), token(c, round, 'refresh')]).flat(),
    );
    expect(live.filter((value) => secrets.redact(value) !== `…${value.slice(-4)}`)).toEqual([]);
    for (const release of releases) release();
  });

  it('gives the room back when a connection goes, and stays bounded however much is reserved', () => {
    const secrets = new SecretRegistry();
    secrets.pin('client-secret-from-config');
    const first = secrets.reserve(8);
    const others = Array.from({ length: 99 }, () => secrets.reserve(8));
    expect(secrets.capacity).toBe(64 + 800);
    for (let i = 0; i < 2_000; i += 1) secrets.add(`access-token-number-${i}`);
    expect(secrets.values()).toHaveLength(1 + 864);
    for (const release of others) release();
    // Released twice: nothing more is given back.
    others[0]?.();
    expect(secrets.capacity).toBe(72);
    expect(secrets.values()).toHaveLength(1 + 72);
    expect(secrets.redact('access-token-number-1999')).toBe('…1999');
    expect(secrets.redact('access-token-number-1927')).toBe('access-token-number-1927');
    first();
    expect(secrets.capacity).toBe(64);
    secrets.reserve(1_000_000_000);
    for (let i = 0; i < 10_000; i += 1) secrets.add(`refresh-token-number-${i}`);
    expect(secrets.values().length).toBeLessThanOrEqual(1 + 8192);
    expect(secrets.redact('client-secret-from-config')).toBe('…nfig');
  });
});
