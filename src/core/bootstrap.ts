// Starts the engine the way every adapter (Electron main, headless server, CLI) needs it:
// configuration, the store, and every connection's engine (ConnectionRegistry: a TokenManager and a
// QuickBooks client per connection, one OAuth client per environment). In demo mode (no QB_CLIENT_ID, or QB_DEMO=1) it first starts the Intuit emulator
// in-process with short lifetimes and points the configuration at it.
import { join } from 'node:path';
import type { EmulatorHandle, EmulatorOptions } from '../emulator/types';
import type { ConnectionId } from '../shared/contract';
import { configSecrets, defaultDataDir, describeConfig, loadConfig, type Config } from './config';
import type { OAuthConnectFlow } from './connect-flow';
import { ConnectionRegistry, type EngineKnobs } from './connection-registry';
import type { TokenDesk } from './desk';
import type { ConnectionStore } from './connection-store';
import { fileStoreFor } from './engine-parts';
import type { IntuitOAuth } from './intuit-oauth';
import { selectSharedStore } from './store-selection';
import { defaultLog, redactingLog, SecretRegistry, type LogFn } from './log';
import type { EngineTelemetry } from './telemetry';
import type { TokenManager } from './token-manager';

/** Demo lifetimes: a newcomer sees expiry, auto-refresh and rotation within minutes. */
const DEMO_EMULATOR_OPTIONS: EmulatorOptions = {
  accessTokenTtlSeconds: 120,
  // With the demo skew of 30 s a refresh happens every ~90 s: a new refresh token every third one.
  rotateAfterSeconds: 240,
  autoApprove: false,
};
const DEMO_SKEW_SECONDS = 30;

export interface StartDeskOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** The connection store; default a FileConnectionStore in QB_DATA_DIR (demo mode: its `demo` subfolder). */
  store?: (config: Config) => ConnectionStore;
  /**
   * Names this process in the connection's history and last refresh (`qb-token`, `qb-token serve`,
   * `desktop`, a library user's app name).
   */
  clientName?: string;
  /** Counters and durations for operators (default: none). */
  telemetry?: EngineTelemetry;
  demoEmulatorOptions?: EmulatorOptions;
  /**
   * False: without client keys the desk starts unconfigured (status `not_configured`) instead of
   * starting a demo emulator. The CLI: a throwaway emulator per process would be useless.
   */
  allowDemo?: boolean;
  /** Serve only these connections besides the default one (a CLI command for one connection). */
  connections?: { only?: readonly ConnectionId[] };
  log?: LogFn;
  /** Engine knobs for tests and benchmarks (clock, timers, back-off). */
  manager?: EngineKnobs;
}

export interface StartedDesk {
  /** The default connection's desk (the QB_* environment's). */
  desk: TokenDesk;
  /** The default connection's engine. */
  manager: TokenManager;
  /** Every connection (the default one and each added company), each with its own engine. */
  connections: ConnectionRegistry;
  config: Config;
  /** The default environment's token/revoke/authorize protocol; null without its client keys. */
  oauth: IntuitOAuth | null;
  emulator: EmulatorHandle | null;
  /** Where the connection's record lives (shared with other processes pointing at it). */
  store: ConnectionStore;
  /** Connect (authorization-code flow) and Disconnect (revoke, then forget) for every adapter. */
  connectFlow: OAuthConnectFlow;
  /** Every token value seen so far; the log redacts them. */
  secrets: SecretRegistry;
  log: LogFn;
  close(): Promise<void>;
}

export async function startDesk(options: StartDeskOptions = {}): Promise<StartedDesk> {
  const secrets = new SecretRegistry();
  const log = redactingLog(options.log ?? defaultLog, secrets);
  let config = loadConfig(options.env ?? process.env, options.cwd ?? process.cwd());
  secrets.pin(...configSecrets(config));

  let emulator: EmulatorHandle | null = null;
  if (config.demo && options.allowDemo === false) config = { ...config, demo: false };
  if (config.demo) {
    // Loaded only in demo mode: every CLI process would otherwise pay for the emulator's modules.
    const { startEmulator } = await import('../emulator');
    emulator = await startEmulator({ ...DEMO_EMULATOR_OPTIONS, ...options.demoEmulatorOptions });
    // The demo app is registered with whatever redirect URI the desk uses (the emulator knows only
    // the default /callback ones); a URI it cannot register, Connect will report.
    if (config.redirectUri) {
      try {
        emulator.control.registerRedirectUri(config.redirectUri);
      } catch (err) {
        log(`Demo mode: the emulator could not register QB_REDIRECT_URI (${(err as Error).message}).`);
      }
    }
    secrets.pin(emulator.clientSecret, emulator.refreshToken);
    config = {
      ...config,
      clientId: emulator.clientId,
      clientSecret: emulator.clientSecret,
      clientKeys: {
        ...config.clientKeys,
        [config.environment]: { clientId: emulator.clientId, clientSecret: emulator.clientSecret },
      },
      refreshToken: emulator.refreshToken,
      accessToken: null,
      realmId: emulator.realmId,
      tokenUrl: emulator.tokenUrl,
      revokeUrl: emulator.revokeUrl,
      authorizeUrl: emulator.authorizeUrl,
      apiBaseUrl: emulator.apiBaseUrl,
      refreshSkewSeconds: config.sources.QB_REFRESH_SKEW_SECONDS
        ? config.refreshSkewSeconds
        : DEMO_SKEW_SECONDS,
      // Demo tokens never share a store with a real connection.
      dataDir: join(config.dataDir ?? defaultDataDir(), 'demo'),
    };
    log(
      `Demo mode: Intuit emulator on ${emulator.url} (access tokens live ${DEMO_EMULATOR_OPTIONS.accessTokenTtlSeconds} s).`,
    );
  }
  log(`Configuration: ${JSON.stringify(describeConfig(config))}`);

  // QB_STORE_URL wins over an adapter's own store (the desktop app's), then the file store.
  const store =
    (await selectSharedStore(config, log)) ?? options.store?.(config) ?? fileStoreFor(config, log);
  // One TokenManager per connection (the QB_* environment's plus every added one), one store, one
  // OAuth client per environment.
  const connections = new ConnectionRegistry({
    config,
    store,
    log,
    secrets,
    clientName: options.clientName,
    telemetry: options.telemetry,
    manager: options.manager,
    only: options.connections?.only,
  });
  try {
    await connections.start();
  } catch (err) {
    await connections.dispose();
    await store.close();
    await emulator?.close();
    throw err;
  }
  const desk = connections.desk();
  const manager = connections.manager();
  const oauth = connections.oauthFor(config.environment);
  const connectFlow = connections.connectFlow;
  return {
    desk,
    manager,
    connections,
    config,
    oauth,
    emulator,
    store,
    connectFlow,
    secrets,
    log,
    async close() {
      await connections.dispose();
      await store.close();
      await emulator?.close();
    },
  };
}
