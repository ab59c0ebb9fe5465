// Who may talk to the headless server. It binds to 127.0.0.1 only, yet any web page the user
// opens can still aim requests at loopback, so three checks stand between a page and the tokens:
// the Host header (DNS rebinding), the Origin header (cross-site form posts), and the admin secret
// (Bearer header or the session cookie set by opening the start-up URL).
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isForeignOrigin, isLoopbackHost } from '../shared/loopback-host';

/** The query parameter that carries the admin secret in the start-up URL. */
export const LOGIN_QUERY_PARAM = 'auth';

/** A fresh admin secret: 256 random bits, URL-safe. */
export function generateAdminToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Constant-time comparison; hashing first makes the lengths equal, so length leaks nothing either. */
function secretsEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  if (!header) return cookies;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (!cookies.has(name)) cookies.set(name, value);
  }
  return cookies;
}

export class AccessPolicy {
  /** Cookies are shared by every port on a host, so the name carries the port. */
  readonly cookieName: string;
  private readonly sessionValue: string;

  constructor(
    private readonly adminToken: string,
    readonly port: number,
  ) {
    if (adminToken.length < 16) throw new Error('The admin secret must be at least 16 characters long.');
    this.cookieName = `qbtd_session_${port}`;
    // The cookie holds a value derived from the secret rather than the secret itself, so it cannot
    // be replayed as a Bearer header; it stays valid across restarts with the same QB_ADMIN_TOKEN.
    this.sessionValue = createHmac('sha256', adminToken)
      .update('qb-token-desk session cookie')
      .digest('base64url');
  }

  /** Host must name this server exactly: a rebinding attack arrives with the attacker's host name. */
  isAllowedHost(host: string | undefined): boolean {
    return isLoopbackHost(host, this.port);
  }

  /** An Origin that is present and not this server's own (including the opaque "null"). */
  isForeignOrigin(origin: string | undefined): boolean {
    return isForeignOrigin(origin, this.port);
  }

  isAuthorized(req: IncomingMessage): boolean {
    const auth = req.headers.authorization;
    if (auth !== undefined) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(auth);
      // A wrong Bearer secret is refused even when a valid cookie is present: explicit beats ambient.
      return match !== null && secretsEqual(match[1], this.adminToken);
    }
    const cookie = parseCookies(req.headers.cookie).get(this.cookieName);
    return cookie !== undefined && secretsEqual(cookie, this.sessionValue);
  }

  /** The request's Bearer secret is `secret` (a route's own, e.g. QB_METRICS_TOKEN). */
  hasBearer(req: IncomingMessage, secret: string): boolean {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    return match !== null && secretsEqual(match[1], secret);
  }

  isAdminSecret(value: string): boolean {
    return secretsEqual(value, this.adminToken);
  }

  /** Set-Cookie value for a browser that proved it knows the secret. */
  sessionCookie(): string {
    return `${this.cookieName}=${this.sessionValue}; Path=/; HttpOnly; SameSite=Strict`;
  }

  /** The UI's URL with the secret in it: opening it signs the browser in. */
  loginUrl(origin: string): string {
    return `${origin}/?${LOGIN_QUERY_PARAM}=${encodeURIComponent(this.adminToken)}`;
  }
}
