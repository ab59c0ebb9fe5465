// Scenario 6, one connection shared by many processes (issue 11): N desk processes (startDesk, the
// adapters' composition) wake up past expiry together, each with C callers asking for a token, over
// one PostgreSQL database (QB_STORE_URL) and, for comparison, over one file store on this machine.
// Figures: token-endpoint calls (goal: 1) and each caller's wait from the common go (p50 / p99). Plus the cost of one record read (what a status re-read costs) and, for
// PostgreSQL, how long a write takes to reach another instance (LISTEN/NOTIFY).
// PostgreSQL is a real server this scenario starts itself (src/core/testing/postgres-server.ts).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startDesk } from '../../src/core/bootstrap';
import { emptyHealth, type ConnectionRecord } from '../../src/core/connection-record';
import { FileConnectionStore } from '../../src/core/file-connection-store';
import { PgConnectionStore } from '../../src/core/pg/pg-connection-store';
import { runDeskWorkers } from '../../src/core/testing/desk-workers';
import { PostgresServer } from '../../src/core/testing/postgres-server';
import { startEmulator } from '../../src/emulator';
import { emulatorEnv } from '../../src/emulator/app-env';
import type { StoredTokens } from '../../src/core/token-store';
import { mean, percentile, round } from '../stats';

export type SharedStoreKind = 'postgres' | 'file';

export interface SharedStoreResult {
  scenario: 'shared-store';
  store: SharedStoreKind;
  /** What the processes' status said the store was (proves which one ran). */
  storeSeen: string[];
  processes: number;
  callersPerProcess: number;
  tokenCalls: number;
  failedCallers: number;
  distinctTokens: number;
  waitP50Ms: number;
  waitP99Ms: number;
  wallMs: number;
}

export interface StoreReadResult {
  scenario: 'store-read';
  store: SharedStoreKind;
  reads: number;
  meanUs: number;
  p99Us: number;
}

export interface NotifyResult {
  scenario: 'store-notify';
  writes: number;
  p50Ms: number;
  p99Ms: number;
}

const KEY = 'bench store key, 16+ characters';

async function stampede(
  kind: SharedStoreKind,
  processes: number,
  callers: number,
  server: PostgresServer,
): Promise<SharedStoreResult> {
  const emulator = await startEmulator({ rotateAfterSeconds: 0 });
  const dataDir = await mkdtemp(join(tmpdir(), 'qbtd-bench-shared-'));
  try {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      ...emulatorEnv(emulator, dataDir),
      QB_STORE_KEY: KEY,
      ...(kind === 'postgres' ? { QB_STORE_URL: await server.createDatabase('qbtd_bench') } : {}),
    };
    // A previous run left a chain whose access token expires now.
    const seed = await startDesk({ env, log: () => undefined, manager: { refreshOnStart: false } });
    await seed.desk.getAccessToken();
    await seed.close();
    emulator.control.advanceClock(3601);
    emulator.control.resetCounters();
    const started = performance.now();
    const run = await runDeskWorkers(processes, env, { callers, clockOffsetMs: 3601_000 });
    const wallMs = performance.now() - started;
    const waits = run.reports.flatMap((report) => report.waitsMs);
    return {
      scenario: 'shared-store',
      store: kind,
      storeSeen: [...new Set(run.reports.map((report) => report.status.store?.kind ?? 'none'))],
      processes,
      callersPerProcess: callers,
      tokenCalls: emulator.control.counters().tokenCalls.refresh_token,
      failedCallers: run.reports.reduce((sum, report) => sum + report.failures.length, 0),
      distinctTokens: new Set(run.reports.flatMap((report) => report.fingerprints)).size,
      waitP50Ms: round(percentile(waits, 50)),
      waitP99Ms: round(percentile(waits, 99)),
      wallMs: round(wallMs, 0),
    };
  } finally {
    await emulator.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function timeReads(
  reads: number,
  read: () => Promise<unknown>,
): Promise<{ meanUs: number; p99Us: number }> {
  for (let i = 0; i < 20; i += 1) await read(); // warm-up: connections, key derivation, JIT
  const samples: number[] = [];
  for (let i = 0; i < reads; i += 1) {
    const start = performance.now();
    await read();
    samples.push((performance.now() - start) * 1000);
  }
  return { meanUs: round(mean(samples), 0), p99Us: round(percentile(samples, 99), 0) };
}

/** One record read from each store, the way a status re-read does it (decrypting the chain). */
async function storeReads(server: PostgresServer, reads: number): Promise<StoreReadResult[]> {
  const dataDir = await mkdtemp(join(tmpdir(), 'qbtd-bench-read-'));
  const pgStore = new PgConnectionStore({ url: await server.createDatabase('qbtd_bench'), storeKey: KEY });
  const fileStore = new FileConnectionStore({ dataDir, storeKey: KEY, environment: 'sandbox' });
  try {
    const record = benchRecord(1, benchTokens());
    for (const store of [pgStore, fileStore]) {
      await store.open();
      await store.withLock('default', () => store.save(record));
    }
    return [
      {
        scenario: 'store-read',
        store: 'postgres',
        reads,
        ...(await timeReads(reads, () => pgStore.load('default'))),
      },
      {
        scenario: 'store-read',
        store: 'file',
        reads,
        ...(await timeReads(reads, () => fileStore.load('default'))),
      },
    ];
  } finally {
    await pgStore.close();
    await fileStore.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

function benchTokens(): StoredTokens {
  const now = Date.now();
  return {
    version: 1,
    refreshToken: `RT-bench-${now}`,
    refreshTokenIssuedAt: now,
    lastRotatedAt: null,
    refreshTokenExpiresAt: now + 100 * 86_400_000,
    refreshTokenHardExpiresAt: null,
    accessToken: `AT-bench-${now}`,
    accessTokenExpiresAt: now + 3_600_000,
    refreshedAt: now,
    realmId: '1234',
    origin: { envRefreshTokenSha256: null },
  };
}

function benchRecord(revision: number, tokens: StoredTokens | null): ConnectionRecord {
  return {
    version: 2,
    id: 'default',
    revision,
    profile: { name: 'bench', environment: 'sandbox', realmId: '1234', companyName: null },
    tokens,
    health: { ...emptyHealth(), stats: { ...emptyHealth().stats, refreshes: revision } },
  };
}

/** A write on one instance, seen by another instance's watch (separate pools and LISTEN connections). */
async function notifyLatency(server: PostgresServer, writes: number): Promise<NotifyResult> {
  const url = await server.createDatabase('qbtd_bench');
  const writer = new PgConnectionStore({ url, storeKey: KEY });
  const reader = new PgConnectionStore({ url, storeKey: KEY });
  try {
    await writer.open();
    let expected: { revision: number; at: number; done: () => void } | null = null;
    const latencies: number[] = [];
    reader.watch((change) => {
      if (expected && change.revision === expected.revision) {
        latencies.push(performance.now() - expected.at);
        expected.done();
      }
    });
    while (!reader.listening) await new Promise((resolve) => setTimeout(resolve, 5));
    for (let revision = 1; revision <= writes; revision += 1) {
      const arrived = new Promise<void>((done) => (expected = { revision, at: performance.now(), done }));
      await writer.save(benchRecord(revision, null));
      await arrived;
    }
    return {
      scenario: 'store-notify',
      writes,
      p50Ms: round(percentile(latencies, 50)),
      p99Ms: round(percentile(latencies, 99)),
    };
  } finally {
    await writer.close();
    await reader.close();
  }
}

export async function runSharedStore(
  quick: boolean,
): Promise<Array<SharedStoreResult | StoreReadResult | NotifyResult>> {
  const server = await PostgresServer.start();
  try {
    const results: Array<SharedStoreResult | StoreReadResult | NotifyResult> = [];
    const callers = quick ? 50 : 250;
    for (const processes of quick ? [4] : [4, 16]) {
      for (const kind of ['postgres', 'file'] as const) {
        results.push(await stampede(kind, processes, callers, server));
      }
    }
    results.push(...(await storeReads(server, quick ? 200 : 2000)));
    results.push(await notifyLatency(server, quick ? 50 : 500));
    return results;
  } finally {
    await server.close();
  }
}
