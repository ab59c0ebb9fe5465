// The Next.js example (examples/nextjs) as a test subject: installed from its own package.json
// (Next.js stays out of the main install; the library comes in as a packed copy of this repository's
// build), built with `next build`, and served by `next start` on a free loopback port.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { cleanEnv, REPO_ROOT } from '../../src/server/process-support';

export const EXAMPLE_DIR = join(REPO_ROOT, 'examples', 'nextjs');
const NEXT_BIN = join(EXAMPLE_DIR, 'node_modules', 'next', 'dist', 'bin', 'next');
const START_TIMEOUT_MS = 60_000;

interface Finished {
  code: number | null;
  output: string;
  ms: number;
}

/** Runs a command to its end; rejects with its output when it fails. */
function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Finished> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: EXAMPLE_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      const done = { code, output, ms: Date.now() - started };
      if (code === 0) resolve(done);
      else reject(new Error(`${command} ${args.join(' ')} exited ${code}:\n${output.slice(-4000)}`));
    });
  });
}

const nextEnv = (extra: Record<string, string> = {}) => cleanEnv({ NEXT_TELEMETRY_DISABLED: '1', ...extra });

/**
 * `npm install` (the library as a packed copy of dist/lib, so a rebuilt library is picked up) and
 * `next build`. Needs the library built: `npm run build` (npm test builds before Playwright).
 */
export async function buildExample(): Promise<{ installMs: number; buildMs: number }> {
  if (!existsSync(join(REPO_ROOT, 'dist', 'lib', 'index.js'))) {
    throw new Error(
      'dist/lib is missing: run `npm run build` first (the example installs the built library).',
    );
  }
  // npm keeps an installed file: dependency whose version did not change: drop it, so the copy is
  // packed from this build, then check that it is.
  await rm(join(EXAMPLE_DIR, 'node_modules', 'qb-token-desk'), { recursive: true, force: true });
  const install = await run('npm', ['install', '--no-audit', '--no-fund'], nextEnv());
  const installed = join(EXAMPLE_DIR, 'node_modules', 'qb-token-desk', 'dist', 'lib', 'index.js');
  if (!(await readFile(installed)).equals(await readFile(join(REPO_ROOT, 'dist', 'lib', 'index.js')))) {
    throw new Error(`${installed} is not this build's dist/lib/index.js`);
  }
  const build = await run(process.execPath, [NEXT_BIN, 'build'], nextEnv());
  return { installMs: install.ms, buildMs: build.ms };
}

export interface RunningExample {
  /** http://127.0.0.1:PORT */
  url: string;
  output(): string;
  stop(): Promise<void>;
}

/** `next start` on a free port with `env` (the QB_* settings); resolves once it serves. */
export async function startExample(env: Record<string, string>): Promise<RunningExample> {
  const child: ChildProcess = spawn(
    process.execPath,
    [NEXT_BIN, 'start', '--port', '0', '--hostname', '127.0.0.1'],
    { cwd: EXAMPLE_DIR, env: nextEnv(env), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(kill);
    }
  };
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => fail(`printed no URL within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    const fail = (why: string) => {
      clearTimeout(timer);
      void stop();
      reject(new Error(`next start ${why}:\n${output.slice(-4000)}`));
    };
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const found = /Local:\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (found?.[1] && /Ready in/.test(output)) {
        clearTimeout(timer);
        resolve(found[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    void exited.then(() => fail(`exited (${child.exitCode ?? child.signalCode})`));
  });
  return { url, output: () => output, stop };
}
