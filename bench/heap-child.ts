// Run by the footprint scenario as `node --expose-gc --import tsx bench/heap-child.ts` with the
// emulator's coordinates in QB_BENCH_EMULATOR (JSON). Drives a TokenManager (FileConnectionStore in a
// temp dir) through refresh cycles and prints one JSON line with the heap after each checkpoint,
// measured after a full GC. The emulator lives in the parent, so only the engine's heap is counted.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConnectionRecord } from '../src/core/connection-record';
import type { ConnectionStore, ConnectionStoreDescription } from '../src/core/connection-store';
import { FileConnectionStore } from '../src/core/file-connection-store';
import { benchManager } from './engine';
import { gcExposed, heapUsed } from './heap-reading';

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
 * QB_BENCH_STORE=file uses the FileConnectionStore instead.
 */
class MemoryStore implements ConnectionStore {
  readonly warnings: readonly string[] = [];
  readonly description: ConnectionStoreDescription = { kind: 'file', location: 'memory', encrypted: false };
  private readonly records = new Map<string, ConnectionRecord>();
  private tail: Promise<unknown> = Promise.resolve();
  async open() {}
  async list() {
    return [...this.records.keys()];
  }
  async load(id: string) {
    const record = this.records.get(id);
    return { record: record ? structuredClone(record) : null, warnings: [] };
  }
  async save(record: ConnectionRecord) {
    this.records.set(record.id, structuredClone(record));
  }
  async remove(id: string) {
    this.records.delete(id);
  }
  withLock<T>(_id: string, fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }
  watch() {
    return () => undefined;
  }
  async close() {}
}

async function main(): Promise<void> {
  const emulator = JSON.parse(process.env.QB_BENCH_EMULATOR ?? '{}') as Coordinates;
  const checkpoints = (process.env.QB_BENCH_CHECKPOINTS ?? '100,10000').split(',').map(Number);
  const dataDir = await mkdtemp(join(tmpdir(), 'qbtd-bench-heap-'));
  const store: ConnectionStore =
    process.env.QB_BENCH_STORE === 'file'
      ? new FileConnectionStore({ dataDir, storeKey: null })
      : new MemoryStore();
  const manager = benchManager(emulator, store);
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
  await store.close();
  await rm(dataDir, { recursive: true, force: true });
  const kind = process.env.QB_BENCH_STORE === 'file' ? 'file' : 'memory';
  process.stdout.write(`${JSON.stringify({ gcExposed, store: kind, baseline, heap, elapsedMs })}\n`);
}

await main();
