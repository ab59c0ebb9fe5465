// Scenario 5, footprint: the renderer bundle's gzipped size (built by electron-vite), and the
// engine's heap after 100 and after 10,000 refresh cycles, measured in a child process started
// with --expose-gc so each figure follows a full collection.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { startEmulator } from '../../src/emulator';
import { BENCH_ROOT, runHeapChild } from '../heap-child-runner';
import { round } from '../stats';
import { measureLibrarySize, type LibrarySizeResult } from './library-size';

const ASSETS = join(BENCH_ROOT, 'out', 'renderer', 'assets');

export interface FootprintResult {
  scenario: 'footprint';
  renderer: { files: number; rawBytes: number; gzipBytes: number; built: boolean };
  /** The `qb-token-desk` library entry, minified and gzipped (bench/scenarios/library-size.ts). */
  library: LibrarySizeResult;
  heap: {
    gcExposed: boolean;
    store: string;
    baselineBytes: number;
    after: Record<string, number>;
    growthRatio: number;
    refreshCycles: number;
    elapsedMs: number;
  };
}

function rendererSize(): FootprintResult['renderer'] {
  let built = false;
  if (!existsSync(ASSETS)) {
    const build = spawnSync('npx', ['electron-vite', 'build'], { cwd: BENCH_ROOT, stdio: 'inherit' });
    if (build.status !== 0)
      throw new Error('electron-vite build failed; the renderer size cannot be measured');
    built = true;
  }
  const files = readdirSync(ASSETS).filter((name) => name.endsWith('.js'));
  let rawBytes = 0;
  let gzipBytes = 0;
  for (const name of files) {
    const content = readFileSync(join(ASSETS, name));
    rawBytes += content.length;
    gzipBytes += gzipSync(content, { level: 9 }).length;
  }
  return { files: files.length, rawBytes, gzipBytes, built };
}

async function heapAfterRefreshes(checkpoints: number[]): Promise<FootprintResult['heap']> {
  const emulator = await startEmulator();
  try {
    const coordinates = {
      clientId: emulator.clientId,
      clientSecret: emulator.clientSecret,
      refreshToken: emulator.refreshToken,
      realmId: emulator.realmId,
      tokenUrl: emulator.tokenUrl,
      revokeUrl: emulator.revokeUrl,
      authorizeUrl: emulator.authorizeUrl,
    };
    const line = await runHeapChild('heap-child.ts', {
      QB_BENCH_EMULATOR: JSON.stringify(coordinates),
      QB_BENCH_CHECKPOINTS: checkpoints.join(','),
    });
    const parsed = JSON.parse(line) as {
      gcExposed: boolean;
      store: string;
      baseline: number;
      heap: Record<string, number>;
      elapsedMs: number;
    };
    const first = parsed.heap[String(checkpoints[0])] ?? Number.NaN;
    const last = parsed.heap[String(checkpoints[checkpoints.length - 1])] ?? Number.NaN;
    return {
      gcExposed: parsed.gcExposed,
      store: parsed.store,
      baselineBytes: parsed.baseline,
      after: parsed.heap,
      growthRatio: round(last / first, 3),
      refreshCycles: checkpoints[checkpoints.length - 1] ?? 0,
      elapsedMs: parsed.elapsedMs,
    };
  } finally {
    await emulator.close();
  }
}

export async function runFootprint(checkpoints = [100, 10_000]): Promise<FootprintResult> {
  return {
    scenario: 'footprint',
    renderer: rendererSize(),
    library: await measureLibrarySize(),
    heap: await heapAfterRefreshes(checkpoints),
  };
}
