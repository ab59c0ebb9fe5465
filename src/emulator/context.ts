// The state one running emulator shares between its endpoints.
import type { AuthorizationStore } from './authorizations';
import type { IdTokenSigner } from './id-token';
import type { Settings } from './settings';
import type { Throttle } from './throttle';
import type { ApiFault, DemoCredentials, EmulatorCounters, EmulatorUrls, TokenFault } from './types';

/** Faults waiting for the next calls, consumed in order, each for its own count. */
export class FaultQueue<F> {
  private readonly pending: { fault: F; remaining: number }[] = [];

  push(fault: F, count: number): void {
    if (count > 0) this.pending.push({ fault, remaining: count });
  }

  take(): F | undefined {
    const head = this.pending[0];
    if (!head) return undefined;
    head.remaining -= 1;
    if (head.remaining <= 0) this.pending.shift();
    return head.fault;
  }

  clear(): void {
    this.pending.length = 0;
  }

  get size(): number {
    return this.pending.reduce((sum, entry) => sum + entry.remaining, 0);
  }
}

export function emptyCounters(): EmulatorCounters {
  return {
    tokenCalls: { refresh_token: 0, authorization_code: 0, other: 0 },
    tokenSuccesses: 0,
    apiCalls: 0,
    api401s: 0,
    api429s: 0,
    refreshTokensIssued: 0,
    revokeCalls: 0,
    maxApiInFlightByRealm: {},
  };
}

export interface EmulatorContext {
  settings: Settings;
  store: AuthorizationStore;
  idTokens: IdTokenSigner;
  demo: DemoCredentials;
  urls: EmulatorUrls;
  counters: EmulatorCounters;
  tokenFaults: FaultQueue<TokenFault>;
  apiFaults: FaultQueue<ApiFault>;
  /** Emulator time (real time plus the shifted offset), ms since epoch. */
  now(): number;
  /** A timer that close() cancels, so delays never outlive the server. */
  later(ms: number, run: () => void): void;
  /** Accounting API requests in flight per realm, counting every arrival (throttled ones too). */
  arrivals: Map<string, number>;
  throttle: Throttle;
}
