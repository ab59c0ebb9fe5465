import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator } from './index';
import { apiGet, companyInfoPath, refresh, str } from './test-support';
import type { EmulatorHandle } from './types';

let emu: EmulatorHandle;

beforeEach(async () => {
  emu = await startEmulator({ companyName: 'Demo Landscaping LLC' });
});
afterEach(async () => {
  await emu.close();
});

async function accessToken(): Promise<string> {
  return str((await refresh(emu, emu.refreshToken)).json?.access_token);
}

const LOWER_401_KEYS = [
  'attachableResponse',
  'batchItemResponse',
  'cdcresponse',
  'fault',
  'intuitObject',
  'queryResponse',
  'report',
  'requestId',
  'status',
  'syncErrorResponse',
  'time',
  'warnings',
];

describe('Accounting API', () => {
  it('reads CompanyInfo with a valid Bearer token', async () => {
    const res = await apiGet(emu, companyInfoPath(emu.realmId), await accessToken());
    expect(res.status).toBe(200);
    expect(res.headers.get('intuit_tid')).toBeTruthy();
    const info = res.json?.CompanyInfo as Record<string, unknown>;
    expect(info.CompanyName).toBe('Demo Landscaping LLC');
    expect(info.LegalName).toBe('Demo Landscaping LLC');
    expect(info.Id).toBe('1');
    expect(typeof res.json?.time).toBe('string');
  });

  it('queries CompanyInfo and the seeded Customers', async () => {
    const token = await accessToken();
    const base = `/v3/company/${emu.realmId}/query?minorversion=75&query=`;
    const company = await apiGet(emu, base + encodeURIComponent('select * from CompanyInfo'), token);
    expect(company.status).toBe(200);
    const companyList = (company.json?.QueryResponse as Record<string, unknown>).CompanyInfo as unknown[];
    expect(companyList).toHaveLength(1);

    const customers = await apiGet(
      emu,
      base + encodeURIComponent('SELECT * FROM Customer MAXRESULTS 3'),
      token,
    );
    const qr = customers.json?.QueryResponse as Record<string, unknown>;
    expect(qr.startPosition).toBe(1);
    expect(qr.maxResults).toBe(3);
    expect((qr.Customer as { DisplayName: string }[])[0]?.DisplayName).toBe("Amy's Bird Sanctuary");

    const count = await apiGet(emu, base + encodeURIComponent('select count(*) from Customer'), token);
    expect((count.json?.QueryResponse as Record<string, unknown>).totalCount).toBe(8);

    const filtered = await apiGet(
      emu,
      base + encodeURIComponent("select * from Customer where DisplayName = 'Cool Cars'"),
      token,
    );
    expect(((filtered.json?.QueryResponse as Record<string, unknown>).Customer as unknown[]).length).toBe(1);

    const bad = await apiGet(emu, base + encodeURIComponent('select * from Nothing'), token);
    expect(bad.status).toBe(400);
    expect((bad.json?.fault as { error: { code: string }[] }).error[0]?.code).toBe('4000');
  });

  it('answers 401 with the lower-case fault body without, with an unknown or with an expired token', async () => {
    const token = await accessToken();
    emu.control.advanceClock(3600);
    for (const res of [
      await apiGet(emu, companyInfoPath(emu.realmId)),
      await apiGet(emu, companyInfoPath(emu.realmId), 'not-a-token'),
      await apiGet(emu, companyInfoPath(emu.realmId), token),
    ]) {
      expect(res.status).toBe(401);
      expect(Object.keys(res.json ?? {}).sort()).toEqual(LOWER_401_KEYS);
      const fault = res.json?.fault as { error: Record<string, unknown>[]; type: string };
      expect(fault.type).toBe('AUTHENTICATION');
      expect(fault.error[0]).toMatchObject({
        message: 'message=AuthenticationFailed; errorCode=003200; statusCode=401',
        code: '3200',
        element: null,
      });
      expect(typeof res.json?.time).toBe('number');
      expect(res.json?.batchItemResponse).toEqual([]);
    }
    expect(emu.control.counters().api401s).toBe(3);
  });

  it('answers 401 in the capitalised Fault spelling when configured', async () => {
    emu.control.configure({ faultSpelling: 'capital' });
    const res = await apiGet(emu, companyInfoPath(emu.realmId), 'not-a-token');
    expect(res.status).toBe(401);
    expect(Object.keys(res.json ?? {}).sort()).toEqual(['Fault', 'time']);
    const fault = res.json?.Fault as { Error: Record<string, unknown>[]; type: string };
    expect(fault.type).toBe('AuthenticationFault');
    expect(fault.Error[0]).toMatchObject({
      Message: 'message=AuthenticationFailed; errorCode=003200; statusCode=401',
      code: '3200',
    });
    expect(typeof fault.Error[0]?.Detail).toBe('string');
  });

  it('answers 401 after a server-side access token revoke, and a refreshed token works again', async () => {
    const token = await accessToken();
    expect((await apiGet(emu, companyInfoPath(emu.realmId), token)).status).toBe(200);
    emu.control.revokeAccessTokens();
    expect((await apiGet(emu, companyInfoPath(emu.realmId), token)).status).toBe(401);
    expect((await apiGet(emu, companyInfoPath(emu.realmId), await accessToken())).status).toBe(200);
  });

  it('answers 403 AuthorizationFailed (3100) for another company', async () => {
    const res = await apiGet(emu, companyInfoPath('123'), await accessToken());
    expect(res.status).toBe(403);
    expect((res.json?.fault as { error: { code: string }[] }).error[0]?.code).toBe('3100');
  });
});
