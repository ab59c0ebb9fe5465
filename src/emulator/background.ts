// `npm run emulator -- --env`: starts the emulator as a detached background process and prints
// shell lines that point QB Token Desk at it, so that
//   eval "$(npm run --silent emulator -- --port 4700 --env)"
// works: `$(...)` returns once every holder of its pipe has closed it, and npm holds that pipe
// until its script exits. So this process exits right after printing, and the emulator itself
// runs on with its stdout closed and its request log in a file.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { emulatorEnv } from './app-env';
import type { DemoCredentials, EmulatorUrls } from './types';

/** The flag that makes cli.ts serve in the background: print the JSON line, close stdout, keep serving. */
const BACKGROUND_FLAG = '--background';

/** A POSIX shell word: single-quoted, with embedded single quotes closed, escaped and reopened. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

function firstLine(stream: NodeJS.ReadableStream, exited: Promise<number | null>): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: stream });
    lines.once('line', (line) => {
      lines.close();
      resolve(line);
    });
    void exited.then((code) =>
      reject(new Error(`the emulator exited (code ${String(code)}) before it was listening`)),
    );
  });
}

/** Starts the background emulator with the caller's flags and returns the shell lines for it. */
export async function startInBackground(args: string[]): Promise<string> {
  // Its own data directory: eval-ing these lines must never point the desk at a store holding a real chain.
  const dir = mkdtempSync(join(tmpdir(), 'qb-emulator-'));
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir, { mode: 0o700 });
  const logPath = join(dir, 'emulator.log');
  const log = openSync(logPath, 'a', 0o600);
  const script = process.argv[1] ?? '';
  const child = spawn(
    process.execPath,
    [...process.execArgv, script, ...args.filter((arg) => arg !== '--env'), BACKGROUND_FLAG],
    { detached: true, stdio: ['ignore', 'pipe', log] },
  );
  closeSync(log);
  const stdout = child.stdout;
  if (!stdout) throw new Error('the emulator started without a stdout pipe');
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  let line: string;
  try {
    line = await firstLine(stdout, exited);
  } catch (error) {
    throw new Error(`${(error as Error).message}; see ${logPath}`, { cause: error });
  }
  stdout.destroy();
  child.unref();
  const info = JSON.parse(line) as EmulatorUrls & DemoCredentials;
  const env: Record<string, string> = {
    ...emulatorEnv(info, dataDir),
    QB_ENVIRONMENT: 'sandbox',
    QB_DEMO: '0',
    INTUIT_EMULATOR_URL: info.url,
    INTUIT_EMULATOR_PID: String(child.pid),
  };
  const exports = Object.entries(env).map(([name, value]) => `export ${name}=${shellQuote(value)}`);
  return [
    ...exports,
    `# Intuit emulator on ${info.url} in the background (pid ${String(child.pid)}, request log ${logPath}).`,
    '# Stop it with: kill "$INTUIT_EMULATOR_PID"',
    '',
  ].join('\n');
}
