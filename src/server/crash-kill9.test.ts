// Kill -9 suite: the headless server (a real child process) refreshes continuously against an
// emulator that rotates the refresh token on every refresh; it is SIGKILLed at seeded random moments
// and restarted over the same store. Under the emulator's `grace` policy nothing may be lost. Under
// `immediate`, a kill that lands after Intuit rotated the token but before the new one is on disk
// loses the chain: the suite counts those and checks the status then says so plainly.
// With QB_DEBUG_REFRESH_MARKERS=1 the child prints a marker line per refresh step (no token values),
// so each loss is put in one of two places: (a) in flight at Intuit (the emulator had processed the
// refresh, and so killed the old token, but the answer was not yet in our process: Intuit's design,
// no client can avoid it) or (b) the answer-to-write window (our process had the answer, the new
// chain was not yet renamed into place: ours to keep tiny).
// Replay a failure with CRASH_SEED=<printed seed>.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { finished } from 'node:stream/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { REFRESH_MARKER_PREFIX, REFRESH_MARKERS_VARIABLE, type RefreshStep } from '../core/refresh-markers';
import { defaultRecordPath, readStoredRecord } from '../core/testing/stored-chain';
import { fingerprintToken } from '../core/token-store';
import { startEmulator } from '../emulator';
import type { EmulatorHandle } from '../emulator/types';
import { HTTP_PATHS, type TokenStatus } from '../shared/contract';
import { REPO_ROOT, startServerProcess, type ServerProcess } from './process-support';
import { seededRandom } from '../core/testing/seeded-random';

const KILLS = Number(process.env.CRASH_KILLS ?? 30);
const SEED = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000);
/** The kill lands this long after the server printed its start-up line (refreshes run all the while). */
const KILL_AFTER_MS: [number, number] = [30, 700];

/** mulberry32: a small seeded PRNG, so a failing run can be replayed from its seed. */

/**
 * SIGKILLs the server `ms` from now, from a separate process. A timer in this process would fire in
 * the event loop that also runs the emulator, right after it answered a token call (timers due while
 * it was busy run when it yields): kills would bunch just after Intuit's answer, inflating both loss
 * windows. A real crash has nothing to do with Intuit's timing.
 */
async function killLater(server: ServerProcess, ms: number): Promise<void> {
  const pid = server.process.child.pid;
  if (pid === undefined) throw new Error('the server process has no pid');
  const killer = spawn('/bin/sh', ['-c', `sleep ${(ms / 1000).toFixed(3)}; kill -KILL ${pid}`], {
    stdio: 'ignore',
  });
  await once(killer, 'exit');
  await server.process.exited;
}

interface Marker {
  step: RefreshStep;
  sequence: number;
  /** ms since the child started */
  at: number;
}

/** The marker lines a child printed to stderr, in order. */
function parseMarkers(stderr: string): Marker[] {
  const markers: Marker[] = [];
  for (const line of stderr.split('\n')) {
    if (!line.startsWith(`${REFRESH_MARKER_PREFIX} `)) continue;
    const [, step, sequence, at] = line.split(' ');
    markers.push({ step: step as RefreshStep, sequence: Number(sequence), at: Number(at) });
  }
  return markers;
}

/**
 * Where a kill landed, from the steps the killed process's last refresh had reached: `idle` (no refresh
 * yet, or the last one finished), `in-flight` (sent, no answer in the process yet), `answer-to-write`
 * (the answer was in, the new chain not yet renamed into place), `written` (renamed: safe).
 */
type KillPlace = 'idle' | 'in-flight' | 'answer-to-write' | 'written';

function killPlace(markers: Marker[]): KillPlace {
  const last = markers.at(-1);
  if (!last) return 'idle';
  const reached = new Set(markers.filter((m) => m.sequence === last.sequence).map((m) => m.step));
  if (reached.has('renamed')) return 'written';
  if (reached.has('answer-received')) return 'answer-to-write';
  if (reached.has('token-call')) return 'in-flight';
  return 'idle';
}

/** Per refresh of one process: how long each stretch took, ms. */
interface StepTimes {
  /** token-call -> answer-received: the request's trip to Intuit and back. */
  roundTrip: number[];
  /** answer-received -> renamed: the answer-to-write window. */
  answerToWrite: number[];
  /** token-call -> next token-call: one whole refresh cycle. */
  cycle: number[];
}

function collectStepTimes(markers: Marker[], into: StepTimes): void {
  const bySequence = new Map<number, Partial<Record<RefreshStep, number>>>();
  for (const m of markers) {
    const steps = bySequence.get(m.sequence) ?? {};
    // The first time of each step: a later save in the same sequence (Clear) is not this refresh's.
    steps[m.step] ??= m.at;
    bySequence.set(m.sequence, steps);
  }
  for (const [sequence, steps] of bySequence) {
    if (steps['token-call'] === undefined) continue;
    if (steps['answer-received'] !== undefined) {
      into.roundTrip.push(steps['answer-received'] - steps['token-call']);
      if (steps.renamed !== undefined) into.answerToWrite.push(steps.renamed - steps['answer-received']);
    }
    const next = bySequence.get(sequence + 1)?.['token-call'];
    if (next !== undefined) into.cycle.push(next - steps['token-call']);
  }
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return Number(sorted[Math.floor(sorted.length / 2)].toFixed(3));
}

interface PolicyReport {
  policy: 'grace' | 'immediate';
  seed: number;
  kills: number;
  /** Restarts whose stored refresh token was already dead at Intuit (the chain was lost). */
  lost: number;
  /** (a) Lost while the refresh was in flight at Intuit: processed there, the answer not yet in our process. */
  lostInFlightAtIntuit: number;
  /** Of those, how many the emulator processed only after the killed process had exited (the request was on the wire). */
  lostProcessedAfterExit: number;
  /** (b) Lost in the answer-to-write window: the answer was in our process, the new chain not yet renamed into place. */
  lostAnswerToWrite: number;
  /** Lost with the last marker outside both windows: must not happen. */
  lostUnexplained: number;
  /** Every kill, by where it landed in the killed process's last refresh. */
  killsByPlace: Partial<Record<KillPlace, number>>;
  /** Medians over all refreshes the children made, ms (from the markers). */
  medianMs: Record<keyof StepTimes, number | null>;
  /** Kills that left the refresh lock behind (its holder is recorded, so the next start takes it over at once). */
  locksLeft: number;
  /** Median duration of the first POST refresh after a restart, ms: after a kill that left the lock, and after one that did not. */
  firstRefreshMs: { lockLeft: number | null; noLock: number | null };
  /** Temp files of an interrupted atomic write left in the data dir. */
  tempFilesLeft: number;
  refreshesSeen: number;
  lossMessages: string[];
}

const reports: PolicyReport[] = [];

function serverEnv(emulator: EmulatorHandle, refreshToken: string, dataDir: string): Record<string, string> {
  return {
    QB_CLIENT_ID: emulator.clientId,
    QB_CLIENT_SECRET: emulator.clientSecret,
    QB_REFRESH_TOKEN: refreshToken,
    QB_REALM_ID: emulator.realmId,
    QB_TOKEN_URL: emulator.tokenUrl,
    QB_REVOKE_URL: emulator.revokeUrl,
    QB_AUTHORIZE_URL: emulator.authorizeUrl,
    QB_API_BASE_URL: emulator.apiBaseUrl,
    QB_DATA_DIR: dataDir,
    QB_REFRESH_SKEW_SECONDS: '0',
    QB_HTTP_TIMEOUT_MS: '3000',
    [REFRESH_MARKERS_VARIABLE]: '1',
  };
}

/** The refresh token a restart will use: the stored chain's, unless the environment's token changed (rule 6). */
async function chainToken(dataDir: string, envToken: string): Promise<string> {
  const { tokens } = await readStoredRecord(dataDir);
  if (tokens && tokens.origin.envRefreshTokenSha256 === fingerprintToken(envToken))
    return tokens.refreshToken;
  return envToken;
}

async function status(server: ServerProcess): Promise<TokenStatus> {
  const { body } = await server.api<TokenStatus>(HTTP_PATHS.refreshToken);
  if (!body.ok) throw new Error(`status failed: ${body.error.message}`);
  return body.value;
}

/** POSTs refreshes back to back until `stop()`; errors (the process dying mid-call) are expected. */
function driveRefreshes(server: ServerProcess): { stop: () => void; done: Promise<number> } {
  let stopped = false;
  const done = (async () => {
    let count = 0;
    while (!stopped) {
      try {
        const { body } = await server.api(HTTP_PATHS.refreshToken, { method: 'POST' });
        if (body.ok) count += 1;
      } catch {
        return count;
      }
    }
    return count;
  })();
  return { stop: () => (stopped = true), done };
}

async function runPolicy(policy: 'grace' | 'immediate'): Promise<PolicyReport> {
  const random = seededRandom(SEED + (policy === 'grace' ? 0 : 1));
  const emulator = await startEmulator({
    accessTokenTtlSeconds: 2,
    rotateAfterSeconds: 0,
    oldRefreshTokenPolicy: policy,
    gracePeriodSeconds: 3600,
  });
  const dataDir = await mkdtemp(join(tmpdir(), `qbtd-kill9-${policy}-`));
  const report: PolicyReport = {
    policy,
    seed: SEED,
    kills: 0,
    lost: 0,
    locksLeft: 0,
    firstRefreshMs: { lockLeft: null, noLock: null },
    tempFilesLeft: 0,
    lostInFlightAtIntuit: 0,
    lostProcessedAfterExit: 0,
    lostAnswerToWrite: 0,
    lostUnexplained: 0,
    killsByPlace: {},
    medianMs: { roundTrip: null, answerToWrite: null, cycle: null },
    refreshesSeen: 0,
    lossMessages: [],
  };
  const times: StepTimes = { roundTrip: [], answerToWrite: [], cycle: [] };
  // Where the previous kill landed, and how many refresh tokens the emulator had issued once its process was gone.
  let previousKill: { place: KillPlace; issuedAtExit: number } | null = null;
  // The environment's refresh token; replaced by a new authorization after a loss (the user reconnects).
  let envToken = emulator.refreshToken;
  // Whether the previous kill left the refresh lock, and how long each first refresh after a restart took.
  let lockLeft = false;
  const firstRefresh: { lockLeft: number[]; noLock: number[] } = { lockLeft: [], noLock: [] };
  try {
    // One restart per kill, plus a last one that only checks the chain survived the final kill.
    for (let cycle = 0; ; cycle += 1) {
      const last = report.kills >= KILLS;
      // Before the restart: is the refresh token the store (or, before the first save, the environment) holds still alive?
      const alive = emulator.control.isRefreshTokenValid(await chainToken(dataDir, envToken));

      const server = await startServerProcess(serverEnv(emulator, envToken, dataDir));
      if (!alive) {
        expect(policy, `cycle ${cycle}: the refresh token was lost under grace (seed ${SEED})`).toBe(
          'immediate',
        );
        report.lost += 1;
        const place = previousKill?.place ?? 'idle';
        if (place === 'in-flight') {
          report.lostInFlightAtIntuit += 1;
          if (emulator.control.counters().refreshTokensIssued > (previousKill?.issuedAtExit ?? 0))
            report.lostProcessedAfterExit += 1;
        } else if (place === 'answer-to-write') report.lostAnswerToWrite += 1;
        else report.lostUnexplained += 1;
        const refresh = await server.api<TokenStatus>(HTTP_PATHS.refreshToken, { method: 'POST' });
        expect(refresh.body.ok).toBe(false);
        const after = await status(server);
        expect(after.state).toBe('reauthorization_required');
        expect(after.lastRefresh?.error?.kind).toBe('invalid_grant');
        // The kill left the in-flight note (connections/default.json.refreshing): the status says what happened.
        expect(after.lastRefresh?.error?.message, `cycle ${cycle} (seed ${SEED})`).toMatch(
          /stopped during a refresh .* after Intuit had issued a new refresh token, before it could be saved/,
        );
        expect(after.warnings.join(' ')).toMatch(/stopped during a refresh.*Reconnect to QuickBooks/);
        report.lossMessages.push(after.lastRefresh?.error?.message ?? '');
        await server.stop({ signal: 'SIGKILL', keepData: true });
        if (last) break;
        // The user reconnects: a new authorization, handed over through the environment (DESIGN rule 6).
        envToken = emulator.control.issueAuthorization(emulator.realmId).refreshToken;
        continue;
      }

      // It can still refresh after the previous kill (taking over a lock the killed process left).
      const refreshStarted = performance.now();
      const refresh = await server.api<TokenStatus>(HTTP_PATHS.refreshToken, { method: 'POST' });
      (lockLeft ? firstRefresh.lockLeft : firstRefresh.noLock).push(performance.now() - refreshStarted);
      expect(
        refresh.body.ok,
        `cycle ${cycle}: refresh after restart failed: ${refresh.body.ok ? '' : refresh.body.error.message} (seed ${SEED})`,
      ).toBe(true);

      if (last) {
        await server.stop({ keepData: true });
        break;
      }

      const driver = driveRefreshes(server);
      await killLater(server, KILL_AFTER_MS[0] + random() * (KILL_AFTER_MS[1] - KILL_AFTER_MS[0]));
      await server.stop({ signal: 'SIGKILL', keepData: true });
      const issuedAtExit = emulator.control.counters().refreshTokensIssued;
      report.kills += 1;
      driver.stop();
      report.refreshesSeen += 1 + (await driver.done);
      // Everything the child wrote before the kill is in the pipe: read to its end.
      const stderr = server.process.child.stderr;
      if (stderr) await finished(stderr).catch(() => undefined);
      const markers = parseMarkers(server.process.stderr());
      collectStepTimes(markers, times);
      const place = killPlace(markers);
      report.killsByPlace[place] = (report.killsByPlace[place] ?? 0) + 1;
      previousKill = { place, issuedAtExit };

      // A lock the kill left is left for the restart: it names its dead holder, so it is taken over at once.
      lockLeft = existsSync(`${defaultRecordPath(dataDir)}.lock`);
      if (lockLeft) report.locksLeft += 1;
      const recordDir = dirname(defaultRecordPath(dataDir));
      for (const name of existsSync(recordDir) ? readdirSync(recordDir) : []) {
        if (name.endsWith('.tmp')) {
          report.tempFilesLeft += 1;
          rmSync(join(recordDir, name), { force: true });
        }
      }
    }
  } finally {
    await emulator.close();
    await rm(dataDir, { recursive: true, force: true });
  }
  report.firstRefreshMs = { lockLeft: median(firstRefresh.lockLeft), noLock: median(firstRefresh.noLock) };
  report.medianMs = {
    roundTrip: median(times.roundTrip),
    answerToWrite: median(times.answerToWrite),
    cycle: median(times.cycle),
  };
  reports.push(report);
  return report;
}

describe.concurrent(
  `kill -9 at ${KILLS} random moments while refreshing (seed ${SEED}; replay with CRASH_SEED=${SEED})`,
  () => {
    afterAll(() => {
      // The figures, for CI artifacts (test-results/ is not committed).
      const dir = join(REPO_ROOT, 'test-results');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'kill9-report.json'), `${JSON.stringify(reports, null, 2)}\n`);
      for (const r of reports) {
        console.log(
          `[kill-9] policy=${r.policy} seed=${r.seed} kills=${r.kills} refreshes=${r.refreshesSeen} lost=${r.lost} ` +
            `(a: in flight at Intuit ${r.lostInFlightAtIntuit}, of them processed after exit ${r.lostProcessedAfterExit}; ` +
            `b: answer-to-write window ${r.lostAnswerToWrite}; unexplained ${r.lostUnexplained}) ` +
            `killsByPlace=${JSON.stringify(r.killsByPlace)} medianMs=${JSON.stringify(r.medianMs)} ` +
            `locksLeft=${r.locksLeft} firstRefreshMs=${JSON.stringify(r.firstRefreshMs)} tempFilesLeft=${r.tempFilesLeft}` +
            (r.lossMessages[0] ? ` status message on loss: "${r.lossMessages[0]}"` : ''),
        );
      }
    });

    it('grace policy: no kill costs the refresh token', { timeout: 300_000 }, async () => {
      const report = await runPolicy('grace');
      expect(report.kills).toBe(KILLS);
      expect(report.lost).toBe(0);
    });

    it(
      'immediate policy: a chain is lost only while its answer is in flight or before it is written, and the status says what happened',
      { timeout: 300_000 },
      async () => {
        const report = await runPolicy('immediate');
        // After every kill the next start either refreshed or reported the loss plainly (asserted inside
        // runPolicy). Losses in flight at Intuit (processed there, answer not yet here) are Intuit's design
        // and only reported. The answer-to-write window is ours: the save starts from inside the token call,
        // into a temp file opened beforehand, and is renamed synchronously, so what must hold is that no
        // chain is lost anywhere else. How many kills land inside that window is a matter of its share of
        // the refresh cycle, which the machine's load sets (idle: ~0.25 ms of 20-30 ms, 0-1 of 30; one CI
        // run on a loaded machine: 0.75 ms of 13 ms, 3 of 30, as that 5.6 % share predicts): a timing
        // figure, printed and written to test-results/kill9-report.json, not asserted.
        expect(report.kills).toBe(KILLS);
        expect(report.lostUnexplained, 'a loss after the rename, or with no refresh in flight').toBe(0);
      },
    );
  },
);
