// Run by the footprint scenario as `node --expose-gc --import tsx bench/heap-child.ts` with the
// emulator's coordinates in QB_BENCH_EMULATOR (JSON). Drives a TokenManager (FileTokenStore in a
// temp dir) through refresh cycles and prints one JSON line with the heap after each checkpoint,
// measured after a full GC. The emulator lives in the parent, so only the engine's heap is counted.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileTokenStore } from '../src/core/file-token-store';
import type { StoredTokens, TokenStore } from '../src/core/token-store';
import { benchManager } from './engine';

interface Coordinates {
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  realmId: string;
  tokenUrl: string;
  revokeUrl: string;
  authorizeUrl: string;
}

/**
 * The engine's own heap is what this measures, so the store keeps the record in memory: the file
 * store's fsync per refresh would make 10,000 cycles take minutes without changing the heap.
 * QB_BENCH_STORE=file uses the FileTokenStore instead.
 */
class MemoryStore implements TokenStore {
  readonly warnings: readonly string[] = [];
  private record: StoredTokens | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  async load() {
    return { tokens: this.record ? structuredClone(this.record) : null, warnings: [] };
  }
  async save(tokens: StoredTokens) {
    this.record = structuredClone(tokens);
  }
  async forget() {
    this.record = null;
  }
  withRefreshLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }
}

const gc = (globalThis as { gc?: () => void }).gc;

function heapUsed(): number {
  if (gc) {
    gc();
    gc();
  }
  return process.memoryUsage().heapUsed;
}

async function main(): Promise<void> {
  const emulator = JSON.parse(process.env.QB_BENCH_EMULATOR ?? '{}') as Coordinates;
  const checkpoints = (process.env.QB_BENCH_CHECKPOINTS ?? '100,10000').split(',').map(Number);
  const dataDir = await mkdtemp(join(tmpdir(), 'qbtd-bench-heap-'));
  const manager = benchManager(
    emulator,
    process.env.QB_BENCH_STORE === 'file'
      ? new FileTokenStore({ dataDir, storeKey: null })
      : new MemoryStore(),
  );
  await manager.start();
  const baseline = heapUsed();
  const heap: Record<string, number> = {};
  const started = Date.now();
  let done = 0;
  for (const checkpoint of checkpoints) {
    for (; done < checkpoint; done += 1) await manager.refresh('manual');
    heap[String(checkpoint)] = heapUsed();
  }
  const elapsedMs = Date.now() - started;
  await manager.dispose();
  await rm(dataDir, { recursive: true, force: true });
  const store = process.env.QB_BENCH_STORE === 'file' ? 'file' : 'memory';
  process.stdout.write(`${JSON.stringify({ gcExposed: Boolean(gc), store, baseline, heap, elapsedMs })}\n`);
}

await main();
