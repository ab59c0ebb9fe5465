// Public shape of the Intuit emulator. Tests, demo mode and benchmarks code against this;
// src/emulator/server.ts implements it.

export interface DemoCredentials {
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  realmId: string;
}

/**
 * How Accounting API faults are spelled in JSON. 'intuit' (default) answers each class as Intuit does:
 * 401 authentication faults lower case (`{"fault":{"error":[...]}}`), every other fault capitalised
 * (`{"Fault":{"Error":[...]}}`). 'lower' and 'capital' force one spelling for every fault.
 */
export type FaultSpelling = 'intuit' | 'lower' | 'capital';

/** A QuickBooks company the emulator's signed-in user belongs to: its realm id and CompanyInfo name. */
export interface EmulatorCompany {
  realmId: string;
  companyName: string;
}

export interface EmulatorOptions {
  /** 0 (default) picks a free port. Always bound to 127.0.0.1. */
  port?: number;
  /** Access token lifetime, seconds (default 3600). */
  accessTokenTtlSeconds?: number;
  /** Rolling refresh token lifetime, seconds (default 8,726,400). */
  refreshTokenTtlSeconds?: number;
  /** Absolute cap from the original authorization, seconds (default 5 years). */
  refreshTokenHardTtlSeconds?: number;
  /** Issue a new refresh token value when the current one is at least this old (default 86,400); 0 = rotate on every refresh. */
  rotateAfterSeconds?: number;
  /** What happens to the previous refresh token when a new one is issued (default 'immediate'). */
  oldRefreshTokenPolicy?: 'immediate' | 'grace';
  /** With 'grace': how long the previous value keeps working (default 86,400). */
  gracePeriodSeconds?: number;
  /** Default 'intuit': Intuit's own mix of the two spellings (see FaultSpelling). */
  faultSpelling?: FaultSpelling;
  /** The authorize page redirects at once instead of showing its Connect button. */
  autoApprove?: boolean;
  /**
   * The app's registered redirect URIs; the consent page accepts only an exact match. A loopback
   * entry may use `*` as its port. Default: the desk's own loopback callbacks, `/callback` on localhost
   * and on 127.0.0.1, any port (DEFAULT_REDIRECT_URIS in redirect-uris.ts).
   */
  redirectUris?: string[];
  /** Throttle per company and app: requests in flight (default 10) and per second (default 10). */
  maxConcurrentPerRealm?: number;
  maxRequestsPerSecondPerRealm?: number;
  /** Throttle per company: requests per minute (default 500). */
  maxRequestsPerMinutePerRealm?: number;
  /** Credentials the emulator accepts from the start; generated when omitted. */
  demo?: Partial<DemoCredentials>;
  /** CompanyInfo's name for every realm `companies` does not name (default "Sandbox Company_US_1"). */
  companyName?: string;
  /**
   * The companies the signed-in user belongs to, in the order the consent page's company selector
   * lists them, each with its CompanyInfo name. With more than one the user picks one at consent (as at
   * Intuit); with one there is no choice. Default: the demo realm alone, named `companyName`.
   */
  companies?: EmulatorCompany[];
  /** Also rotate when the current refresh token value has served this many refreshes (default 0 = off). */
  rotateEveryRefreshes?: number;
  /** Every Accounting API answer waits this long first (default 0), so concurrency can be observed. */
  apiLatencyMs?: number;
  /** The emulator's base clock, ms since epoch (default Date.now); advanceClock() shifts it. Lets tests share one fake clock. */
  clock?: () => number;
  /** One line per request (method, path, status; never a token value). Default: silent. */
  logger?: (line: string) => void;
}

export type TokenFault =
  | { kind: 'status'; status: 500 | 502 | 503 | 429; retryAfterSeconds?: number }
  | { kind: 'invalid_grant' }
  | { kind: 'invalid_client' }
  /** An HTML error page (status default 503). */
  | { kind: 'html'; status?: number }
  | { kind: 'malformed_json' }
  | { kind: 'delay'; ms: number }
  /** Accept the request and never answer (the client's timeout must fire). */
  | { kind: 'hang' }
  /** Destroy the socket without an answer. */
  | { kind: 'reset' }
  /** Process the refresh (rotating the token) but never deliver the answer: outcome unknown to the client. */
  | { kind: 'hang_after_processing' }
  /** Process the request (rotating the token), wait `ms`, then answer normally. */
  | { kind: 'delay_after_processing'; ms: number };

/** Answers the next Accounting API calls in place of the real handler, with the fault body Intuit documents. */
export type ApiFault = { kind: 'status'; status: 401 | 403 | 429 | 500 | 503; retryAfterSeconds?: number };

export interface EmulatorCounters {
  tokenCalls: { refresh_token: number; authorization_code: number; other: number };
  /** Token calls answered 200. */
  tokenSuccesses: number;
  apiCalls: number;
  api401s: number;
  api429s: number;
  refreshTokensIssued: number;
  revokeCalls: number;
  /** Highest number of API requests in flight at once, per realm. */
  maxApiInFlightByRealm: Record<string, number>;
}

export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
  realmId: string;
}

export interface EmulatorControl {
  /** The next `count` token-endpoint calls (default 1) get this fault. */
  injectTokenFault(fault: TokenFault, count?: number): void;
  /** The next `count` Accounting API calls (default 1) get this fault. */
  injectApiFault(fault: ApiFault, count?: number): void;
  /** Drops every pending token and API fault. */
  clearFaults(): void;
  /** Server-side revoke of every live access token (or only the given one): API calls get 401. */
  revokeAccessTokens(accessToken?: string): void;
  /** Moves the emulator's clock forward (negative moves it back), for expiry and skew tests. */
  advanceClock(seconds: number): void;
  /** Emulator time, ms since epoch. */
  now(): number;
  counters(): EmulatorCounters;
  resetCounters(): void;
  /** Changes options at run time (lifetimes, rotation, policy, spelling, throttle, redirect URIs). */
  configure(options: Partial<Omit<EmulatorOptions, 'port' | 'demo'>>): void;
  /** Adds a redirect URI to the app's registered ones (as on Intuit's Keys page). */
  registerRedirectUri(redirectUri: string): void;
  /** A new authorization for the demo client (as if the user connected again). */
  issueAuthorization(realmId?: string): IssuedTokens;
  /** Whether a refresh token would be accepted right now (does not consume or rotate it). */
  isRefreshTokenValid(refreshToken: string): boolean;
  /** Every secret value the emulator has handed out (refresh and access tokens, codes, the client secret), for leak scans. */
  issuedTokenValues(): string[];
}

export interface EmulatorUrls {
  url: string;
  tokenUrl: string;
  revokeUrl: string;
  authorizeUrl: string;
  apiBaseUrl: string;
  controlUrl: string;
}

export interface EmulatorHandle extends EmulatorUrls, DemoCredentials {
  port: number;
  control: EmulatorControl;
  close(): Promise<void>;
}
