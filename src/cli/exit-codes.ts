// The CLI's exit codes are its contract with scripts: a cron job or CI step can tell "fix the
// configuration" from "reconnect to QuickBooks" from "try again later" without parsing text.
import {
  ApiError,
  ConfigError,
  ConnectError,
  NotConfiguredError,
  ReauthorizationRequiredError,
  StoreConfigError,
  StoreKeyError,
  StoreLockTimeoutError,
  StoreUnavailableError,
  TokenError,
} from '../core/errors';

export const EXIT = {
  ok: 0,
  /** Usage errors, and failures that fit no other class. */
  failure: 1,
  configuration: 2,
  reauthorizationRequired: 3,
  transient: 4,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof ConfigError || error instanceof NotConfiguredError) return EXIT.configuration;
  // A wrong QB_STORE_KEY or an unusable QB_DATA_DIR/QB_STORE_URL: fix the configuration.
  if (error instanceof StoreKeyError || error instanceof StoreConfigError) return EXIT.configuration;
  // The store is down, busy or full: the same command may work later.
  if (error instanceof StoreUnavailableError || error instanceof StoreLockTimeoutError) return EXIT.transient;
  if (error instanceof ReauthorizationRequiredError) return EXIT.reauthorizationRequired;
  // Intuit could not revoke (`connections remove`): try again later, or --force.
  if (error instanceof ConnectError && error.code === 'revoke_failed') return EXIT.transient;
  if (error instanceof TokenError) {
    if (error.kind === 'invalid_grant') return EXIT.reauthorizationRequired;
    if (error.kind === 'invalid_client') return EXIT.configuration;
    return EXIT.transient;
  }
  if (error instanceof ApiError) {
    // A 401 that survived a fresh token means the authorization itself is gone.
    if (error.code === 'unauthorized') return EXIT.reauthorizationRequired;
    if (['network', 'timeout', 'rate_limited', 'bad_response'].includes(error.code)) return EXIT.transient;
    if (error.code === 'api_error' && error.status >= 500) return EXIT.transient;
    return EXIT.failure;
  }
  return EXIT.failure;
}
