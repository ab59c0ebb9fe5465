// Run-time behaviour of the emulator: defaults from Intuit's documented behaviour, and the validation shared by
// startEmulator(), configure(), the control endpoint and the CLI flags.
import { COMPANIES_RULE } from './companies';
import { DEFAULT_REDIRECT_URIS, MAX_REDIRECT_URIS, redirectUriProblem } from './redirect-uris';
import type { EmulatorCompany, EmulatorOptions, FaultSpelling } from './types';
import { checkObject, type Rule } from './validate';

export interface Settings {
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  refreshTokenHardTtlSeconds: number;
  rotateAfterSeconds: number;
  rotateEveryRefreshes: number;
  oldRefreshTokenPolicy: 'immediate' | 'grace';
  gracePeriodSeconds: number;
  faultSpelling: FaultSpelling;
  autoApprove: boolean;
  redirectUris: string[];
  maxConcurrentPerRealm: number;
  maxRequestsPerSecondPerRealm: number;
  maxRequestsPerMinutePerRealm: number;
  apiLatencyMs: number;
  companyName: string;
  /** The signed-in user's companies (companies.ts); empty = the demo realm alone, named companyName. */
  companies: EmulatorCompany[];
}

const DEFAULT_SETTINGS: Settings = {
  accessTokenTtlSeconds: 3600,
  refreshTokenTtlSeconds: 8_726_400,
  refreshTokenHardTtlSeconds: 5 * 365 * 86_400 + 86_400, // five years, counting one leap day
  rotateAfterSeconds: 86_400,
  rotateEveryRefreshes: 0,
  oldRefreshTokenPolicy: 'immediate',
  gracePeriodSeconds: 86_400,
  faultSpelling: 'intuit',
  autoApprove: false,
  redirectUris: [...DEFAULT_REDIRECT_URIS],
  maxConcurrentPerRealm: 10,
  maxRequestsPerSecondPerRealm: 10,
  maxRequestsPerMinutePerRealm: 500,
  apiLatencyMs: 0,
  companyName: 'Sandbox Company_US_1',
  companies: [],
};

export const DEFAULT_REALM_ID = '9341453172571840';

const seconds: Rule = { type: 'int', min: 0, optional: true };
const positive: Rule = { type: 'int', min: 1, optional: true };

/** Every run-time option and what it accepts. */
const SETTINGS_RULES: Record<keyof Settings, Rule> = {
  accessTokenTtlSeconds: positive,
  refreshTokenTtlSeconds: positive,
  refreshTokenHardTtlSeconds: positive,
  rotateAfterSeconds: seconds,
  rotateEveryRefreshes: seconds,
  oldRefreshTokenPolicy: { type: 'enum', values: ['immediate', 'grace'], optional: true },
  gracePeriodSeconds: seconds,
  faultSpelling: { type: 'enum', values: ['intuit', 'lower', 'capital'], optional: true },
  autoApprove: { type: 'bool', optional: true },
  redirectUris: { type: 'strings', check: redirectUriProblem, maxItems: MAX_REDIRECT_URIS, optional: true },
  maxConcurrentPerRealm: positive,
  maxRequestsPerSecondPerRealm: positive,
  maxRequestsPerMinutePerRealm: positive,
  apiLatencyMs: { type: 'int', min: 0, max: 600_000, optional: true },
  companyName: { type: 'string', maxLength: 200, optional: true },
  companies: COMPANIES_RULE,
};

type SettingsPatch = Partial<Settings>;

/** Validates a patch; throws a ValidationError naming the bad field and what was expected. */
export function parseSettingsPatch(input: unknown): SettingsPatch {
  const patch = { ...(checkObject(input, SETTINGS_RULES, 'emulator options') as SettingsPatch) };
  // Copies: registerRedirectUri() appends to the list, and neither list may be the caller's to change.
  if (patch.redirectUris) patch.redirectUris = [...patch.redirectUris];
  if (patch.companies)
    patch.companies = patch.companies.map(({ realmId, companyName }) => ({ realmId, companyName }));
  return patch;
}

export function settingsFromOptions(options: EmulatorOptions): Settings {
  const { port: _port, demo: _demo, logger: _logger, clock: _clock, ...rest } = options;
  const defined = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
  return {
    ...DEFAULT_SETTINGS,
    redirectUris: [...DEFAULT_SETTINGS.redirectUris],
    companies: [],
    ...parseSettingsPatch(defined),
  };
}
