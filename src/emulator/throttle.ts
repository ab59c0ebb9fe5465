// Intuit's Accounting API limits (Intuit's documentation): per company and app, at most 10 requests in flight and
// 10 a second; per company, 500 a minute. A request over any of them gets 429 ThrottleExceeded and
// does not count against the windows. Windows slide over the emulator's clock, so advanceClock()
// moves them too.
import type { Settings } from './settings';

const SECOND_MS = 1000;
const MINUTE_MS = 60_000;

interface Window {
  /** Admission times, oldest first. */
  times: number[];
}

function prune(window: Window, now: number, spanMs: number): void {
  while ((window.times[0] ?? Infinity) <= now - spanMs) window.times.shift();
}

export class Throttle {
  /** Per company and app: requests admitted and not yet answered, and the last second's admissions. */
  private readonly apps = new Map<string, { inFlight: number; second: Window }>();
  /** Per company: the last minute's admissions. */
  private readonly companies = new Map<string, Window>();

  constructor(private readonly settings: Settings) {}

  /** Admits a request (returning its release function) or returns null when a limit is reached. */
  admit(realmId: string, clientId: string, now: number): (() => void) | null {
    const appKey = `${realmId}\u0000${clientId}`;
    let app = this.apps.get(appKey);
    if (!app) {
      app = { inFlight: 0, second: { times: [] } };
      this.apps.set(appKey, app);
    }
    let company = this.companies.get(realmId);
    if (!company) {
      company = { times: [] };
      this.companies.set(realmId, company);
    }
    prune(app.second, now, SECOND_MS);
    prune(company, now, MINUTE_MS);
    const { maxConcurrentPerRealm, maxRequestsPerSecondPerRealm, maxRequestsPerMinutePerRealm } =
      this.settings;
    if (
      app.inFlight >= maxConcurrentPerRealm ||
      app.second.times.length >= maxRequestsPerSecondPerRealm ||
      company.times.length >= maxRequestsPerMinutePerRealm
    ) {
      return null;
    }
    app.inFlight += 1;
    app.second.times.push(now);
    company.times.push(now);
    const held = app;
    let released = false;
    return () => {
      if (!released) held.inFlight -= 1;
      released = true;
    };
  }
}
