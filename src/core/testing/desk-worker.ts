// A separate process for the multi-process tests and benchmarks: starts the desk the way every
// adapter does (startDesk: QB_* from its environment, so QB_STORE_URL picks the PostgreSQL store),
// prints {"ready":true}, waits for a line on stdin, then has QBTD_CALLERS callers ask for an access
// token at once, with its clock moved by QBTD_CLOCK_OFFSET_MS. It prints one JSON line: each caller's
// wait from the go line, the fingerprints of the tokens it got (never a value), the refresh count its
// status shows (shared by every process using the store), and its final status. With QBTD_MODE=loop it instead refreshes back to back until it
// is killed (the kill -9 suite). Bundled with esbuild by desk-workers.ts so each starts fast.
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { startDesk } from '../bootstrap';
import { fingerprintToken } from '../token-store';
import type { TokenStatus } from '../../shared/contract';

export interface DeskWorkerReport {
  waitsMs: number[];
  fingerprints: string[];
  failures: string[];
  /** status.stats.refreshes: the connection's count, the same in every process sharing the store. */
  refreshes: number;
  status: TokenStatus;
}

const offset = Number(process.env.QBTD_CLOCK_OFFSET_MS ?? '0');
const callers = Number(process.env.QBTD_CALLERS ?? '1');

async function main(): Promise<void> {
  const started = await startDesk({
    env: process.env,
    log: (line) => process.stderr.write(`${line}\n`),
    manager: { refreshOnStart: false, now: () => Date.now() + offset },
  });
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
  const lines = createInterface({ input: process.stdin });
  await new Promise<void>((resolve) => lines.once('line', () => resolve()));
  lines.close();
  if (process.env.QBTD_MODE === 'loop') {
    for (;;) await started.desk.refresh('manual').catch(() => undefined);
  }
  const go = performance.now();
  const failures: string[] = [];
  const fingerprints = new Set<string>();
  const waitsMs = await Promise.all(
    Array.from({ length: callers }, async () => {
      try {
        fingerprints.add(fingerprintToken(await started.desk.getAccessToken()));
      } catch (err) {
        failures.push(`${(err as Error).name}: ${(err as Error).message}`);
      }
      return performance.now() - go;
    }),
  );
  const status = started.desk.getStatus();
  await started.close();
  const report: DeskWorkerReport = {
    waitsMs,
    fingerprints: [...fingerprints],
    failures,
    refreshes: status.stats.refreshes,
    status,
  };
  await new Promise<void>((resolve) => process.stdout.write(`${JSON.stringify(report)}\n`, () => resolve()));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`desk worker failed: ${(err as Error).name}: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
