// Runs the emulator and the headless server as child processes and talks to them over HTTP, for
// the server's process tests and the Playwright fixture (e2e/support/headless.ts). Test-only.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type {
  ApiFault,
  DemoCredentials,
  EmulatorCounters,
  EmulatorOptions,
  EmulatorUrls,
  IssuedTokens,
  TokenFault,
} from '../emulator/types';
import type { Result } from '../shared/contract';
import { emulatorEnv } from '../emulator/app-env';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX_LOADER = pathToFileURL(join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

/** Children still running, killed if the test process exits without stopping them. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface JsonLineChild<T> {
  child: ChildProcess;
  /** The first stdout line that parsed as JSON. */
  line: T;
  stdout(): string;
  stderr(): string;
  exited: Promise<ChildExit>;
  /** Sends the signal (default SIGTERM), waits for exit, SIGKILLs after STOP_TIMEOUT_MS. */
  stop(signal?: NodeJS.Signals): Promise<ChildExit>;
}

/** Starts `node --import tsx <script> ...args` and resolves with its first JSON stdout line. */
function spawnJsonLine<T>(
  script: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; cwd?: string },
): Promise<JsonLineChild<T>> {
  if (!existsSync(fileURLToPath(TSX_LOADER)))
    throw new Error(`tsx is not installed (${TSX_LOADER}); run npm ci`);
  const child = spawn(process.execPath, ['--import', TSX_LOADER, join(REPO_ROOT, script), ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<ChildExit>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });

  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${script} ${why}.\nstderr:\n${err.slice(-4000)}`));
    };
    const timer = setTimeout(
      () => fail(`printed no JSON line within ${START_TIMEOUT_MS} ms`),
      START_TIMEOUT_MS,
    );
    void exited.then(({ code, signal }) => fail(`exited (${code ?? signal}) before printing its JSON line`));
    const onData = () => {
      for (const text of out.split('\n').slice(0, -1)) {
        let line: T;
        try {
          line = JSON.parse(text) as T;
        } catch {
          continue;
        }
        clearTimeout(timer);
        child.stdout.off('data', onData);
        resolve({
          child,
          line,
          stdout: () => out,
          stderr: () => err,
          exited,
          async stop(signal: NodeJS.Signals = 'SIGTERM') {
            if (child.exitCode === null && child.signalCode === null) {
              child.kill(signal);
              const kill = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
              const result = await exited;
              clearTimeout(kill);
              return result;
            }
            return exited;
          },
        });
        return;
      }
    };
    child.stdout.on('data', onData);
  });
}

/** What `tsx src/emulator/cli.ts --json` prints. */
export type EmulatorLine = EmulatorUrls & DemoCredentials;

/** Option name -> flag of `npm run emulator` (src/emulator/cli-args.ts). */
const EMULATOR_FLAGS = {
  accessTokenTtlSeconds: '--access-ttl',
  refreshTokenTtlSeconds: '--refresh-ttl',
  refreshTokenHardTtlSeconds: '--hard-ttl',
  rotateAfterSeconds: '--rotate-after',
  rotateEveryRefreshes: '--rotate-every',
  oldRefreshTokenPolicy: '--old-token-policy',
  gracePeriodSeconds: '--grace-period',
  faultSpelling: '--fault-spelling',
  autoApprove: '--auto-approve',
  maxConcurrentPerRealm: '--max-concurrent',
  maxRequestsPerMinutePerRealm: '--max-per-minute',
  apiLatencyMs: '--api-latency-ms',
  companyName: '--company-name',
} as const satisfies Partial<Record<keyof EmulatorOptions, string>>;

/** Emulator options that `src/emulator/cli.ts` takes as flags. */
export type EmulatorFlags = Partial<Pick<EmulatorOptions, keyof typeof EMULATOR_FLAGS | 'demo'>>;

const DEMO_FLAGS: Record<keyof DemoCredentials, string> = {
  clientId: '--client-id',
  clientSecret: '--client-secret',
  refreshToken: '--refresh-token',
  realmId: '--realm-id',
};

function emulatorFlagArgs(flags: EmulatorFlags): string[] {
  const args: string[] = [];
  const push = (flag: string, value: unknown) => {
    if (value === undefined || value === false) return;
    if (value === true) args.push(flag);
    else args.push(flag, String(value));
  };
  for (const [key, value] of Object.entries(flags)) {
    if (key === 'demo') continue;
    const flag: string | undefined = EMULATOR_FLAGS[key as keyof typeof EMULATOR_FLAGS];
    if (!flag) throw new Error(`The emulator CLI has no flag for option "${key}"`);
    push(flag, value);
  }
  for (const [key, value] of Object.entries(flags.demo ?? {}))
    push(DEMO_FLAGS[key as keyof DemoCredentials], value);
  return args;
}

/** The emulator's HTTP control endpoint (src/emulator/README.md), as async calls. */
export class EmulatorControlClient {
  constructor(readonly controlUrl: string) {}

  private async send<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const response = await fetch(this.controlUrl + path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`emulator control ${method} ${path}: HTTP ${response.status} ${text}`);
    return JSON.parse(text) as T;
  }

  async injectTokenFault(fault: TokenFault, count = 1): Promise<void> {
    await this.send('POST', '/faults', { fault, count });
  }
  async injectApiFault(fault: ApiFault, count = 1): Promise<void> {
    await this.send('POST', '/api-faults', { fault, count });
  }
  async clearFaults(): Promise<void> {
    await this.send('DELETE', '/faults');
  }
  async revokeAccessTokens(accessToken?: string): Promise<void> {
    await this.send('POST', '/revoke-access', accessToken === undefined ? {} : { accessToken });
  }
  /** Moves the emulator's clock; resolves with its new time (ms since epoch). */
  async advanceClock(seconds: number): Promise<number> {
    return (await this.send<{ now: number }>('POST', '/clock', { advanceSeconds: seconds })).now;
  }
  async now(): Promise<number> {
    return (await this.send<{ now: number }>('GET', '/clock')).now;
  }
  counters(): Promise<EmulatorCounters> {
    return this.send<EmulatorCounters>('GET', '/counters');
  }
  async resetCounters(): Promise<void> {
    await this.send('DELETE', '/counters');
  }
  /** Any run-time option POST /__control/configure takes (the user's `companies` too), not only those with a flag. */
  async configure(
    options: Partial<Omit<EmulatorOptions, 'port' | 'demo' | 'clock' | 'logger'>>,
  ): Promise<void> {
    await this.send('POST', '/configure', options);
  }
  issueAuthorization(realmId?: string): Promise<IssuedTokens> {
    return this.send<IssuedTokens>('POST', '/authorizations', realmId === undefined ? {} : { realmId });
  }
  async isRefreshTokenValid(refreshToken: string): Promise<boolean> {
    return (await this.send<{ valid: boolean }>('POST', '/refresh-token-valid', { refreshToken })).valid;
  }
}

export interface EmulatorProcess extends EmulatorLine {
  control: EmulatorControlClient;
  process: JsonLineChild<EmulatorLine>;
  stop(): Promise<void>;
}

export async function startEmulatorProcess(flags: EmulatorFlags = {}): Promise<EmulatorProcess> {
  const proc = await spawnJsonLine<EmulatorLine>(
    'src/emulator/cli.ts',
    ['--port', '0', '--json', '--quiet', ...emulatorFlagArgs(flags)],
    { env: cleanEnv() },
  );
  return {
    ...proc.line,
    control: new EmulatorControlClient(proc.line.controlUrl),
    process: proc,
    async stop() {
      await proc.stop();
    },
  };
}

/** What `tsx src/server/cli.ts --json` prints. */
export interface ServerLine {
  url: string;
  port: number;
  adminToken: string;
}

/** The variables that point the server at an emulator. */
export function serverEnvFor(emulator: EmulatorLine, dataDir?: string): Record<string, string> {
  return { ...emulatorEnv(emulator, dataDir), QB_PORT: '0' };
}

/** The parent's environment without any QB_ setting a developer may have exported. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('QB_')) env[key] = value;
  return { ...env, ...extra };
}

export interface ServerProcess extends ServerLine {
  /** http://127.0.0.1:PORT */
  baseUrl: string;
  dataDir: string;
  process: JsonLineChild<ServerLine>;
  /** fetch with the admin secret; parses the Result body. */
  api<T>(path: string, init?: RequestInit): Promise<{ status: number; body: Result<T> }>;
  /** SIGTERM (or the given signal), then removes the data dir unless `keepData`. */
  stop(options?: { signal?: NodeJS.Signals; keepData?: boolean }): Promise<ChildExit>;
}

/**
 * Starts the headless server with `env` (plus a fresh QB_DATA_DIR and QB_PORT=0 unless given).
 * Its working directory is the data dir, so no .env file from the repository is read.
 */
export async function startServerProcess(env: Record<string, string>): Promise<ServerProcess> {
  const dataDir = env.QB_DATA_DIR ?? (await mkdtemp(join(tmpdir(), 'qbtd-headless-')));
  const proc = await spawnJsonLine<ServerLine>('src/server/cli.ts', ['--json'], {
    env: cleanEnv({ QB_PORT: '0', ...env, QB_DATA_DIR: dataDir }),
    cwd: dataDir,
  });
  const baseUrl = new URL(proc.line.url).origin;
  return {
    ...proc.line,
    baseUrl,
    dataDir,
    process: proc,
    async api<T>(path: string, init: RequestInit = {}) {
      const headers = new Headers(init.headers);
      headers.set('authorization', `Bearer ${proc.line.adminToken}`);
      const response = await fetch(baseUrl + path, { ...init, headers });
      return { status: response.status, body: JSON.parse(await response.text()) as Result<T> };
    },
    async stop(options = {}) {
      const exit = await proc.stop(options.signal);
      if (!options.keepData) await rm(dataDir, { recursive: true, force: true });
      return exit;
    },
  };
}
