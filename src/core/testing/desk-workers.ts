// Runs several desk-worker processes over one store and releases them at the same instant: each
// starts the desk (startDesk), says it is ready, and on the go line has its callers ask for a token.
// Shared by the multi-process tests and the benchmarks. The worker is bundled once per test process
// with esbuild (tsx's own dependency): a TypeScript loader in each of 16 processes would take seconds.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { build } from 'esbuild';
import type { DeskWorkerReport } from './desk-worker';

let bundled: Promise<{ file: string; dir: string }> | null = null;

async function workerBundle(): Promise<string> {
  bundled ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'qbtd-desk-worker-'));
    const file = join(dir, 'desk-worker.cjs');
    await build({
      entryPoints: [join(import.meta.dirname, 'desk-worker.ts')],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      outfile: file,
      logLevel: 'warning',
      // pg's optional native binding is not installed: leave its require to fail at run time, unused.
      external: ['pg-native'],
    });
    process.once('exit', () => void rm(dir, { recursive: true, force: true }));
    return { file, dir };
  })();
  return (await bundled).file;
}

/** The worker script, bundled (node runs it as is). */
export function deskWorkerScript(): Promise<string> {
  return workerBundle();
}

export interface WorkerRun {
  reports: DeskWorkerReport[];
  /** stderr of each process (log lines pass the engine's redactor). */
  stderr: string[];
}

/**
 * Starts `processes` workers with `env`, waits until every one is ready, sends the go line to all,
 * and collects their reports. Rejects (naming the worker's last log lines) if one fails.
 */
export async function runDeskWorkers(
  processes: number,
  env: NodeJS.ProcessEnv,
  options: { callers: number; clockOffsetMs?: number; timeoutMs?: number },
): Promise<WorkerRun> {
  const file = await workerBundle();
  const children = Array.from({ length: processes }, () =>
    spawn(process.execPath, [file], {
      env: {
        ...env,
        QBTD_CALLERS: String(options.callers),
        QBTD_CLOCK_OFFSET_MS: String(options.clockOffsetMs ?? 0),
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  );
  const stderr = children.map(() => '');
  children.forEach((child, i) =>
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr[i] += chunk)),
  );
  const timer = setTimeout(
    () => children.forEach((child) => child.kill('SIGKILL')),
    options.timeoutMs ?? 120_000,
  );
  try {
    const lines = children.map((child) => createInterface({ input: child.stdout })[Symbol.asyncIterator]());
    const next = async (i: number): Promise<unknown> => {
      const line = await lines[i]?.next();
      if (!line || line.done) {
        throw new Error(`desk worker ${i} ended early:\n${stderr[i]?.split('\n').slice(-8).join('\n')}`);
      }
      return JSON.parse(line.value) as unknown;
    };
    await Promise.all(children.map((_, i) => next(i)));
    for (const child of children) child.stdin.write('go\n');
    const reports = (await Promise.all(children.map((_, i) => next(i)))) as DeskWorkerReport[];
    return { reports, stderr };
  } finally {
    clearTimeout(timer);
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  }
}
