// The Accounting API client keeps each connection within Intuit's limits (10 in flight, 10 a second
// per company and app, 500 a minute per company) by itself, against the emulator with those limits
// on: bursts wait in the connection's queue instead of drawing 429s, and two connections each have
// their own budget. Requests are timed from the client's telemetry (sent = answered - duration);
// whether anything was throttled comes from the emulator's own counters.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator } from '../emulator';
import { emulatorEnv } from '../emulator/app-env';
import type { EmulatorHandle } from '../emulator/types';
import { DEFAULT_CONNECTION_ID, type ConnectionId } from '../shared/contract';
import { startDesk, type StartedDesk } from './bootstrap';
import { noTelemetry } from './telemetry';

const REALM_A = '5550101';
const REALM_B = '5550102';

interface Sent {
  sentAt: number;
  answeredAt: number;
  status: number;
}

let emulator: EmulatorHandle;
let dir: string;
let started: StartedDesk | null = null;
let requests: Map<ConnectionId, Sent[]>;

beforeEach(async () => {
  // Intuit's limits (the emulator's defaults, spelled out); a little latency, as on a real network.
  emulator = await startEmulator({
    apiLatencyMs: 5,
    maxConcurrentPerRealm: 10,
    maxRequestsPerSecondPerRealm: 10,
    maxRequestsPerMinutePerRealm: 500,
  });
  dir = await mkdtemp(join(tmpdir(), 'qbtd-pacing-'));
  requests = new Map();
});

afterEach(async () => {
  await started?.close();
  started = null;
  await emulator.close();
  await rm(dir, { recursive: true, force: true });
});

async function desk(): Promise<StartedDesk> {
  started = await startDesk({
    env: emulatorEnv(emulator, dir),
    cwd: dir,
    log: () => undefined,
    telemetry: {
      ...noTelemetry,
      apiRequested: ({ connectionId, status, durationMs }) => {
        const answeredAt = Date.now();
        const list = requests.get(connectionId) ?? [];
        list.push({ sentAt: answeredAt - durationMs, answeredAt, status });
        requests.set(connectionId, list);
      },
    },
  });
  await started.manager.whenIdle();
  return started;
}

async function addCompanies(desk: StartedDesk, realms: string[]): Promise<void> {
  for (const realm of realms) {
    const issued = emulator.control.issueAuthorization(realm);
    await desk.connections.add({
      name: `Company ${realm}`,
      realmId: realm,
      environment: 'sandbox',
      refreshToken: issued.refreshToken,
    });
    await desk.connections.desk(realm).refresh('manual');
  }
}

/** Send times in order. */
function sendTimes(connectionId: ConnectionId): number[] {
  return (requests.get(connectionId) ?? []).map((r) => r.sentAt).sort((a, b) => a - b);
}

/** The shortest time any `count + 1` consecutive sends took: Intuit's rule is that it is >= the span. */
function tightestSpan(sent: number[], count: number): number {
  let tightest = Infinity;
  for (let i = 0; i + count < sent.length; i += 1) tightest = Math.min(tightest, sent[i + count] - sent[i]);
  return tightest;
}

/** From the first send to the last, in seconds. */
const seconds = (sent: number[]) => ((sent[sent.length - 1] - sent[0]) / 1000).toFixed(1);

describe('Accounting API pacing per connection (emulator limits on)', () => {
  it('a burst of 600 calls through one connection completes without a 429, 10 a second and 500 a minute', async () => {
    const desk_ = await desk();
    const client = desk_.connections.desk(DEFAULT_CONNECTION_ID).client();
    emulator.control.resetCounters();
    const began = Date.now();
    const results = await Promise.all(Array.from({ length: 600 }, () => client.getCompanyInfo()));
    const tookMs = Date.now() - began;

    expect(results).toHaveLength(600);
    const counters = emulator.control.counters();
    expect(counters.apiCalls).toBe(600);
    expect(counters.api429s).toBe(0);
    expect(counters.maxApiInFlightByRealm[emulator.realmId]).toBeLessThanOrEqual(10);
    const sent = sendTimes(DEFAULT_CONNECTION_ID);
    expect(sent).toHaveLength(600);
    expect((requests.get(DEFAULT_CONNECTION_ID) ?? []).every((r) => r.status === 200)).toBe(true);
    // Any 11 sends span at least a second, any 501 at least a minute (the 501st waited for the 1st's minute).
    expect(tightestSpan(sent, 10)).toBeGreaterThanOrEqual(1_000);
    expect(tightestSpan(sent, 500)).toBeGreaterThanOrEqual(60_000);
    expect(client.load).toMatchObject({ inFlight: 0, queued: 0, peakInFlight: 10 });
    console.info(
      `[figures] 600-call burst, one connection: ${counters.api429s} x 429, ${counters.apiCalls} calls, ` +
        `${(tookMs / 1000).toFixed(1)} s (first to last send ${seconds(sent)} s; ` +
        `the limits allow no less than 59.9 s + 9.9 s), peak in flight ${counters.maxApiInFlightByRealm[emulator.realmId]}`,
    );
  }, 180_000);

  it('two connections bursting at once each get their own 10 a second', async () => {
    const desk_ = await desk();
    await addCompanies(desk_, [REALM_A, REALM_B]);
    emulator.control.resetCounters();
    const [a, b] = [REALM_A, REALM_B].map((realm) => desk_.connections.desk(realm).client());
    const began = Date.now();
    const perConnection = 40;
    await Promise.all(
      Array.from({ length: perConnection }, () => [a.getCompanyInfo(), b.getCompanyInfo()]).flat(),
    );
    const tookMs = Date.now() - began;

    const counters = emulator.control.counters();
    expect(counters.apiCalls).toBe(2 * perConnection);
    expect(counters.api429s).toBe(0);
    const sentA = sendTimes(REALM_A);
    const sentB = sendTimes(REALM_B);
    expect([sentA.length, sentB.length]).toEqual([perConnection, perConnection]);
    // Each within its own limit...
    expect(tightestSpan(sentA, 10)).toBeGreaterThanOrEqual(1_000);
    expect(tightestSpan(sentB, 10)).toBeGreaterThanOrEqual(1_000);
    // ...and neither waiting for the other's: every second, both sent their full ten (20 sends in
    // under a second, which one shared budget could never allow).
    for (let batch = 0; batch < perConnection / 10; batch += 1) {
      const both = [...sentA.slice(batch * 10, batch * 10 + 10), ...sentB.slice(batch * 10, batch * 10 + 10)];
      expect(Math.max(...both) - Math.min(...both), `second ${batch + 1}`).toBeLessThan(1_000);
    }
    console.info(
      `[figures] two connections x ${perConnection} calls at once: ${counters.api429s} x 429, ` +
        `${(tookMs / 1000).toFixed(1)} s in all (A's sends over ${seconds(sentA)} s, B's over ${seconds(sentB)} s)`,
    );
  }, 60_000);
});
