import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator } from './index';
import { apiGet, companyInfoPath, faultOf, refresh, str } from './test-support';
import type { EmulatorHandle } from './types';

let emu: EmulatorHandle;
let token: string;
let now: number;

beforeEach(async () => {
  // A frozen clock: the per-second and per-minute windows move only when a test moves them.
  now = Date.parse('2026-11-30T12:00:00Z');
  emu = await startEmulator({ clock: () => now });
  token = str((await refresh(emu, emu.refreshToken)).json?.access_token);
});
afterEach(async () => {
  await emu.close();
});

function companyInfo(accessToken = token, realmId = emu.realmId) {
  return apiGet(emu, companyInfoPath(realmId), accessToken);
}

const THROTTLE_BODY = {
  Fault: {
    Error: [
      {
        Message: 'message=ThrottleExceeded; errorCode=003001; statusCode=429',
        Detail: 'The request limit was reached.  Try again later',
        code: '3001',
      },
    ],
    type: 'SERVICE',
  },
};

describe('throttling (fault 3001 ThrottleExceeded)', () => {
  it("answers past 10 requests a second per company and app with Intuit's 429 body", async () => {
    const answers = [];
    for (let i = 0; i < 11; i += 1) answers.push(await companyInfo());
    expect(answers.slice(0, 10).every((a) => a.status === 200)).toBe(true);
    const over = answers[10];
    expect(over?.status).toBe(429);
    expect(over?.json).toMatchObject(THROTTLE_BODY);
    expect(Object.keys(over?.json ?? {}).sort()).toEqual(['Fault', 'time']);
    expect(emu.control.counters().api429s).toBe(1);
    // another company is not affected
    const other = emu.control.issueAuthorization('123145');
    expect((await companyInfo(other.accessToken, '123145')).status).toBe(200);
    now += 1000;
    expect((await companyInfo()).status).toBe(200);
  });

  it('answers 429 past 10 concurrent requests per company and records the peak in flight', async () => {
    emu.control.configure({ apiLatencyMs: 1000, maxRequestsPerSecondPerRealm: 100 });
    const answers = await Promise.all(Array.from({ length: 12 }, () => companyInfo()));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(2);
    expect(answers.find((a) => a.status === 429)?.json).toMatchObject(THROTTLE_BODY);
    const counters = emu.control.counters();
    expect(counters.api429s).toBe(2);
    // 10 held for a second, so each throttled arrival overlaps them: the peak counts every arrival, not just those admitted
    expect(counters.maxApiInFlightByRealm[emu.realmId]).toBeGreaterThanOrEqual(11);
    // once they finish, the company is admitted again
    expect((await companyInfo()).status).toBe(200);
  });

  it('answers 429 past 500 requests a minute per company, and admits again a minute later', async () => {
    let ok = 0;
    for (let second = 0; second < 50; second += 1) {
      const answers = await Promise.all(Array.from({ length: 10 }, () => companyInfo()));
      ok += answers.filter((a) => a.status === 200).length;
      now += 1000;
    }
    expect(ok).toBe(500);
    const over = await companyInfo();
    expect(over.status).toBe(429);
    expect(faultOf(over.json).error.code).toBe('3001');
    now += 11_000; // the first second's 10 leave the minute window
    expect((await companyInfo()).status).toBe(200);
  });

  it('answers XML without Accept: application/json, and the lower-case spelling when forced', async () => {
    emu.control.configure({ maxRequestsPerMinutePerRealm: 1 });
    expect((await companyInfo()).status).toBe(200);
    const asXml = await apiGet(emu, companyInfoPath(emu.realmId), token, null);
    expect(asXml.status).toBe(429);
    expect(asXml.text).toContain('<Fault type="SERVICE">');
    expect(asXml.text).toContain('<Error code="3001">');
    expect(asXml.text).toContain(
      '<Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>',
    );
    emu.control.configure({ faultSpelling: 'lower' });
    const lower = await companyInfo();
    expect(faultOf(lower.json)).toMatchObject({
      spelling: 'lower',
      type: 'SERVICE',
      error: { code: '3001' },
    });
  });
});
