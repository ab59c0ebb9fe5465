import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator } from './index';
import { apiGet, companyInfoPath, refresh, str } from './test-support';
import type { EmulatorHandle } from './types';

let emu: EmulatorHandle;
let token: string;

beforeEach(async () => {
  emu = await startEmulator();
  token = str((await refresh(emu, emu.refreshToken)).json?.access_token);
});
afterEach(async () => {
  await emu.close();
});

function faultCode(json: Record<string, unknown> | null): string | undefined {
  return (json?.fault as { error: { code: string; message: string }[] } | undefined)?.error[0]?.code;
}

describe('throttling (fault 3001)', () => {
  it('answers 429 past 10 concurrent requests per company and records the peak in flight', async () => {
    emu.control.configure({ apiLatencyMs: 1000 });
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => apiGet(emu, companyInfoPath(emu.realmId), token)),
    );
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(2);
    const throttled = answers.find((a) => a.status === 429);
    expect(faultCode(throttled?.json ?? null)).toBe('3001');
    const fault = throttled?.json?.fault as { error: { message: string }[] };
    expect(fault.error[0]?.message).toBe('message=ThrottleExceeded; errorCode=003001; statusCode=429');
    const counters = emu.control.counters();
    expect(counters.api429s).toBe(2);
    // 10 held for a second, so each throttled arrival overlaps them: the peak counts every arrival, not just those admitted
    expect(counters.maxApiInFlightByRealm[emu.realmId]).toBeGreaterThanOrEqual(11);
    // once they finish, the company is admitted again
    expect((await apiGet(emu, companyInfoPath(emu.realmId), token)).status).toBe(200);
  });

  it('answers 429 past 500 requests a minute per company, and admits again a minute later', async () => {
    let ok = 0;
    for (let batch = 0; batch < 50; batch += 1) {
      const answers = await Promise.all(
        Array.from({ length: 10 }, () => apiGet(emu, companyInfoPath(emu.realmId), token)),
      );
      ok += answers.filter((a) => a.status === 200).length;
    }
    expect(ok).toBe(500);
    const over = await apiGet(emu, companyInfoPath(emu.realmId), token);
    expect(over.status).toBe(429);
    expect(faultCode(over.json)).toBe('3001');
    // another company is not affected
    const other = emu.control.issueAuthorization('123145');
    expect((await apiGet(emu, companyInfoPath('123145'), other.accessToken)).status).toBe(200);
    emu.control.advanceClock(61);
    expect((await apiGet(emu, companyInfoPath(emu.realmId), token)).status).toBe(200);
  });

  it('uses the capitalised spelling for 429 when configured', async () => {
    emu.control.configure({ faultSpelling: 'capital', maxRequestsPerMinutePerRealm: 1 });
    expect((await apiGet(emu, companyInfoPath(emu.realmId), token)).status).toBe(200);
    const over = await apiGet(emu, companyInfoPath(emu.realmId), token);
    expect(over.status).toBe(429);
    expect((over.json?.Fault as { Error: { code: string }[] }).Error[0]?.code).toBe('3001');
  });
});
