// The memory scenarios measure in a child started with --expose-gc (so a forced collection comes
// before each heap reading), running a bench script from the TypeScript sources through tsx. The
// child prints its result as the last line of its standard output.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const BENCH_ROOT = fileURLToPath(new URL('..', import.meta.url));
// By URL: some children run in a temp dir, where a bare `tsx` would not resolve.
export const TSX_LOADER = pathToFileURL(join(BENCH_ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

/** Runs bench/`script` with --expose-gc and `env` over this process's; resolves with its last stdout line. */
export function runHeapChild(script: string, env: Record<string, string>): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--expose-gc', '--import', TSX_LOADER, join(BENCH_ROOT, 'bench', script)],
      { cwd: BENCH_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0
        ? resolve(out.trim().split('\n').pop() ?? '')
        : reject(new Error(`${script} exited ${code}`)),
    );
  });
}
