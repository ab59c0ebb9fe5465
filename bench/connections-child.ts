// Run by the connections scenario as `node --expose-gc --import tsx bench/connections-child.ts` with
// the emulator's coordinates in QB_BENCH_EMULATOR (JSON) and its control URL in QB_BENCH_CONTROL.
// Starts the desk as the server does (startDesk: the registry, the file store in a temp dir), then
// adds connections in steps (each with its own authorization at the emulator, stored and refreshed
// once) and prints one JSON line: the heap after a full GC at each step. The emulator lives in the
// parent, so only the desk's heap is counted.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDesk } from '../src/core/bootstrap';
import { emulatorEnv } from '../src/emulator/app-env';
import type { DemoCredentials, EmulatorUrls } from '../src/emulator/types';
import { gcExposed, heapUsed } from './heap-reading';

async function issue(controlUrl: string, realmId: string): Promise<string> {
  const answer = await fetch(`${controlUrl}/authorizations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ realmId }),
  });
  return ((await answer.json()) as { refreshToken: string }).refreshToken;
}

async function main(): Promise<void> {
  const emulator = JSON.parse(process.env.QB_BENCH_EMULATOR ?? '{}') as EmulatorUrls & DemoCredentials;
  const control = process.env.QB_BENCH_CONTROL ?? '';
  const steps = (process.env.QB_BENCH_STEPS ?? '100').split(',').map(Number);
  const dataDir = await mkdtemp(join(tmpdir(), 'qbtd-bench-connections-'));
  const started = await startDesk({
    env: emulatorEnv(emulator, dataDir),
    cwd: dataDir,
    log: () => undefined,
  });
  await started.manager.whenIdle();
  const baseline = heapUsed();
  const heap: Record<string, number> = {};
  const addMs: Record<string, number> = {};
  let count = 0;
  for (const step of steps) {
    const began = Date.now();
    for (; count < step; count += 1) {
      const realmId = String(8_000_000 + count);
      await started.connections.add({
        name: `Company ${count}`,
        realmId,
        environment: 'sandbox',
        refreshToken: await issue(control, realmId),
      });
    }
    // Each one's first access token, all at once, as a server start does.
    await Promise.all(started.connections.ids().map((id) => started.connections.desk(id).getAccessToken()));
    addMs[String(step)] = Date.now() - began;
    heap[String(step)] = heapUsed();
  }
  const failing = started.connections.list().filter((c) => c.state !== 'valid').length;
  await started.close();
  await rm(dataDir, { recursive: true, force: true });
  process.stdout.write(`${JSON.stringify({ gcExposed, baseline, heap, addMs, failing })}\n`);
}

await main();
