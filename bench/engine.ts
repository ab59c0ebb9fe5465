// This project's side of every scenario: the real engine (TokenManager + FileConnectionStore in a temp
// dir + IntuitOAuth) and the QuickBooksClient, wired to an emulator over loopback, with a clock the
// benchmark can move forward so "the moment the token expires" happens on cue.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConnectionStore } from '../src/core/connection-store';
import { FileConnectionStore } from '../src/core/file-connection-store';
import { IntuitOAuth } from '../src/core/intuit-oauth';
import { QuickBooksClient, type QuickBooksClientOptions } from '../src/core/quickbooks-client';
import { TokenManager } from '../src/core/token-manager';
import type { DemoCredentials, EmulatorHandle, EmulatorUrls } from '../src/emulator/types';

export interface BenchEngine {
  manager: TokenManager;
  client: QuickBooksClient;
  dataDir: string;
  /** Moves the engine's clock (and the emulator's) forward. */
  advance(seconds: number): void;
  close(): Promise<void>;
}

/** The engine as every scenario runs it: the emulator's demo chain, no refresh on start. */
export function benchManager(
  emulator: DemoCredentials & Pick<EmulatorUrls, 'tokenUrl' | 'revokeUrl' | 'authorizeUrl'>,
  store: ConnectionStore,
  now?: () => number,
): TokenManager {
  return new TokenManager({
    config: {
      refreshToken: emulator.refreshToken,
      accessToken: null,
      realmId: emulator.realmId,
      environment: 'sandbox',
      refreshSkewSeconds: 300,
      demo: false,
      canConnect: true,
    },
    store,
    oauth: new IntuitOAuth({
      clientId: emulator.clientId,
      clientSecret: emulator.clientSecret,
      tokenUrl: emulator.tokenUrl,
      revokeUrl: emulator.revokeUrl,
      authorizeUrl: emulator.authorizeUrl,
      timeoutMs: 15_000,
    }),
    ...(now ? { now } : {}),
    refreshOnStart: false,
  });
}

/** The client's pacing (Intuit's limits, its defaults) can be loosened to match an emulator's. */
export type BenchClientOptions = Pick<
  QuickBooksClientOptions,
  'maxRequestsPerSecond' | 'maxRequestsPerMinute'
>;

export async function startEngine(
  emulator: EmulatorHandle,
  clientOptions: BenchClientOptions = {},
): Promise<BenchEngine> {
  const dataDir = await mkdtemp(join(tmpdir(), 'qbtd-bench-'));
  let offsetMs = 0;
  const now = () => Date.now() + offsetMs;
  const store = new FileConnectionStore({ dataDir, storeKey: null });
  const manager = benchManager(emulator, store, now);
  await manager.start();
  const client = new QuickBooksClient({
    tokens: manager,
    apiBaseUrl: emulator.apiBaseUrl,
    realmId: emulator.realmId,
    ...clientOptions,
  });
  return {
    manager,
    client,
    dataDir,
    advance(seconds) {
      offsetMs += seconds * 1000;
      emulator.control.advanceClock(seconds);
    },
    async close() {
      await manager.dispose();
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
