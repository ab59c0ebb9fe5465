// The fault matrix: every token-endpoint fault the emulator can inject, against the three ways a
// refresh starts (the timer, a caller on demand, an API 401), plus every Accounting API fault against
// an authorized request. For each cell: the status reached, the token calls made (retries), the time
// to recovery once the fault clears, and that the stored refresh token is still valid at "Intuit".
// The figures are printed as a table; the assertions are about outcomes, never about timing.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { ApiFault, EmulatorOptions, TokenFault } from '../emulator/types';
import type { TokenStatus } from '../shared/contract';
import { QuickBooksClient } from './quickbooks-client';
import { EngineHarness, FAST_RETRY } from './testing/engine-harness';
import type { Timers, TokenManager } from './token-manager';

type Trigger = 'scheduled' | 'on-demand' | 'on-401';
type Expect = 'recovers' | 'reauthorization' | 'client-error' | 'lost';

interface Cell {
  fault: string;
  trigger: Trigger;
  state: string;
  errorKind: string;
  tokenCalls: number;
  recoveryMs: number | null;
  storedTokenValid: boolean;
}

const TIMEOUT_MS = 300;
/** A fault "persists" for this many calls, i.e. until the test clears it. */
const PERSISTING = 1000;
const cells: Cell[] = [];

const TOKEN_FAULTS: Array<[string, TokenFault, Expect]> = [
  ['status 500', { kind: 'status', status: 500 }, 'recovers'],
  ['status 502', { kind: 'status', status: 502 }, 'recovers'],
  ['status 503 + Retry-After 0', { kind: 'status', status: 503, retryAfterSeconds: 0 }, 'recovers'],
  ['status 429', { kind: 'status', status: 429 }, 'recovers'],
  ['html error page', { kind: 'html' }, 'recovers'],
  ['malformed json', { kind: 'malformed_json' }, 'recovers'],
  ['delay 50 ms', { kind: 'delay', ms: 50 }, 'recovers'],
  ['hang', { kind: 'hang' }, 'recovers'],
  ['connection reset', { kind: 'reset' }, 'recovers'],
  ['hang after processing', { kind: 'hang_after_processing' }, 'recovers'],
  ['delay after processing 50 ms', { kind: 'delay_after_processing', ms: 50 }, 'recovers'],
  ['invalid_grant', { kind: 'invalid_grant' }, 'reauthorization'],
  ['invalid_client', { kind: 'invalid_client' }, 'client-error'],
];

/**
 * The first status, the current one or one the engine emits from now on, that `accept` takes. An
 * event, not a poll against a deadline: on a loaded machine it simply comes later (the test's own
 * timeout bounds the wait).
 */
function statusWhere(manager: TokenManager, accept: (status: TokenStatus) => boolean): Promise<TokenStatus> {
  return new Promise((resolve) => {
    const current = manager.getStatus();
    if (accept(current)) {
      resolve(current);
      return;
    }
    const stop = manager.onStatusChanged((status) => {
      if (!accept(status)) return;
      stop();
      resolve(status);
    });
  });
}

/**
 * The engine's clock and timers for the scheduled trigger: real time plus the jumps the test makes.
 * Timers run on real setTimeout (the back-off and the cooldown take their few ms as in production),
 * and `advance` also fires at once every timer the jump made due. So the schedule fires when the test
 * moves the clock past it, with hour-long tokens, instead of a 1-second token that a loaded machine
 * can let expire between the refresh and the check.
 */
class JumpClock {
  private offsetMs = 0;
  private readonly pending = new Set<{ due: number; fn: () => void; handle: NodeJS.Timeout }>();

  readonly now = (): number => Date.now() + this.offsetMs;

  readonly timers: Timers = {
    setTimeout: (fn, ms) => {
      const timer = {
        due: this.now() + ms,
        fn,
        handle: setTimeout(() => {
          this.pending.delete(timer);
          fn();
        }, ms),
      };
      timer.handle.unref();
      this.pending.add(timer);
      return timer;
    },
    clearTimeout: (timer) => {
      const pending = timer as { handle: NodeJS.Timeout };
      clearTimeout(pending.handle);
      this.pending.delete(pending as never);
    },
  };

  /** Moves the clock and fires, in order, every timer now due. */
  advance(ms: number): void {
    this.offsetMs += ms;
    const due = [...this.pending].filter((timer) => timer.due <= this.now()).sort((a, b) => a.due - b.due);
    for (const timer of due) {
      if (!this.pending.delete(timer)) continue;
      clearTimeout(timer.handle);
      timer.fn();
    }
  }

  /** Moves the clock only: timers keep their real delays (the on-demand trigger's jump). */
  jump(ms: number): void {
    this.offsetMs += ms;
  }
}

interface Rig {
  harness: EngineHarness;
  manager: TokenManager;
  client: QuickBooksClient;
  clock: JumpClock;
}

async function rig(trigger: Trigger, emulator: EmulatorOptions = {}): Promise<Rig> {
  const harness = await EngineHarness.start({ accessTokenTtlSeconds: 3600, ...emulator });
  const clock = new JumpClock();
  const manager = await harness.manager({
    now: clock.now,
    // The scheduled trigger's timers follow the clock's jumps; the others keep the system's.
    ...(trigger === 'scheduled' ? { timers: clock.timers } : {}),
    timeoutMs: TIMEOUT_MS,
    retry: FAST_RETRY,
  });
  await manager.refresh('manual');
  const client = new QuickBooksClient({
    tokens: manager,
    apiBaseUrl: harness.emulator.apiBaseUrl,
    realmId: harness.emulator.realmId,
    fetchTimeoutMs: 5000,
  });
  return { harness, manager, client, clock };
}

/** Starts a refresh the way `trigger` does; resolves once the engine has given up or succeeded. */
async function provoke(r: Rig, trigger: Trigger): Promise<void> {
  switch (trigger) {
    case 'scheduled': {
      // Past the access token's refresh time: the schedule's timer fires and its run starts now;
      // the status it emits when the run (all its attempts) is over says it settled.
      const settled = statusWhere(
        r.manager,
        (s) => s.state !== 'refreshing' && s.lastRefresh?.trigger === 'scheduled',
      );
      r.clock.advance(3600 * 1000);
      await settled;
      return;
    }
    case 'on-demand':
      r.clock.jump(3600 * 1000);
      await r.manager.getAccessToken().catch(() => undefined);
      return;
    case 'on-401':
      r.harness.emulator.control.revokeAccessTokens();
      await r.client.getCompanyInfo().catch(() => undefined);
      return;
  }
}

/** After the fault clears: the time until a refresh (started the trigger's way) succeeds. */
async function recover(r: Rig, trigger: Trigger): Promise<number> {
  const started = Date.now();
  switch (trigger) {
    case 'scheduled':
      // The schedule retries by itself after its cooldown (a real timer of a few ms).
      await statusWhere(
        r.manager,
        (s) =>
          s.lastRefresh?.ok === true && s.lastRefresh.trigger === 'scheduled' && s.state !== 'refreshing',
      );
      break;
    case 'on-demand':
      await r.manager.getAccessToken();
      break;
    case 'on-401':
      await r.client.getCompanyInfo();
      break;
  }
  return Date.now() - started;
}

async function storedTokenValid(r: Rig): Promise<boolean> {
  const stored = await r.harness.readStoredTokens();
  return stored !== null && r.harness.emulator.control.isRefreshTokenValid(stored.refreshToken);
}

async function runCell(name: string, fault: TokenFault, expected: Expect, trigger: Trigger, emulator = {}) {
  const r = await rig(trigger, emulator);
  try {
    const control = r.harness.emulator.control;
    control.resetCounters();
    control.injectTokenFault(fault, PERSISTING);
    await provoke(r, trigger);
    const during = r.manager.getStatus();
    const tokenCalls = control.counters().tokenCalls.refresh_token;
    control.clearFaults();

    let recoveryMs: number | null = null;
    if (expected === 'recovers') recoveryMs = await recover(r, trigger);
    const after = r.manager.getStatus();
    const cell: Cell = {
      fault: name,
      trigger,
      state: expected === 'recovers' ? `${during.state} -> ${after.state}` : during.state,
      errorKind: during.lastRefresh?.error?.kind ?? (during.lastRefresh?.ok ? 'none' : '-'),
      tokenCalls,
      recoveryMs,
      storedTokenValid: await storedTokenValid(r),
    };
    cells.push(cell);

    switch (expected) {
      case 'recovers':
        expect(after.lastRefresh?.ok).toBe(true);
        expect(['valid', 'expiring']).toContain(after.state);
        expect(cell.storedTokenValid).toBe(true);
        break;
      case 'reauthorization':
        expect(during.state).toBe('reauthorization_required');
        expect(during.autoRefresh.enabled).toBe(false);
        // A terminal answer is never retried, and the engine never drops the refresh token it holds.
        expect(tokenCalls).toBe(1);
        expect(await r.harness.readStoredTokens()).not.toBeNull();
        break;
      case 'client-error':
        expect(during.lastRefresh?.error?.kind).toBe('invalid_client');
        expect(during.autoRefresh.enabled).toBe(false);
        expect(tokenCalls).toBe(1);
        expect(cell.storedTokenValid).toBe(true);
        break;
      case 'lost':
        break;
    }
    r.harness.assertNoLeaks();
    return cell;
  } finally {
    await r.harness.close();
  }
}

describe('fault matrix: token-endpoint faults x refresh triggers', () => {
  afterAll(() => {
    // The figures, for CI artifacts (test-results/ is not committed).
    const dir = fileURLToPath(new URL('../../test-results', import.meta.url));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'fault-matrix.json'), `${JSON.stringify(cells, null, 2)}\n`);
    const header = [
      'fault',
      'trigger',
      'status reached',
      'error',
      'token calls',
      'recovery ms',
      'stored RT valid',
    ];
    const rows = cells.map((c) => [
      c.fault,
      c.trigger,
      c.state,
      c.errorKind,
      String(c.tokenCalls),
      c.recoveryMs === null ? '-' : String(c.recoveryMs),
      c.storedTokenValid ? 'yes' : 'NO',
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]?.length ?? 0)));
    const line = (row: string[]) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ');
    console.log(['[fault-matrix]', line(header), ...rows.map(line)].join('\n'));
  });

  for (const trigger of ['scheduled', 'on-demand', 'on-401'] as const) {
    for (const [name, fault, expected] of TOKEN_FAULTS) {
      it(`${name} / ${trigger}`, async () => {
        const cell = await runCell(name, fault, expected, trigger);
        // A persisting transient fault is retried up to the policy's limit (the schedule keeps trying later).
        if (expected === 'recovers' && !name.startsWith('delay')) {
          expect(cell.tokenCalls).toBeGreaterThanOrEqual(FAST_RETRY.maxAttempts);
        }
      });
    }
  }

  // An answer lost after Intuit rotated the refresh token: the engine retries with the same value
  // (never a guess). With a grace period that succeeds; when the old value dies at once it cannot.
  it('hang after processing, rotating, grace policy / on-demand: recovers with the same refresh token', async () => {
    await runCell(
      'hang after processing, rotating (grace)',
      { kind: 'hang_after_processing' },
      'recovers',
      'on-demand',
      { rotateAfterSeconds: 0, oldRefreshTokenPolicy: 'grace' },
    );
  });

  it('hang after processing, rotating, immediate policy / on-demand: says reauthorization is required', async () => {
    const r = await rig('on-demand', { rotateAfterSeconds: 0, oldRefreshTokenPolicy: 'immediate' });
    try {
      r.harness.emulator.control.resetCounters();
      r.harness.emulator.control.injectTokenFault({ kind: 'hang_after_processing' }, 1);
      r.clock.jump(3600 * 1000);
      await expect(r.manager.getAccessToken()).rejects.toThrow(/rotated away|reconnect/i);
      const status = r.manager.getStatus();
      cells.push({
        fault: 'hang after processing, rotating (immediate)',
        trigger: 'on-demand',
        state: status.state,
        errorKind: status.lastRefresh?.error?.kind ?? '-',
        tokenCalls: r.harness.emulator.control.counters().tokenCalls.refresh_token,
        recoveryMs: null,
        storedTokenValid: await storedTokenValid(r),
      });
      expect(status.state).toBe('reauthorization_required');
      expect(status.warnings.join(' ')).toMatch(/reconnect/i);
      r.harness.assertNoLeaks();
    } finally {
      await r.harness.close();
    }
  });
});

const API_FAULTS: Array<[ApiFault, { ok: boolean; refreshes: number }]> = [
  [
    { kind: 'status', status: 401 },
    { ok: true, refreshes: 1 },
  ],
  [
    { kind: 'status', status: 403 },
    { ok: false, refreshes: 0 },
  ],
  [
    { kind: 'status', status: 429, retryAfterSeconds: 0 },
    { ok: true, refreshes: 0 },
  ],
  [
    { kind: 'status', status: 500 },
    { ok: false, refreshes: 0 },
  ],
  [
    { kind: 'status', status: 503 },
    { ok: false, refreshes: 0 },
  ],
];

describe('fault matrix: Accounting API faults against an authorized request', () => {
  for (const [fault, expected] of API_FAULTS) {
    it(`API ${fault.status}: ${expected.ok ? 'succeeds' : 'fails clearly'} with ${expected.refreshes} refresh(es)`, async () => {
      const r = await rig('on-401');
      try {
        const control = r.harness.emulator.control;
        control.resetCounters();
        control.injectApiFault(fault, 1);
        const outcome = await r.client.getCompanyInfo().then(
          () => null,
          (error: Error) => error,
        );
        expect(outcome === null).toBe(expected.ok);
        if (outcome) {
          // A clear error: the status and Intuit's words, never a token value.
          expect(outcome.message).toMatch(new RegExp(String(fault.status)));
          r.harness.scan.collect('api error', outcome);
        }
        expect(control.counters().tokenCalls.refresh_token).toBe(expected.refreshes);
        expect(await storedTokenValid(r)).toBe(true);
        r.harness.assertNoLeaks();
      } finally {
        await r.harness.close();
      }
    });
  }
});
