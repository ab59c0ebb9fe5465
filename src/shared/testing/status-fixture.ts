// A TokenStatus to vary in the formatting tests (no token values: previews only).
import type { TokenStatus } from '../contract';

export function statusAt(nowMs: number, overrides: Partial<TokenStatus> = {}): TokenStatus {
  const iso = (offsetMs: number): string => new Date(nowMs + offsetMs).toISOString();
  return {
    connection: { id: 'default', name: 'QuickBooks sandbox', companyName: null },
    state: 'valid',
    source: 'cached',
    environment: 'sandbox',
    realmId: '9341453012345678',
    demo: false,
    accessToken: { preview: '…a1B2', expiresAt: iso(30 * 60_000) },
    refreshToken: {
      preview: '…Zz90',
      source: 'stored',
      expiresAt: iso(50 * 86_400_000),
      hardExpiresAt: null,
      lastRotatedAt: null,
      rejectedAt: null,
    },
    autoRefresh: { enabled: true, nextRefreshAt: iso(25 * 60_000), skewSeconds: 300, retrying: null },
    lastRefresh: { at: iso(-30 * 60_000), ok: true, trigger: 'scheduled', durationMs: 120 },
    stats: { refreshes: 1, failures: 0, retriedOn401: 0, consecutiveFailures: 0, failingSince: null },
    history: [{ at: iso(-30 * 60_000), type: 'refreshed', message: 'Access token refreshed.' }],
    warnings: [],
    canConnect: true,
    store: {
      kind: 'file',
      location: '/tmp/qb-tokens.json',
      encrypted: false,
      reachable: true,
      misconfigured: false,
      problem: null,
    },
    ...overrides,
  };
}

/** The status's store part for a PostgreSQL store (encrypted, reachable, no problem) with `overrides`. */
export function postgresStore(overrides: Partial<TokenStatus['store']> = {}): TokenStatus['store'] {
  return {
    kind: 'postgres',
    location: 'db:5432/qb',
    encrypted: true,
    reachable: true,
    misconfigured: false,
    problem: null,
    ...overrides,
  };
}
