// Runs `qb-token` (bin/qb-token.js) as a real process for the CLI's tests and collects what it printed.
// Test-only.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const QB_TOKEN_BIN = fileURLToPath(new URL('../../../bin/qb-token.js', import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to close, process start included. */
  ms: number;
}

export interface CliRunOptions {
  env: NodeJS.ProcessEnv;
  /** A temp dir, so the repository's own .env files never leak into a test. */
  cwd: string;
  /** Written to standard input, which is then closed; left open when absent. */
  stdin?: string;
  /** Runs as this user (and group of the same id); needs root. */
  uid?: number;
  /** Sees stderr as it grows (to act at a given step of the run). */
  onStderr?: (soFar: string) => void;
}

export function runQbToken(args: string[], options: CliRunOptions): Promise<CliRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [QB_TOKEN_BIN, ...args], {
      env: options.env,
      cwd: options.cwd,
      ...(options.uid !== undefined ? { uid: options.uid, gid: options.uid } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      options.onStderr?.(stderr);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
    if (options.stdin !== undefined) child.stdin.end(options.stdin);
  });
}

/** What a leak scan reads of a run: stderr always, stdout unless it is `token`'s (which prints the token). */
export function diagnosticsOf(args: string[], run: CliRun): string[] {
  return args[0] === 'token' ? [run.stderr] : [run.stderr, run.stdout];
}
