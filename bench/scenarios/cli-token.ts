// Scenario 6, the CLI as a credential helper: `curl -H "Authorization: Bearer $(qb-token token)"`
// runs one process per request, so its start-up is the cost. With a valid access token in the store:
// the wall time of one `qb-token token` (bin/qb-token.js, running the build in dist/cli), of 20 at
// once, of the same CLI run from its TypeScript sources through tsx (as every run did before the
// build), and of a bare `node -e 0` for scale. No process may call the token endpoint.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pickCliEntry } from '../../bin/cli-entry.js';
import { emulatorEnv } from '../../src/emulator/app-env';
import { startEmulator } from '../../src/emulator';
import { BENCH_ROOT, TSX_LOADER } from '../heap-child-runner';
import { msSince, percentile, round } from '../stats';

const ROOT = BENCH_ROOT;
const BIN = join(ROOT, 'bin', 'qb-token.js');
const SOURCES = join(ROOT, 'src', 'cli', 'main.ts');

export interface CliTokenResult {
  scenario: 'cli-token';
  /** True when this run had to build dist/cli first (`npx tsdown`). */
  built: boolean;
  runs: number;
  /** One process at a time, the built CLI: wall ms from spawn to exit, and its own CPU ms. */
  single: { medianMs: number; p90Ms: number; minMs: number; cpuMedianMs: number };
  /** The same command from the TypeScript sources through tsx. */
  fromSources: { medianMs: number; minMs: number; cpuMedianMs: number; runs: number };
  /** `node -e 0`: the floor any Node CLI starts from on this machine. */
  bareNode: { medianMs: number; cpuMedianMs: number };
  concurrent: {
    processes: number;
    wallMs: number;
    medianMs: number;
    maxMs: number;
    printedSameToken: boolean;
  };
  /** Token-endpoint calls made by all the measured runs (a valid stored token needs none). */
  tokenCalls: number;
}

interface Run {
  code: number | null;
  stdout: string;
  ms: number;
  /** The process's own CPU time (user + system), ms: what the load of a shared machine does not inflate. */
  cpuMs: number;
}

// Preloaded into every measured process: at exit it writes its CPU time to file descriptor 3.
const CPU_REPORTER = `data:text/javascript,${encodeURIComponent(
  "import { writeSync } from 'node:fs'; process.on('exit', () => { const u = process.cpuUsage(); writeSync(3, String((u.user + u.system) / 1000)); });",
)}`;

function run(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<Run> {
  const start = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', CPU_REPORTER, ...args], {
      env,
      cwd,
      stdio: ['ignore', 'pipe', 'ignore', 'pipe'],
    });
    let stdout = '';
    let cpu = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stdio[3]?.on('data', (chunk: Buffer) => (cpu += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, ms: msSince(start), cpuMs: Number(cpu) }));
  });
}

async function sequential(
  count: number,
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
): Promise<Run[]> {
  const runs: Run[] = [];
  for (let i = 0; i < count; i++) runs.push(await run(args, env, cwd));
  const failed = runs.find((r) => r.code !== 0);
  if (failed) throw new Error(`node ${args.join(' ')} exited ${String(failed.code)}`);
  return runs;
}

/** The built CLI must be at least as new as its sources, or bin/qb-token.js would run the sources. */
function ensureBuilt(): boolean {
  if (pickCliEntry().kind === 'built') return false;
  const build = spawnSync('npx', ['tsdown'], { cwd: ROOT, stdio: 'inherit' });
  if (build.status !== 0 || pickCliEntry().kind !== 'built') {
    throw new Error('`npx tsdown` did not leave a current dist/cli; the built CLI cannot be measured');
  }
  return true;
}

export async function runCliToken(runs = 15, processes = 20): Promise<CliTokenResult> {
  const built = ensureBuilt();
  const emulator = await startEmulator();
  const dataDir = await mkdtemp(join(tmpdir(), 'qbtd-bench-cli-'));
  try {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: dataDir,
      ...emulatorEnv(emulator, dataDir),
    };
    // The first run refreshes and stores a one-hour access token; a second warms the file cache.
    await sequential(2, [BIN, 'token'], env, dataDir);
    emulator.control.resetCounters();

    const single = await sequential(runs, [BIN, 'token'], env, dataDir);
    const fromSources = await sequential(
      Math.ceil(runs / 3),
      ['--import', TSX_LOADER, SOURCES, 'token'],
      env,
      dataDir,
    );
    const bare = await sequential(runs, ['-e', '0'], env, dataDir);
    const median = (list: Run[], key: 'ms' | 'cpuMs') =>
      round(
        percentile(
          list.map((r) => r[key]),
          50,
        ),
        0,
      );

    const start = process.hrtime.bigint();
    const together = await Promise.all(
      Array.from({ length: processes }, () => run([BIN, 'token'], env, dataDir)),
    );
    const wallMs = msSince(start);
    const printed = new Set(together.map((r) => (r.code === 0 ? r.stdout.trim() : `exit ${String(r.code)}`)));
    const each = together.map((r) => r.ms);
    return {
      scenario: 'cli-token',
      built,
      runs,
      single: {
        medianMs: median(single, 'ms'),
        p90Ms: round(
          percentile(
            single.map((r) => r.ms),
            90,
          ),
          0,
        ),
        minMs: round(Math.min(...single.map((r) => r.ms)), 0),
        cpuMedianMs: median(single, 'cpuMs'),
      },
      fromSources: {
        medianMs: median(fromSources, 'ms'),
        minMs: round(Math.min(...fromSources.map((r) => r.ms)), 0),
        cpuMedianMs: median(fromSources, 'cpuMs'),
        runs: fromSources.length,
      },
      bareNode: { medianMs: median(bare, 'ms'), cpuMedianMs: median(bare, 'cpuMs') },
      concurrent: {
        processes,
        wallMs: round(wallMs, 0),
        medianMs: round(percentile(each, 50), 0),
        maxMs: round(Math.max(...each), 0),
        printedSameToken: printed.size === 1 && together.every((r) => r.code === 0),
      },
      tokenCalls: emulator.control.counters().tokenCalls.refresh_token,
    };
  } finally {
    await emulator.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}
