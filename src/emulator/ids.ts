// Random values shaped like Intuit's: opaque JWE-looking access tokens, `RT1-` refresh tokens,
// `AB11` authorization codes and `1-xxxxxxxx-...` intuit_tid values.
import { randomBytes } from 'node:crypto';

const JWE_HEADER = 'eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0'; // {"enc":"A128CBC-HS256","alg":"dir"}

function b64url(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}

function alnum(length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += alphabet[b % alphabet.length];
  return out;
}

export function newAccessToken(): string {
  return `${JWE_HEADER}..${b64url(16)}.${b64url(600)}.${b64url(16)}`;
}

export function newRefreshToken(nowMs: number): string {
  return `RT1-${alnum(3)}-H0-${Math.floor(nowMs / 1000)}-${alnum(20)}`;
}

export function newAuthorizationCode(nowMs: number): string {
  return `AB11${Math.floor(nowMs / 1000)}${alnum(40)}`;
}

export function newIntuitTid(): string {
  return `1-${randomBytes(4).toString('hex')}-${randomBytes(12).toString('hex')}`;
}

export function newClientId(): string {
  return `AB${alnum(48)}`;
}

export function newClientSecret(): string {
  return alnum(40);
}
