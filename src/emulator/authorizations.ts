// The OAuth state Intuit keeps: authorizations (one per consent), each with a chain of refresh
// token values, the access tokens it issued, and single-use authorization codes. Pure logic on an
// injected clock; the HTTP layer turns outcomes into Intuit's status codes and bodies.
import { newAccessToken, newAuthorizationCode, newRefreshToken } from './ids';
import type { Settings } from './settings';

interface Authorization {
  id: number;
  realmId: string;
  clientId: string;
  scope: string;
  createdAt: number;
  revoked: boolean;
  current: RefreshRecord;
}

interface RefreshRecord {
  value: string;
  auth: Authorization;
  issuedAt: number;
  /** When a newer value replaced this one; null while it is the chain's current value. */
  supersededAt: number | null;
  /** Refreshes this value has served while current (for rotateEveryRefreshes). */
  uses: number;
}

interface AccessRecord {
  auth: Authorization;
  expiresAt: number;
  revoked: boolean;
}

interface CodeRecord {
  clientId: string;
  redirectUri: string;
  realmId: string;
  scope: string;
  expiresAt: number;
  /** The authorization the first exchange created; a second exchange revokes it. */
  usedBy: Authorization | null;
}

export interface TokenGrant {
  accessToken: string;
  refreshToken: string;
  realmId: string;
  scope: string;
  expiresIn: number;
  refreshExpiresIn: number;
  hardExpiresIn: number;
  rotated: boolean;
}

type GrantOutcome = { ok: true; grant: TokenGrant } | { ok: false; description: string };

type AccessCheck =
  { ok: true; realmId: string; clientId: string; scope: string } | { ok: false; detail: string };

const CODE_TTL_MS = 10 * 60 * 1000;

export class AuthorizationStore {
  private nextId = 1;
  private readonly refreshTokens = new Map<string, RefreshRecord>();
  private readonly accessTokens = new Map<string, AccessRecord>();
  private readonly codes = new Map<string, CodeRecord>();
  /** Counts every refresh token value created (by codes, refreshes and direct issue). */
  refreshTokensIssued = 0;

  constructor(
    private readonly settings: Settings,
    private readonly now: () => number,
  ) {}

  /** A new consent: a fresh chain with its first refresh token (optionally a fixed value) and access token. */
  authorize(clientId: string, realmId: string, scope: string, fixedRefreshToken?: string): TokenGrant {
    const now = this.now();
    const auth: Authorization = {
      id: this.nextId++,
      realmId,
      clientId,
      scope,
      createdAt: now,
      revoked: false,
      current: undefined as unknown as RefreshRecord,
    };
    auth.current = this.addRefreshRecord(auth, now, fixedRefreshToken);
    return this.grant(auth, now, true);
  }

  createCode(clientId: string, redirectUri: string, realmId: string, scope: string): string {
    const now = this.now();
    const code = newAuthorizationCode(now);
    this.codes.set(code, {
      clientId,
      redirectUri,
      realmId,
      scope,
      expiresAt: now + CODE_TTL_MS,
      usedBy: null,
    });
    return code;
  }

  exchangeCode(code: string, clientId: string, redirectUri: string | undefined): GrantOutcome {
    const record = this.codes.get(code);
    if (!record || record.clientId !== clientId)
      return { ok: false, description: 'Invalid authorization code' };
    if (record.usedBy) {
      // Intuit: exchanging the same code twice invalidates the tokens the first exchange issued.
      record.usedBy.revoked = true;
      return { ok: false, description: 'Authorization code has already been used' };
    }
    if (this.now() >= record.expiresAt) return { ok: false, description: 'Authorization code has expired' };
    if (redirectUri !== record.redirectUri) return { ok: false, description: 'redirect_uri does not match' };
    const grant = this.authorize(clientId, record.realmId, record.scope);
    record.usedBy = this.refreshTokens.get(grant.refreshToken)?.auth ?? null;
    return { ok: true, grant };
  }

  refresh(refreshToken: string, clientId: string): GrantOutcome {
    const record = this.refreshTokens.get(refreshToken);
    if (!record) return { ok: false, description: 'Incorrect or invalid refresh token' };
    if (record.auth.clientId !== clientId)
      return { ok: false, description: 'Incorrect Token type or clientID' };
    const now = this.now();
    const reason = this.invalidReason(record, now);
    if (reason) return { ok: false, description: reason };
    const auth = record.auth;
    auth.current.uses += 1;
    const rotated = this.rotationDue(auth.current, now);
    if (rotated) {
      auth.current.supersededAt = now;
      auth.current = this.addRefreshRecord(auth, now);
    }
    return { ok: true, grant: this.grant(auth, now, rotated) };
  }

  isRefreshTokenValid(refreshToken: string): boolean {
    const record = this.refreshTokens.get(refreshToken);
    return record !== undefined && this.invalidReason(record, this.now()) === null;
  }

  /**
   * Intuit's revoke (a disconnect): a refresh or access token that is valid now ends its whole
   * authorization, the refresh chain and every access token it issued. Anything else (unknown,
   * rotated away, expired, already revoked) is refused and changes nothing.
   */
  revoke(token: string): 'revoked' | 'invalid' {
    const refresh = this.refreshTokens.get(token);
    if (refresh && this.invalidReason(refresh, this.now()) === null) {
      refresh.auth.revoked = true;
      return 'revoked';
    }
    const access = this.accessTokens.get(token);
    if (access && this.checkAccessToken(token).ok) {
      access.auth.revoked = true;
      return 'revoked';
    }
    return 'invalid';
  }

  /** Server-side revoke of access tokens only (the refresh chain keeps working). */
  revokeAccessTokens(accessToken?: string): number {
    let count = 0;
    for (const [value, record] of this.accessTokens) {
      if (accessToken !== undefined && value !== accessToken) continue;
      if (!record.revoked) count += 1;
      record.revoked = true;
    }
    return count;
  }

  checkAccessToken(accessToken: string): AccessCheck {
    const record = this.accessTokens.get(accessToken);
    if (!record) return { ok: false, detail: 'Token invalid: the access token is not recognised' };
    if (record.revoked || record.auth.revoked)
      return { ok: false, detail: 'Token revoked: the access token was revoked' };
    if (this.now() >= record.expiresAt)
      return { ok: false, detail: 'Token expired: the access token is past its lifetime' };
    return {
      ok: true,
      realmId: record.auth.realmId,
      clientId: record.auth.clientId,
      scope: record.auth.scope,
    };
  }

  /** Every value handed out so far (refresh tokens, live access tokens, codes), for leak scans in tests. */
  issuedValues(): string[] {
    return [...this.refreshTokens.keys(), ...this.accessTokens.keys(), ...this.codes.keys()];
  }

  /** Drops access tokens that expired long ago, so long benchmarks do not grow memory without bound. */
  prune(): void {
    const cutoff = this.now() - 24 * 3600 * 1000;
    for (const [value, record] of this.accessTokens)
      if (record.expiresAt < cutoff) this.accessTokens.delete(value);
  }

  private invalidReason(record: RefreshRecord, now: number): string | null {
    const { auth } = record;
    if (auth.revoked) return 'Incorrect or invalid refresh token';
    if (now >= this.hardExpiresAt(auth)) return 'Refresh token has reached its maximum lifetime';
    if (record.supersededAt !== null) {
      if (this.settings.oldRefreshTokenPolicy === 'immediate') return 'Incorrect or invalid refresh token';
      if (now >= record.supersededAt + this.settings.gracePeriodSeconds * 1000) {
        return 'Incorrect or invalid refresh token';
      }
    }
    if (now >= this.rollingExpiresAt(record)) return 'Refresh token has expired';
    return null;
  }

  private rotationDue(current: RefreshRecord, now: number): boolean {
    const { rotateAfterSeconds, rotateEveryRefreshes } = this.settings;
    if (rotateAfterSeconds <= 0) return true;
    if (now - current.issuedAt >= rotateAfterSeconds * 1000) return true;
    return rotateEveryRefreshes > 0 && current.uses >= rotateEveryRefreshes;
  }

  // Lifetimes are read from the live settings, so configure() also shortens chains already issued.
  private rollingExpiresAt(record: RefreshRecord): number {
    return Math.min(
      record.issuedAt + this.settings.refreshTokenTtlSeconds * 1000,
      this.hardExpiresAt(record.auth),
    );
  }

  private hardExpiresAt(auth: Authorization): number {
    return auth.createdAt + this.settings.refreshTokenHardTtlSeconds * 1000;
  }

  private addRefreshRecord(auth: Authorization, now: number, fixedValue?: string): RefreshRecord {
    let value = fixedValue ?? newRefreshToken(now);
    while (this.refreshTokens.has(value)) value = newRefreshToken(now);
    const record: RefreshRecord = { value, auth, issuedAt: now, supersededAt: null, uses: 0 };
    this.refreshTokens.set(value, record);
    this.refreshTokensIssued += 1;
    return record;
  }

  private grant(auth: Authorization, now: number, rotated: boolean): TokenGrant {
    const accessToken = newAccessToken();
    const expiresIn = this.settings.accessTokenTtlSeconds;
    this.accessTokens.set(accessToken, { auth, expiresAt: now + expiresIn * 1000, revoked: false });
    return {
      accessToken,
      refreshToken: auth.current.value,
      realmId: auth.realmId,
      scope: auth.scope,
      expiresIn,
      refreshExpiresIn: Math.max(0, Math.ceil((this.rollingExpiresAt(auth.current) - now) / 1000)),
      hardExpiresIn: Math.max(0, Math.ceil((this.hardExpiresAt(auth) - now) / 1000)),
      rotated,
    };
  }
}
