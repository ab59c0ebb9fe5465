// The CLI's pure parts in-process: argument parsing, exit-code mapping and the human status.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TokenStatus } from '../shared/contract';
import {
  ApiError,
  ConfigError,
  NotConfiguredError,
  ReauthorizationRequiredError,
  StoreConfigError,
  StoreKeyError,
  StoreLockTimeoutError,
  StoreUnavailableError,
  TokenError,
} from '../core/errors';
import { StoreSaveRescuedError } from '../core/fs/save-rescue';
import { UNSAVED_CHAIN_WARNING } from '../core/token-status';
import { postgresStore, statusAt } from '../shared/testing/status-fixture';
import { parseArgs, UsageError } from './args';
import { EXIT, exitCodeFor } from './exit-codes';
import { formatRelative, formatStatus } from './format-status';
import { describeFailure, runCli, tokenForScripts } from './run';

const NOW = Date.parse('2026-11-27T12:00:00Z');
const at = (offsetMs: number) => new Date(NOW + offsetMs).toISOString();

const status: TokenStatus = statusAt(NOW, {
  state: 'expiring',
  realmId: '9341453172571840',
  accessToken: { preview: '…abcd', expiresAt: at(4 * 60_000) },
  refreshToken: {
    preview: '…wxyz',
    source: 'stored',
    expiresAt: at(10 * 86_400_000),
    hardExpiresAt: at(900 * 86_400_000),
    lastRotatedAt: at(-3 * 3_600_000),
    rejectedAt: null,
  },
  autoRefresh: {
    enabled: true,
    nextRefreshAt: at(0),
    skewSeconds: 300,
    retrying: { attempt: 2, maxAttempts: 4 },
  },
  lastRefresh: {
    at: at(-60_000),
    ok: false,
    trigger: 'scheduled',
    durationMs: 120,
    error: { kind: 'server', message: 'HTTP 503 from the token endpoint.', intuitTid: '1-abc' },
  },
  stats: { refreshes: 3, failures: 1, retriedOn401: 2, consecutiveFailures: 0, failingSince: null },
  history: [],
  warnings: ['The refresh token expires in 10 days: reconnect to QuickBooks soon.'],
});

describe('qb-token units', () => {
  it('parses commands and flags, and rejects what it does not know', () => {
    expect(parseArgs(['status', '--json'])).toEqual({ command: 'status', json: true, verbose: false });
    expect(parseArgs(['-v', 'token'])).toEqual({ command: 'token', json: false, verbose: true });
    expect(parseArgs(['--help']).command).toBe('help');
    expect(() => parseArgs([])).toThrow(UsageError);
    expect(() => parseArgs(['tokens'])).toThrow(/unknown command "tokens"/);
    expect(() => parseArgs(['token', '--json'])).toThrow(/--json applies to status only/);
    expect(() => parseArgs(['status', 'extra'])).toThrow(/unexpected argument/);
    expect(() => parseArgs(['status', '--force'])).toThrow(/unknown option --force/);
  });

  it('maps failures to the documented exit codes', () => {
    expect(
      exitCodeFor(new ConfigError('QB_ENVIRONMENT must be sandbox or production', 'QB_ENVIRONMENT')),
    ).toBe(EXIT.configuration);
    expect(exitCodeFor(new NotConfiguredError())).toBe(EXIT.configuration);
    expect(exitCodeFor(new TokenError('invalid_client', 'bad keys'))).toBe(EXIT.configuration);
    expect(exitCodeFor(new ReauthorizationRequiredError())).toBe(EXIT.reauthorizationRequired);
    expect(exitCodeFor(new TokenError('invalid_grant', 'dead'))).toBe(EXIT.reauthorizationRequired);
    expect(exitCodeFor(new ApiError({ status: 401, code: 'unauthorized', message: 'x' }))).toBe(
      EXIT.reauthorizationRequired,
    );
    for (const kind of ['network', 'timeout', 'server', 'rate_limited', 'bad_response'] as const) {
      expect(exitCodeFor(new TokenError(kind, kind))).toBe(EXIT.transient);
    }
    expect(exitCodeFor(new ApiError({ status: 503, code: 'api_error', message: 'x' }))).toBe(EXIT.transient);
    expect(exitCodeFor(new ApiError({ status: 429, code: 'rate_limited', message: 'x' }))).toBe(
      EXIT.transient,
    );
    expect(exitCodeFor(new ApiError({ status: 403, code: 'forbidden', message: 'x' }))).toBe(EXIT.failure);
    expect(exitCodeFor(new Error('boom'))).toBe(EXIT.failure);
  });

  it('maps store errors: key or store configuration -> 2, unavailable, busy or rescued -> 4', () => {
    expect(exitCodeFor(new StoreKeyError('QB_STORE_KEY'))).toBe(EXIT.configuration);
    expect(exitCodeFor(new StoreConfigError('QB_DATA_DIR'))).toBe(EXIT.configuration);
    expect(exitCodeFor(new StoreUnavailableError('down'))).toBe(EXIT.transient);
    expect(exitCodeFor(new StoreLockTimeoutError('busy'))).toBe(EXIT.transient);
    expect(exitCodeFor(new StoreSaveRescuedError('rescued', '/x'))).toBe(EXIT.transient);
  });

  it('shows times relative and absolute', () => {
    expect(formatRelative(at(52 * 60_000 + 5_000), NOW)).toBe('in 52 min');
    expect(formatRelative(at(-3 * 3_600_000), NOW)).toBe('3 h ago');
    expect(formatRelative(at(100 * 86_400_000), NOW)).toBe('in 100 d');
    expect(formatRelative(at(200), NOW)).toBe('now');
  });

  it('prints a compact status with expiry, refresh token, last refresh and warnings', () => {
    const text = formatStatus(status, NOW);
    expect(text).toContain(
      'State:         expiring (inside the refresh window) [expiring] (source: cached; sandbox, realm 9341453172571840)',
    );
    expect(text).toContain('Access token:  …abcd, expires in 4 min (2026-11-27 12:04:00 UTC)');
    expect(text).toContain('Refresh token: …wxyz (stored), expires in 10 d (2026-12-07 12:00:00 UTC)');
    expect(text).toContain('               hard limit in 900 d');
    expect(text).toContain('               last rotated 3 h ago');
    // A one-shot process promises no refresh of its own, and no retries.
    expect(text).not.toMatch(/Auto refresh|retrying/i);
    expect(text).toContain(
      'Refreshing:    not by this command (it exits); due 1 min ago (2026-11-27 11:59:00 UTC). A headless server (npm run serve) or your app (the library) on this QB_DATA_DIR refreshes 300 s before expiry; without one, the next command that needs a token does. (The desktop app keeps a store of its own: it shares tokens only through QB_STORE_URL.)',
    );
    expect(text).toContain('Last refresh:  FAILED (server), 1 min ago');
    expect(text).toContain('HTTP 503 from the token endpoint. [intuit_tid 1-abc]');
    expect(text).toContain('Stats:         3 refreshes, 1 failures, 2 retried after 401');
    expect(text).toContain('  - The refresh token expires in 10 days');
  });

  it('names the desktop app as a refresher only when the store is PostgreSQL (its own store is apart)', () => {
    const onFile = formatStatus(status, NOW);
    expect(onFile).not.toMatch(/desktop app or|desktop app[^:]*sharing/i);
    const onPostgres = formatStatus(
      {
        ...status,
        store: postgresStore(),
      },
      NOW,
    );
    expect(onPostgres).toMatch(
      /^Refreshing: +not by this command \(it exits\); due .*\. The desktop app or a headless server on this QB_STORE_URL refreshes 300 s before expiry; without one, the next command that needs a token does\.$/m,
    );
  });

  it('says there is no access token yet, rather than "expired", before the first one', () => {
    const text = formatStatus(
      { ...status, state: 'no_token', source: 'none', accessToken: null, lastRefresh: null },
      NOW,
    );
    expect(text).toContain('State:         no access token yet [no_token] (source: none;');
    expect(text).toContain(
      'Access token:  none cached yet; the next command that needs one (qb-token token, company-info) fetches it',
    );
    expect(text).not.toMatch(/expired|due /);
    expect(text).toContain('Last refresh:  none recorded');
  });

  it('says Intuit rejected the refresh token, and that nothing refreshes until a reconnect', () => {
    if (!status.refreshToken) throw new Error('the fixture has a refresh token');
    const text = formatStatus(
      {
        ...status,
        state: 'reauthorization_required',
        accessToken: null,
        refreshToken: { ...status.refreshToken, rejectedAt: at(-60_000) },
      },
      NOW,
    );
    expect(text).toContain(
      'Refresh token: …wxyz (stored), REJECTED by Intuit 1 min ago (2026-11-27 11:59:00 UTC)',
    );
    expect(text).not.toContain('expires in 10 d (');
    expect(text).toContain('Access token:  none; reconnect to QuickBooks first');
    expect(text).toContain(
      'Refreshing:    stopped: Intuit rejected the refresh token; reconnect to QuickBooks',
    );
  });

  it('without client keys, says that nothing here can refresh', () => {
    expect(formatStatus({ ...status, canConnect: false }, NOW)).toContain(
      'Refreshing:    not possible here: QB_CLIENT_ID and QB_CLIENT_SECRET are not set',
    );
  });

  it('a transient failure says the command gives up, not that it retries', () => {
    const line = describeFailure(
      new TokenError('server', 'HTTP 503: Intuit answered with a server error.', { intuitTid: '1-abc' }),
      true,
    );
    expect(line).toBe(
      'qb-token: HTTP 503: Intuit answered with a server error. [intuit_tid 1-abc] qb-token gives up here (exit 4); the refresh token is kept, so running it again later can succeed.',
    );
    expect(describeFailure(new TokenError('invalid_grant', 'dead'), true)).not.toContain('gives up');
    expect(describeFailure(new TokenError('server', 'HTTP 503.'))).toBe('qb-token: HTTP 503.');
  });

  it('after invalid_grant, says how to get a new refresh token for the connection it acted on', () => {
    const dead = new TokenError('invalid_grant', 'Intuit rejected the refresh token.');
    const onDefault = describeFailure(dead, true, status);
    expect(onDefault).toContain('or set a new QB_REFRESH_TOKEN.');
    // The desktop app keeps a store of its own: Connect there does not fix a file store's chain.
    expect(onDefault).toContain('(Connect in `npm run serve` on this QB_DATA_DIR)');
    const added = {
      ...status,
      connection: { id: '5550303', name: "Gamma's Garage", companyName: null },
      realmId: '5550303',
      environment: 'production' as const,
    };
    const onAdded = describeFailure(dead, true, added);
    expect(onAdded).not.toContain('QB_REFRESH_TOKEN');
    expect(onAdded).toContain(
      "give it a new refresh token on standard input: `qb-token connections add --realm 5550303 --environment production --name 'Gamma'\\''s Garage' < refresh-token.txt`.",
    );
    expect(onAdded).toContain('Connect in `npm run serve` on this QB_DATA_DIR, choosing company 5550303');
    const onPostgres = describeFailure(dead, true, {
      ...added,
      store: postgresStore(),
    });
    expect(onPostgres).toContain('Connect in the desktop app or `npm run serve` on this QB_STORE_URL');
  });

  it('status with no configuration creates no directory, and names the emulator one-liner', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'qb-token-status-'));
    try {
      const out: string[] = [];
      const err: string[] = [];
      const io = { cwd, stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t) };
      expect(await runCli(['status'], { ...io, env: {} })).toBe(EXIT.configuration);
      expect(out.join('')).toMatch(/^State:\s+not configured \[not_configured\]/);
      expect(await readdir(cwd)).toEqual([]);
      expect(
        await runCli(['status', '--json'], { ...io, env: { QB_DATA_DIR: join(cwd, 'elsewhere') } }),
      ).toBe(EXIT.configuration);
      expect(await readdir(cwd)).toEqual([]);
      expect(err.join('')).toContain(
        'To try it on the Intuit emulator instead: eval "$(npm run --silent emulator -- --env)"',
      );
      expect(err.join('')).not.toContain('point QB_TOKEN_URL');
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });

  it('a chain Intuit issued that no store took is not called kept: the message says it is lost and what follows', () => {
    const status = statusAt(Date.now(), { warnings: [UNSAVED_CHAIN_WARNING] });
    const unavailable = new StoreUnavailableError('PostgreSQL at db:5432/qb does not answer');
    const lost = describeFailure(unavailable, true, status);
    expect(lost).toMatch(/no store took it: it ends with this process/);
    expect(lost).not.toMatch(/the refresh token is kept/);
    // Rescued to a file (the file store's last resort), it is kept.
    const rescued = new StoreSaveRescuedError('saved to /home/u/.qb-token-desk/rescue/x.json', '/x');
    expect(describeFailure(rescued, true, status)).toMatch(/the refresh token is kept/);
    expect(describeFailure(unavailable, true, statusAt(Date.now()))).toMatch(/the refresh token is kept/);
  });

  it('a message without a full stop still reads as two sentences when more follows', () => {
    expect(describeFailure(new TokenError('network', 'the store cannot be reached'), true)).toMatch(
      /^qb-token: the store cannot be reached\. qb-token gives up here/,
    );
  });

  it('token refreshes first inside the skew window, and still prints a valid token when that fails', async () => {
    const calls: string[] = [];
    const lines: string[] = [];
    const deskIn = (state: TokenStatus['state'], refresh: () => Promise<TokenStatus>) => ({
      getStatus: () => ({ ...status, state }),
      refresh: (trigger?: string) => {
        calls.push(`refresh:${trigger}`);
        return refresh();
      },
      getAccessToken: async () => {
        calls.push('get');
        return 'access-token-value';
      },
    });
    await tokenForScripts(
      deskIn('valid', async () => status),
      (line) => lines.push(line),
    );
    expect(calls).toEqual(['get']);
    calls.length = 0;
    await tokenForScripts(
      deskIn('expiring', async () => status),
      (line) => lines.push(line),
    );
    expect(calls).toEqual(['refresh:on-demand', 'get']);
    expect(lines).toEqual([]);
    calls.length = 0;
    const failing = deskIn('expiring', () => Promise.reject(new TokenError('server', 'HTTP 503.')));
    await expect(tokenForScripts(failing, (line) => lines.push(line))).resolves.toBe('access-token-value');
    expect(lines).toEqual(['qb-token: HTTP 503. Printing the current access token, which is still valid.']);
  });

  it('refuses to start a throwaway demo emulator when the client keys are missing (exit 2, names them)', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'qb-token-units-'));
    try {
      const out: string[] = [];
      const err: string[] = [];
      const io = { cwd, stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t) };
      // status still prints a status, so `--json` stays parseable: not_configured, exit 2.
      const env = { QB_REFRESH_TOKEN: 'RT1-some-refresh-token', QB_DATA_DIR: join(cwd, 'data') };
      expect(await runCli(['status', '--json'], { ...io, env })).toBe(2);
      const printed = JSON.parse(out.join('')) as TokenStatus;
      expect(printed.state).toBe('not_configured');
      expect(printed.demo).toBe(false);
      expect(err.join('')).toMatch(/not configured: set QB_CLIENT_ID and QB_CLIENT_SECRET/);
      expect([...out, ...err].join('')).not.toContain('RT1-some-refresh-token');
      out.length = 0;
      err.length = 0;
      expect(await runCli(['refresh'], { ...io, env })).toBe(2);
      expect(err.join('')).toMatch(/not configured: set QB_CLIENT_ID and QB_CLIENT_SECRET/);
      err.length = 0;
      expect(
        await runCli(['token'], { ...io, env: { QB_CLIENT_ID: 'id', QB_REFRESH_SKEW_SECONDS: 'soon' } }),
      ).toBe(2);
      expect(err.join('')).toContain('QB_REFRESH_SKEW_SECONDS');
      expect(out).toEqual([]);
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });
});
