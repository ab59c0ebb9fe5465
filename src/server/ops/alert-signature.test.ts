import { describe, expect, it } from 'vitest';
import { SIGNATURE_HEADER, signAlert, TIMESTAMP_HEADER, verifyAlertSignature } from './alert-signature';

const SECRET = 'hmac-key-0123456789abcdef';
const NOW = Date.parse('2026-11-30T12:00:00.000Z');
const BODY = JSON.stringify({ text: 'reconnect required', connection: { id: 'default' } });

function check(overrides: Partial<Parameters<typeof verifyAlertSignature>[0]> = {}) {
  const headers = signAlert(SECRET, BODY, NOW);
  return verifyAlertSignature({
    secret: SECRET,
    body: BODY,
    timestamp: headers[TIMESTAMP_HEADER],
    signature: headers[SIGNATURE_HEADER],
    nowMs: NOW,
    ...overrides,
  });
}

describe('alert signature', () => {
  it('is HMAC-SHA256 of "<timestamp>.<body>" in hex, after "sha256="', () => {
    const headers = signAlert(SECRET, BODY, NOW);
    expect(headers[TIMESTAMP_HEADER]).toBe(String(NOW / 1000));
    expect(headers[SIGNATURE_HEADER]).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(check()).toBe('ok');
  });

  it('refuses another body, another secret, a missing or malformed header', () => {
    expect(check({ body: BODY.replace('default', 'other') })).toBe('mismatch');
    expect(check({ secret: 'another-key-0123456789' })).toBe('mismatch');
    expect(check({ signature: undefined })).toBe('missing');
    expect(check({ timestamp: undefined })).toBe('missing');
    expect(check({ signature: 'sha1=abc' })).toBe('malformed');
    expect(check({ timestamp: 'yesterday' })).toBe('malformed');
  });

  it('refuses a replay more than five minutes later (or a clock that far ahead)', () => {
    expect(check({ nowMs: NOW + 299_000 })).toBe('ok');
    expect(check({ nowMs: NOW + 301_000 })).toBe('stale');
    expect(check({ nowMs: NOW - 301_000 })).toBe('stale');
    // The timestamp is signed too: moving it forward breaks the signature.
    expect(check({ timestamp: String(NOW / 1000 + 200) })).toBe('mismatch');
  });
});
