// Run-time behaviour of the emulator: defaults from INTUIT.md, and the validation shared by
// startEmulator(), configure(), the control endpoint and the CLI flags.
import { z } from 'zod';
import type { EmulatorOptions } from './types';

export interface Settings {
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  refreshTokenHardTtlSeconds: number;
  rotateAfterSeconds: number;
  rotateEveryRefreshes: number;
  oldRefreshTokenPolicy: 'immediate' | 'grace';
  gracePeriodSeconds: number;
  faultSpelling: 'lower' | 'capital';
  autoApprove: boolean;
  maxConcurrentPerRealm: number;
  maxRequestsPerMinutePerRealm: number;
  apiLatencyMs: number;
  companyName: string;
}

export const DEFAULT_SETTINGS: Settings = {
  accessTokenTtlSeconds: 3600,
  refreshTokenTtlSeconds: 8_726_400,
  refreshTokenHardTtlSeconds: 5 * 365 * 86_400 + 86_400, // five years, counting one leap day
  rotateAfterSeconds: 86_400,
  rotateEveryRefreshes: 0,
  oldRefreshTokenPolicy: 'immediate',
  gracePeriodSeconds: 86_400,
  faultSpelling: 'lower',
  autoApprove: false,
  maxConcurrentPerRealm: 10,
  maxRequestsPerMinutePerRealm: 500,
  apiLatencyMs: 0,
  companyName: 'Sandbox Company_US_1',
};

export const DEFAULT_REALM_ID = '9341453172571840';

const seconds = z.number().int().min(0);
const positive = z.number().int().min(1);

/** Every run-time option; unknown keys are rejected so a typo is not silently ignored. */
export const settingsPatchSchema = z
  .object({
    accessTokenTtlSeconds: positive,
    refreshTokenTtlSeconds: positive,
    refreshTokenHardTtlSeconds: positive,
    rotateAfterSeconds: seconds,
    rotateEveryRefreshes: seconds,
    oldRefreshTokenPolicy: z.enum(['immediate', 'grace']),
    gracePeriodSeconds: seconds,
    faultSpelling: z.enum(['lower', 'capital']),
    autoApprove: z.boolean(),
    maxConcurrentPerRealm: positive,
    maxRequestsPerMinutePerRealm: positive,
    apiLatencyMs: z.number().int().min(0).max(600_000),
    companyName: z.string().min(1).max(200),
  })
  .partial()
  .strict();

export type SettingsPatch = z.infer<typeof settingsPatchSchema>;

/** Validates a patch; throws an Error naming the bad field and what was expected. */
export function parseSettingsPatch(input: unknown): SettingsPatch {
  const result = settingsPatchSchema.safeParse(input);
  if (!result.success) throw new Error(`emulator options: ${describeZodError(result.error)}`);
  return result.data;
}

export function settingsFromOptions(options: EmulatorOptions): Settings {
  const { port: _port, demo: _demo, logger: _logger, ...rest } = options;
  const defined = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
  return { ...DEFAULT_SETTINGS, ...parseSettingsPatch(defined) };
}

export function describeZodError(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(body)'}: ${issue.message}`)
    .join('; ');
}
