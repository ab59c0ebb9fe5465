// `qb-token` as users run it: real processes (bin/qb-token.js through tsx) against an emulator
// started here, sharing a file store in a temp QB_DATA_DIR. Each spawn costs a second or two of
// tsx start-up on a small machine, so the suite keeps the process count low and timeouts generous.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startEmulator } from '../emulator/index';
import type { EmulatorHandle } from '../emulator/types';
import { emulatorEnv } from '../emulator/app-env';
import { diagnosticsOf, runQbToken, type CliRun } from './testing/cli-process';

let emulator: EmulatorHandle;
let workDir: string;
/** Every output except `token`'s stdout: none may carry a token value or the client secret. */
const diagnostics: string[] = [];

function cliEnv(dataDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: workDir, ...emulatorEnv(emulator, dataDir), ...extra };
}

async function qbToken(args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  const run = await runQbToken(args, { env, cwd: workDir });
  diagnostics.push(...diagnosticsOf(args, run));
  return run;
}

let dirCount = 0;
async function freshDataDir(): Promise<string> {
  dirCount += 1;
  return join(workDir, `data-${dirCount}`);
}

const refreshCalls = () => emulator.control.counters().tokenCalls.refresh_token;

const iso = z.iso.datetime({ offset: true });
const tokenStatusSchema = z
  .object({
    connection: z.object({ id: z.string(), name: z.string(), companyName: z.string().nullable() }).strict(),
    state: z.enum([
      'valid',
      'expiring',
      'expired',
      'no_token',
      'refreshing',
      'reauthorization_required',
      'not_configured',
    ]),
    source: z.enum(['cached', 'environment', 'none']),
    environment: z.enum(['sandbox', 'production']),
    realmId: z.string().nullable(),
    demo: z.boolean(),
    accessToken: z
      .object({ preview: z.string().regex(/^….{4}$/), expiresAt: iso })
      .strict()
      .nullable(),
    refreshToken: z
      .object({
        preview: z.string().regex(/^….{4}$/),
        source: z.enum(['stored', 'environment']),
        expiresAt: iso.nullable(),
        hardExpiresAt: iso.nullable(),
        lastRotatedAt: iso.nullable(),
        rejectedAt: iso.nullable(),
      })
      .strict()
      .nullable(),
    autoRefresh: z.object({
      enabled: z.boolean(),
      nextRefreshAt: iso.nullable(),
      skewSeconds: z.number(),
      retrying: z.object({ attempt: z.number(), maxAttempts: z.number() }).nullable(),
    }),
    lastRefresh: z
      .object({
        at: iso,
        ok: z.boolean(),
        trigger: z.enum(['scheduled', 'manual', 'on-401', 'on-demand']),
        durationMs: z.number(),
        error: z
          .object({ kind: z.string(), message: z.string(), intuitTid: z.string().nullable() })
          .optional(),
        client: z.string().optional(),
      })
      .nullable(),
    stats: z.object({
      refreshes: z.number(),
      failures: z.number(),
      retriedOn401: z.number(),
      consecutiveFailures: z.number(),
      failingSince: iso.nullable(),
    }),
    history: z.array(z.object({ at: iso, type: z.string(), message: z.string() })).max(50),
    warnings: z.array(z.string()),
    canConnect: z.boolean(),
    store: z
      .object({
        kind: z.enum(['file', 'postgres', 'desktop']),
        location: z.string(),
        encrypted: z.boolean(),
        reachable: z.boolean(),
        misconfigured: z.boolean(),
        problem: z.string().nullable(),
      })
      .strict()
      .nullable(),
  })
  .strict();

beforeAll(async () => {
  emulator = await startEmulator({});
  workDir = await mkdtemp(join(tmpdir(), 'qb-token-cli-'));
});

afterAll(async () => {
  await emulator?.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

beforeEach(() => {
  emulator.control.clearFaults();
  emulator.control.configure({ accessTokenTtlSeconds: 3600 });
  emulator.control.resetCounters();
});

describe('qb-token', () => {
  it('status --json prints a valid TokenStatus; before any token it says there is none yet', async () => {
    const env = cliEnv(await freshDataDir());
    const run = await qbToken(['status', '--json'], env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const status = tokenStatusSchema.parse(JSON.parse(run.stdout));
    expect(status.realmId).toBe(emulator.realmId);
    expect(status.refreshToken?.preview).toBe(`…${emulator.refreshToken.slice(-4)}`);
    expect(status.state).toBe('no_token');
    console.info(`[figures] qb-token status --json: ${run.ms} ms`);

    // In words: no access token yet (not "expired"), and no promise of a refresh by a process that exits.
    const human = await qbToken(['status'], env);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^State:\s+no access token yet \[no_token\]/);
    expect(human.stdout).toMatch(/^Access token:\s+none cached yet; the next command that needs one/m);
    expect(human.stdout).toMatch(
      /^Refreshing:\s+not by this command \(it exits\)\. A headless server \(npm run serve\) or your app \(the library\) on this QB_DATA_DIR refreshes .*The desktop app keeps a store of its own: it shares tokens only through QB_STORE_URL/m,
    );
    expect(human.stdout).not.toMatch(/expired|Auto refresh/i);
    expect(refreshCalls()).toBe(0);
  }, 60_000);

  it('status --json with no configuration prints a not_configured TokenStatus and exits 2', async () => {
    const env = { PATH: process.env.PATH, HOME: workDir, QB_DATA_DIR: await freshDataDir() };
    const run = await qbToken(['status', '--json'], env);
    expect(run.code).toBe(2);
    const status = tokenStatusSchema.parse(JSON.parse(run.stdout));
    expect(status).toMatchObject({
      state: 'not_configured',
      demo: false,
      accessToken: null,
      refreshToken: null,
    });
    expect(run.stderr).toContain('not configured: set QB_CLIENT_ID and QB_CLIENT_SECRET');
  }, 60_000);

  it('token twice in a row makes one token call; the second run reuses the stored access token', async () => {
    const env = cliEnv(await freshDataDir());
    const first = await qbToken(['token'], env);
    const second = await qbToken(['token'], env);
    expect([first.code, second.code]).toEqual([0, 0]);
    const token = first.stdout.trim();
    expect(token.length).toBeGreaterThan(20);
    expect(second.stdout.trim()).toBe(token);
    expect(refreshCalls()).toBe(1);
    // The printed token really works against the API.
    const api = await fetch(
      `${emulator.apiBaseUrl}/v3/company/${emulator.realmId}/companyinfo/${emulator.realmId}`,
      {
        headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
      },
    );
    expect(api.status).toBe(200);
    console.info(`[figures] qb-token token: first (refresh) ${first.ms} ms, second (cached) ${second.ms} ms`);
  }, 60_000);

  it('status, company-info, refresh and clear work and show previews only', async () => {
    const env = cliEnv(await freshDataDir());
    const info = await qbToken(['company-info'], env);
    expect(info.code).toBe(0);
    expect(info.stdout).toContain(`realm ${emulator.realmId}`);
    const refresh = await qbToken(['refresh'], env);
    expect(refresh.code).toBe(0);
    expect(refresh.stdout).toMatch(/^Refreshed\. Access token …\S{4} expires in \d+ min/);
    const status = await qbToken(['status'], env);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/State:\s+valid/);
    expect(status.stdout).toMatch(
      /Access token:\s+…\S{4}, expires in \d+ min \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)/,
    );
    const clear = await qbToken(['clear'], env);
    expect(clear.code).toBe(0);
    expect(clear.stdout).toMatch(/refresh token \(…\S{4}\) is kept/);
    expect(refreshCalls()).toBe(2);
  }, 90_000);

  it('20 concurrent token processes over one store at expiry cause exactly one refresh', async () => {
    const env = cliEnv(await freshDataDir(), { QB_REFRESH_SKEW_SECONDS: '0' });
    // A first run stores an access token that expires two seconds later ...
    emulator.control.configure({ accessTokenTtlSeconds: 2 });
    expect((await qbToken(['token'], env)).code).toBe(0);
    const stale = emulator.control.now() + 2_000;
    // ... and the next one will last, so every late starter must reuse it instead of refreshing again.
    emulator.control.configure({ accessTokenTtlSeconds: 3600 });
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, stale - emulator.control.now()) + 1_000));
    emulator.control.resetCounters();

    const started = Date.now();
    const runs = await Promise.all(Array.from({ length: 20 }, () => qbToken(['token', '--verbose'], env)));
    const wallMs = Date.now() - started;
    // On failure, what each process said about the lock and the refresh (no values: the log is redacted).
    const story = runs
      .flatMap((run) => run.stderr.split('\n'))
      .filter((line) => line && !line.includes('Configuration:'))
      .map((line) => line.replace(/intuit_tid \S+/, 'intuit_tid …'));
    const tally = [...new Set(story)]
      .map((line) => `${story.filter((l) => l === line).length}x ${line}`)
      .join('\n');
    expect(
      runs.map((run) => run.code),
      tally,
    ).toEqual(Array(20).fill(0));
    expect(refreshCalls(), tally).toBe(1);
    expect(new Set(runs.map((run) => run.stdout.trim())).size, tally).toBe(1);
    const each = runs.map((run) => run.ms).sort((a, b) => a - b);
    console.info(
      `[figures] 20 concurrent qb-token token at expiry: refreshes=${refreshCalls()}, wall ${wallMs} ms, ` +
        `per process min ${each[0]} / median ${each[10]} / max ${each[19]} ms`,
    );
  }, 400_000);

  it('exit 2 for a bad configuration, naming the variable', async () => {
    const run = await qbToken(['token'], cliEnv(await freshDataDir(), { QB_ENVIRONMENT: 'staging' }));
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('QB_ENVIRONMENT');
    expect(refreshCalls()).toBe(0);
  }, 60_000);

  it('exit 3 when Intuit answers invalid_grant', async () => {
    emulator.control.injectTokenFault({ kind: 'invalid_grant' }, 100);
    const run = await qbToken(['token'], cliEnv(await freshDataDir()));
    expect(run.code).toBe(3);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/invalid_grant|reconnect/i);
  }, 60_000);

  it('after refresh exits 3 on invalid_grant, a later status on the same data directory says so and exits 3', async () => {
    const env = cliEnv(await freshDataDir());
    expect((await qbToken(['token'], env)).code).toBe(0);
    emulator.control.injectTokenFault({ kind: 'invalid_grant' }, 1);
    const refresh = await qbToken(['refresh'], env);
    expect(refresh.code).toBe(3);
    expect(refresh.stderr).toMatch(/invalid_grant/);
    emulator.control.resetCounters();
    // Another process, later: it asks Intuit nothing, and still knows.
    const status = await qbToken(['status', '--json'], env);
    expect(status.code, status.stderr).toBe(3);
    const parsed = tokenStatusSchema.parse(JSON.parse(status.stdout));
    expect(parsed.state).toBe('reauthorization_required');
    expect(parsed.refreshToken?.rejectedAt).not.toBeNull();
    expect(parsed.lastRefresh).toMatchObject({
      ok: false,
      trigger: 'manual',
      error: { kind: 'invalid_grant' },
    });
    expect(parsed.history[0]).toMatchObject({ type: 'failed' });
    const text = await qbToken(['status'], env);
    expect(text.code).toBe(3);
    expect(text.stdout).toMatch(/reauthorization_required|reconnect/i);
    expect(refreshCalls()).toBe(0);
  }, 90_000);

  it('exit 4 when the token endpoint keeps answering 503', async () => {
    emulator.control.injectTokenFault({ kind: 'status', status: 503 }, 100);
    const run = await qbToken(['token'], cliEnv(await freshDataDir()));
    expect(run.code).toBe(4);
    expect(run.stdout).toBe('');
    // It says what this process does: it exits; it does not claim a retry is coming.
    expect(run.stderr).toContain('qb-token gives up here (exit 4); the refresh token is kept');
    expect(run.stderr).not.toMatch(/retried|retrying/i);
  }, 120_000);

  it('exit 1 and usage for an unknown command; --help exits 0', async () => {
    const env = cliEnv(await freshDataDir());
    const bad = await qbToken(['frobnicate'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('Usage: qb-token');
    const help = await qbToken(['--help'], env);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Exit codes');
  }, 60_000);

  it('no output but token’s stdout carries a token value or the client secret', () => {
    const text = diagnostics.join('\n');
    expect(text.length).toBeGreaterThan(0);
    for (const secret of [...emulator.control.issuedTokenValues(), emulator.clientSecret]) {
      expect(text.includes(secret), `a value ending ${secret.slice(-4)} leaked`).toBe(false);
    }
    expect(text).not.toMatch(/RT1-\w{3}-H0-\d+-\w{20}/);
    expect(text).not.toMatch(/eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0\.\./);
  });
});
