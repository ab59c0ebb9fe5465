// Test helper: a real emulator, a FileConnectionStore in a temp dir, IntuitOAuth and a TokenManager
// wired together over loopback HTTP, with every status, log line and error collected for the
// leak scan. Several managers can share one harness's store directory (separate processes' view).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { startEmulator } from '../../emulator';
import type { EmulatorHandle, EmulatorOptions, IssuedTokens } from '../../emulator/types';
import type { ConnectionRecord } from '../connection-record';
import type { ConnectionStore } from '../connection-store';
import { FileConnectionStore } from '../file-connection-store';
import { IntuitOAuth, type TokenEndpoint } from '../intuit-oauth';
import { SecretRegistry } from '../log';
import { TokenManager, type RetryPolicy, type Timers, type TokenManagerConfig } from '../token-manager';
import type { EngineTelemetry } from '../telemetry';
import type { StoredTokens } from '../token-store';
import { LeakScan } from './leak-scan';
import { failingSaves } from './store-wrapper';

export const FAST_RETRY: RetryPolicy = { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20, cooldownMs: 50 };

export interface ManagerSetup {
  env?: Partial<Pick<TokenManagerConfig, 'refreshToken' | 'accessToken' | 'realmId' | 'refreshSkewSeconds'>>;
  now?: () => number;
  timers?: Timers;
  retry?: Partial<RetryPolicy>;
  refreshOnStart?: boolean;
  storeKey?: string | null;
  timeoutMs?: number;
  /** Wrap the store (e.g. to observe save order). */
  wrapStore?: (store: ConnectionStore) => ConnectionStore;
  /** Wrap the token endpoint (e.g. to look at the store the moment Intuit's answer is in). */
  wrapOAuth?: (oauth: TokenEndpoint) => TokenEndpoint;
  start?: boolean;
  clientName?: string;
  telemetry?: EngineTelemetry;
  lockWaitMs?: number;
  storeRetryMs?: number;
}

export class EngineHarness {
  readonly scan = new LeakScan();
  readonly logLines: string[] = [];
  readonly secrets = new SecretRegistry();
  private readonly managers: TokenManager[] = [];
  private readonly stores: ConnectionStore[] = [];

  private constructor(
    readonly emulator: EmulatorHandle,
    readonly dataDir: string,
  ) {
    this.scan.addEmulator(emulator);
    this.scan.addSecretSource(() => this.secrets.values());
  }

  static async start(options: EmulatorOptions = {}): Promise<EngineHarness> {
    const emulator = await startEmulator(options);
    const dataDir = await mkdtemp(join(tmpdir(), 'qbtd-core-test-'));
    return new EngineHarness(emulator, dataDir);
  }

  /** Refresh calls the emulator's token endpoint has answered (since its counters were last reset). */
  refreshCalls(): number {
    return this.emulator.control.counters().tokenCalls.refresh_token;
  }

  /** The default connection's record file. */
  get storePath(): string {
    return this.store().recordPath('default');
  }

  oauth(timeoutMs = 2000): IntuitOAuth {
    return new IntuitOAuth({
      clientId: this.emulator.clientId,
      clientSecret: this.emulator.clientSecret,
      tokenUrl: this.emulator.tokenUrl,
      revokeUrl: this.emulator.revokeUrl,
      authorizeUrl: this.emulator.authorizeUrl,
      timeoutMs,
    });
  }

  store(storeKey: string | null = null): FileConnectionStore {
    const store = new FileConnectionStore({
      dataDir: this.dataDir,
      storeKey,
      log: this.log,
      lockWaitMs: 20_000,
    });
    this.stores.push(store);
    return store;
  }

  /**
   * Lines are scanned before redaction: the redactor is only the second line of defence, so the
   * messages themselves must already be free of token values.
   */
  readonly log = (line: string): void => {
    this.logLines.push(line);
  };

  async manager(setup: ManagerSetup = {}): Promise<TokenManager> {
    const baseStore = this.store(setup.storeKey ?? null);
    const store = setup.wrapStore ? setup.wrapStore(baseStore) : baseStore;
    const manager = new TokenManager({
      config: {
        refreshToken:
          setup.env && 'refreshToken' in setup.env
            ? (setup.env.refreshToken ?? null)
            : this.emulator.refreshToken,
        accessToken: setup.env?.accessToken ?? null,
        realmId: setup.env?.realmId ?? this.emulator.realmId,
        environment: 'sandbox',
        refreshSkewSeconds: setup.env?.refreshSkewSeconds ?? 300,
        demo: false,
        canConnect: true,
      },
      store,
      oauth: setup.wrapOAuth ? setup.wrapOAuth(this.oauth(setup.timeoutMs)) : this.oauth(setup.timeoutMs),
      now: setup.now,
      timers: setup.timers,
      log: this.log,
      retry: { ...FAST_RETRY, ...setup.retry },
      random: () => 0.5,
      refreshOnStart: setup.refreshOnStart ?? false,
      secrets: this.secrets,
      clientName: setup.clientName,
      telemetry: setup.telemetry,
      lockWaitMs: setup.lockWaitMs,
      storeRetryMs: setup.storeRetryMs,
    });
    manager.onStatusChanged((status) => this.scan.collect('status event', status));
    this.managers.push(manager);
    if (setup.start ?? true) await manager.start();
    return manager;
  }

  /** The default connection's chain on disk (plaintext stores, unless the key is given). */
  /** A new authorization for the emulator's realm (what Connect receives), its tokens known to the leak scan. */
  freshAuthorization(): IssuedTokens {
    const fresh = this.emulator.control.issueAuthorization(this.emulator.realmId);
    this.scan.addSecrets(fresh.accessToken, fresh.refreshToken);
    return fresh;
  }

  /** A manager with its first access token in hand whose store then fails the next save, as a full disk does. */
  async managerFailingNextSave(setup: ManagerSetup = {}): Promise<TokenManager> {
    const failures = { remaining: 0 };
    const manager = await this.manager({ ...setup, wrapStore: (store) => failingSaves(store, failures) });
    await manager.getAccessToken();
    failures.remaining = 1;
    return manager;
  }

  async readStoredTokens(storeKey: string | null = null): Promise<StoredTokens | null> {
    return (await this.readRecord(storeKey))?.tokens ?? null;
  }

  /** The default connection's record on disk. */
  async readRecord(storeKey: string | null = null): Promise<ConnectionRecord | null> {
    const store = this.store(storeKey);
    const { record } = await store.load('default');
    return record;
  }

  async rawStoreFile(): Promise<string> {
    return readFile(this.storePath, 'utf8');
  }

  /** Collects every manager's final status and the log, then asserts nothing leaked. */
  assertNoLeaks(): void {
    for (const manager of this.managers) this.scan.collect('final status', manager.getStatus());
    for (const line of this.logLines) this.scan.collect('log line', line);
    this.scan.assertClean();
  }

  async close(): Promise<void> {
    for (const manager of this.managers) await manager.dispose();
    for (const store of this.stores) await store.close();
    await this.emulator.close();
    await rm(this.dataDir, { recursive: true, force: true });
  }
}

/**
 * One harness per test of the calling file: returns the function that starts it; after each test,
 * everything it produced is scanned for token values and it is closed.
 */
export function harnessPerTest(): (options?: EmulatorOptions) => Promise<EngineHarness> {
  let current: EngineHarness | null = null;
  afterEach(async () => {
    const harness = current;
    current = null;
    if (!harness) return;
    try {
      harness.assertNoLeaks();
    } finally {
      await harness.close();
    }
  });
  return async (options = {}) => {
    current = await EngineHarness.start(options);
    return current;
  };
}
