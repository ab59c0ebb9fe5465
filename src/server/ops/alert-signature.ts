// The alert webhook's signature, when QB_ALERT_WEBHOOK_SECRET is set. The receiver recomputes
//   HMAC-SHA256(secret, `${X-QB-Desk-Timestamp}.${raw body}`)  as lowercase hex
// compares it in constant time with the hex after "sha256=" in X-QB-Desk-Signature, and refuses a
// timestamp more than five minutes from its own clock, so a captured request cannot be replayed
// later. Each retry is signed afresh; X-QB-Desk-Delivery stays the same across retries, so a
// receiver can also drop a delivery it has already handled.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-qb-desk-signature';
export const TIMESTAMP_HEADER = 'x-qb-desk-timestamp';
export const DELIVERY_HEADER = 'x-qb-desk-delivery';

/** How far a signed timestamp may be from the receiver's clock (seconds). */
const SIGNATURE_TOLERANCE_SECONDS = 300;

function mac(secret: string, timestamp: string, body: string): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest();
}

/** The two headers for one delivery attempt. */
export function signAlert(secret: string, body: string, nowMs: number): Record<string, string> {
  const timestamp = String(Math.floor(nowMs / 1000));
  return {
    [TIMESTAMP_HEADER]: timestamp,
    [SIGNATURE_HEADER]: `sha256=${mac(secret, timestamp, body).toString('hex')}`,
  };
}

export type SignatureCheck = 'ok' | 'missing' | 'malformed' | 'stale' | 'mismatch';

/** What a receiver does (documented in the README; the tests' receiver uses it). */
export function verifyAlertSignature(input: {
  secret: string;
  body: string;
  timestamp: string | undefined;
  signature: string | undefined;
  nowMs: number;
  toleranceSeconds?: number;
}): SignatureCheck {
  const { timestamp, signature } = input;
  if (timestamp === undefined || signature === undefined) return 'missing';
  const hex = /^sha256=([0-9a-f]{64})$/.exec(signature)?.[1];
  if (!/^\d{1,12}$/.test(timestamp) || hex === undefined) return 'malformed';
  const skew = Math.abs(input.nowMs / 1000 - Number(timestamp));
  if (skew > (input.toleranceSeconds ?? SIGNATURE_TOLERANCE_SECONDS)) return 'stale';
  return timingSafeEqual(Buffer.from(hex, 'hex'), mac(input.secret, timestamp, input.body))
    ? 'ok'
    : 'mismatch';
}
