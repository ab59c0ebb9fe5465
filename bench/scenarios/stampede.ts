// Scenario 1, expiry stampede: K callers need a token at the moment it expires. This project:
// K concurrent getAccessToken() on one TokenManager. intuit-oauth: K callers each doing what its
// README shows (`if (!isAccessTokenValid()) await refresh()`) on one shared OAuthClient. Run twice:
// once when Intuit returns the same refresh token, once when the refresh token is due to rotate
// (Intuit then kills the previous value, so concurrent refreshes with it fail).
import { startEmulator } from '../../src/emulator';
import type { EmulatorOptions } from '../../src/emulator/types';
import { startEngine } from '../engine';
import { ageToken, intuitClientFor } from '../intuit-oauth-client';
import { msSince, percentile, round } from '../stats';

export interface StampedeSide {
  tool: string;
  callers: number;
  tokenCalls: number;
  succeeded: number;
  failed: number;
  p50Ms: number;
  p99Ms: number;
}

export interface StampedeResult {
  scenario: 'expiry-stampede';
  variant: string;
  sides: StampedeSide[];
}

async function timeCallers(
  callers: number,
  call: () => Promise<unknown>,
): Promise<{ latencies: number[]; failed: number }> {
  const latencies: number[] = [];
  let failed = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: callers }, () =>
      call().then(
        () => latencies.push(msSince(start)),
        () => {
          failed += 1;
          latencies.push(msSince(start));
        },
      ),
    ),
  );
  return { latencies, failed };
}

function side(
  tool: string,
  callers: number,
  tokenCalls: number,
  run: { latencies: number[]; failed: number },
) {
  return {
    tool,
    callers,
    tokenCalls,
    succeeded: callers - run.failed,
    failed: run.failed,
    p50Ms: round(percentile(run.latencies, 50)),
    p99Ms: round(percentile(run.latencies, 99)),
  };
}

async function ours(callers: number, options: EmulatorOptions): Promise<StampedeSide> {
  const emulator = await startEmulator(options);
  const engine = await startEngine(emulator);
  try {
    await engine.manager.refresh('manual');
    engine.advance(3600); // the access token has just expired
    emulator.control.resetCounters();
    const run = await timeCallers(callers, () => engine.manager.getAccessToken());
    return side('qb-token-desk', callers, emulator.control.counters().tokenCalls.refresh_token, run);
  } finally {
    await engine.close();
    await emulator.close();
  }
}

async function intuit(callers: number, options: EmulatorOptions): Promise<StampedeSide> {
  const emulator = await startEmulator(options);
  try {
    const client = intuitClientFor(emulator);
    await client.refresh();
    ageToken(client, 3600);
    emulator.control.advanceClock(3600);
    emulator.control.resetCounters();
    const run = await timeCallers(callers, async () => {
      if (!client.isAccessTokenValid()) await client.refresh();
      return client.getToken().access_token;
    });
    return side('intuit-oauth', callers, emulator.control.counters().tokenCalls.refresh_token, run);
  } finally {
    await emulator.close();
  }
}

export async function runStampede(callers = 1000): Promise<StampedeResult[]> {
  const variants: Array<[string, EmulatorOptions]> = [
    ['refresh token not due to rotate', {}],
    ['refresh token rotates on this refresh (old value dies at once)', { rotateAfterSeconds: 0 }],
  ];
  const results: StampedeResult[] = [];
  for (const [variant, options] of variants) {
    results.push({
      scenario: 'expiry-stampede',
      variant,
      sides: [await ours(callers, options), await intuit(callers, options)],
    });
  }
  return results;
}
