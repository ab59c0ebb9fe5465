import type { DemoCredentials, EmulatorUrls } from './types';

/** The QB_* variables that point QB Token Desk (app, server, CLI) at an emulator instance. */
export function emulatorEnv(
  emulator: EmulatorUrls & DemoCredentials,
  dataDir?: string,
): Record<string, string> {
  return {
    ...emulatorAppEnv(emulator, dataDir),
    QB_REFRESH_TOKEN: emulator.refreshToken,
    QB_REALM_ID: emulator.realmId,
  };
}

/**
 * Only the app's keys and the emulator's endpoints (no QB_REFRESH_TOKEN, no QB_REALM_ID): a desk
 * with no connection yet, which connects through the emulator's consent page.
 */
export function emulatorAppEnv(
  emulator: EmulatorUrls & Pick<DemoCredentials, 'clientId' | 'clientSecret'>,
  dataDir?: string,
): Record<string, string> {
  const env: Record<string, string> = {
    QB_CLIENT_ID: emulator.clientId,
    QB_CLIENT_SECRET: emulator.clientSecret,
    QB_TOKEN_URL: emulator.tokenUrl,
    QB_REVOKE_URL: emulator.revokeUrl,
    QB_AUTHORIZE_URL: emulator.authorizeUrl,
    QB_API_BASE_URL: emulator.apiBaseUrl,
  };
  if (dataDir !== undefined) env.QB_DATA_DIR = dataDir;
  return env;
}
