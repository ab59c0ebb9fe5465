import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { optionsFromArgs } from './cli-args';
import { refresh } from './test-support';
import type { EmulatorHandle } from './types';

let child: ChildProcess | null = null;

afterEach(() => {
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
  });
});
