import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { shellQuote } from './background';
import { optionsFromArgs } from './cli-args';
import { refresh } from './test-support';
import type { EmulatorHandle } from './types';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let child: ChildProcess | null = null;
/** The background emulator `--env` started, stopped here whatever the test's outcome. */
let backgroundPid: number | null = null;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

afterEach(() => {
  if (backgroundPid !== null && alive(backgroundPid)) process.kill(backgroundPid, 'SIGTERM');
  backgroundPid = null;
  // npm -> sh -> tsx -> node: end the whole group this test started.
  if (child?.pid !== undefined) {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // the group has already gone
    }
  }
  child = null;
});

/** Runs the command and returns stdout's JSON line (npm's own banner lines are not JSON). */
function firstJsonLine(args: string[]): Promise<{ line: string }> {
  child = spawn('npm', ['run', 'emulator', '--', ...args], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = child;
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      if (line.startsWith('{')) resolve({ line });
    });
    proc.on('exit', (code) =>
      reject(new Error(`emulator exited with ${code} before printing its JSON line`)),
    );
  });
}

describe('npm run emulator', () => {
  it('prints one JSON line with URLs and demo credentials, then answers a correct refresh with 200', async () => {
    const { line } = await firstJsonLine(['--port', '0', '--json', '--quiet']);
    const info = JSON.parse(line) as Record<string, string>;
    expect(Object.keys(info)).toEqual([
      'url',
      'tokenUrl',
      'revokeUrl',
      'authorizeUrl',
      'apiBaseUrl',
      'controlUrl',
      'clientId',
      'clientSecret',
      'refreshToken',
      'realmId',
    ]);
    expect(info.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await refresh(info as unknown as EmulatorHandle, info.refreshToken ?? '');
    expect(res.status).toBe(200);
    expect(res.json?.token_type).toBe('bearer');
  });

  it('passes lifetimes and policies through its flags', async () => {
    const { line } = await firstJsonLine([
      '--port',
      '0',
      '--json',
      '--access-ttl',
      '120',
      '--rotate-after',
      '0',
      '--client-id',
      'demo-client',
      '--client-secret',
      'demo-secret',
      '--refresh-token',
      'RT1-demo-refresh-token',
    ]);
    const info = JSON.parse(line) as Record<string, string>;
    expect(info.clientId).toBe('demo-client');
    expect(info.refreshToken).toBe('RT1-demo-refresh-token');
    const res = await refresh(info as unknown as EmulatorHandle, 'RT1-demo-refresh-token');
    expect(res.json?.expires_in).toBe(120);
    expect(res.json?.refresh_token).not.toBe('RT1-demo-refresh-token');
  });
});

describe('npm run emulator -- --env', () => {
  it('the documented eval line returns, points the CLI at the emulator, and the emulator serves on', async () => {
    const work = await mkdtemp(join(tmpdir(), 'qb-emulator-env-'));
    // The README's line (with a free port instead of 4700), then the CLI from a directory without .env files.
    const script = [
      `cd ${shellQuote(ROOT)}`,
      'eval "$(npm run --silent emulator -- --port 0 --env)"',
      `cd ${shellQuote(work)}`,
      'echo "PID=$INTUIT_EMULATOR_PID URL=$INTUIT_EMULATOR_URL DATA=$QB_DATA_DIR" >&2',
      `node ${shellQuote(join(ROOT, 'bin/qb-token.js'))} refresh >&2`,
      `node ${shellQuote(join(ROOT, 'bin/qb-token.js'))} status --json`,
    ].join(' && ');
    try {
      const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
        execFile(
          'bash',
          ['-c', script],
          { env: { PATH: process.env.PATH, HOME: work } },
          (error, out, err) =>
            error ? reject(new Error(`${error.message}\n${err}`)) : resolve({ stdout: out, stderr: err }),
        );
      });
      const [, pid, url, dataDir] = /PID=(\d+) URL=(\S+) DATA=(\S+)/.exec(stderr) ?? [];
      backgroundPid = Number(pid);
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(dataDir).toMatch(/qb-emulator-\w+\/data$/);
      const status = JSON.parse(stdout) as { state: string; realmId: string };
      expect(status.state).toBe('valid');
      expect(status.realmId).toBe('9341453172571840');
      // the shell has returned, and the emulator that served the CLI's refresh is still serving
      expect(alive(backgroundPid)).toBe(true);
      const counters = (await (await fetch(`${url}/__control/counters`)).json()) as {
        tokenCalls: { refresh_token: number };
      };
      expect(counters.tokenCalls.refresh_token).toBeGreaterThanOrEqual(1);
      process.kill(backgroundPid, 'SIGTERM');
      await expect.poll(() => alive(backgroundPid ?? 0), { timeout: 10_000 }).toBe(false);
      await rm(join(dataDir ?? '', '..'), { recursive: true, force: true });
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });

  it('quotes values for the shell', () => {
    expect(shellQuote("it's $HOME")).toBe(`'it'\\''s $HOME'`);
  });
});

describe('flag parsing', () => {
  it('maps flags to options and names a bad flag', () => {
    const { options, json } = optionsFromArgs([
      '--port',
      '0',
      '--json',
      '--old-token-policy',
      'grace',
      '--grace-period',
      '60',
    ]);
    expect(json).toBe(true);
    expect(options.oldRefreshTokenPolicy).toBe('grace');
    expect(options.gracePeriodSeconds).toBe(60);
    expect(() => optionsFromArgs(['--old-token-policy', 'later'])).toThrow(/--old-token-policy/);
    expect(() => optionsFromArgs(['--port', 'x'])).toThrow(/--port/);
    expect(() => optionsFromArgs(['--nope'])).toThrow();
    expect(() => optionsFromArgs(['--env', '--json'])).toThrow(/--env and --json/);
    const registered = optionsFromArgs([
      '--redirect-uri',
      'http://localhost:4318/callback',
      '--redirect-uri',
      'https://desk.example.org/callback',
      '--max-per-second',
      '50',
      '--fault-spelling',
      'capital',
    ]).options;
    expect(registered.redirectUris).toEqual([
      'http://localhost:4318/callback',
      'https://desk.example.org/callback',
    ]);
    expect(registered.maxRequestsPerSecondPerRealm).toBe(50);
    expect(registered.faultSpelling).toBe('capital');
  });

  it('declares the signed-in user’s companies with --company REALM_ID=NAME, in order', () => {
    const { options } = optionsFromArgs([
      '--company',
      '9130350000000001=Lantern Street Books Ltd',
      '--company',
      '9130350000000002=Alder = Sons',
    ]);
    expect(options.companies).toEqual([
      { realmId: '9130350000000001', companyName: 'Lantern Street Books Ltd' },
      { realmId: '9130350000000002', companyName: 'Alder = Sons' },
    ]);
    expect(optionsFromArgs([]).options.companies).toBeUndefined();
    for (const bad of ['Lantern', '=Lantern', '9130350000000001='])
      expect(() => optionsFromArgs(['--company', bad])).toThrow(/--company must be REALM_ID=NAME/);
  });
});
