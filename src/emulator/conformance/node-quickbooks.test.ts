// Conformance: node-quickbooks 2.0.50 against the emulator, unpatched. It hard-codes Intuit's hosts
// but keeps them in static properties its TypeScript declarations publish, which is the one public
// way to point it elsewhere (src/emulator/README.md shows it):
//   QuickBooks.V3_ENDPOINT_BASE_URL = `${apiBaseUrl}/v3/company/`   (read when an instance is made)
//   QuickBooks.TOKEN_URL, QuickBooks.REVOKE_URL
// It sends `Accept: application/json, text/plain, */*` (axios's default) and `format=json`, so it
// gets JSON; its revokeAccess() posts a form body rather than Intuit's documented JSON.
import QuickBooks, { type QuickBooksCallback } from 'node-quickbooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator } from '../index';
import type { EmulatorHandle, IssuedTokens } from '../types';

let emu: EmulatorHandle;
let issued: IssuedTokens;
let qbo: QuickBooks;
const saved = {
  base: QuickBooks.V3_ENDPOINT_BASE_URL,
  token: QuickBooks.TOKEN_URL,
  revoke: QuickBooks.REVOKE_URL,
};

beforeAll(async () => {
  emu = await startEmulator({ companyName: 'Conformance Landscaping' });
  QuickBooks.V3_ENDPOINT_BASE_URL = `${emu.apiBaseUrl}/v3/company/`;
  QuickBooks.TOKEN_URL = emu.tokenUrl;
  QuickBooks.REVOKE_URL = emu.revokeUrl;
});

afterAll(async () => {
  QuickBooks.V3_ENDPOINT_BASE_URL = saved.base;
  QuickBooks.TOKEN_URL = saved.token;
  QuickBooks.REVOKE_URL = saved.revoke;
  await emu.close();
});

let companies = 0;

beforeEach(() => {
  // A connection made elsewhere (the tokens an app would have stored after Connect), each test to
  // its own company: Intuit's (and the emulator's) 10 requests a second per company would otherwise
  // throttle a suite that runs this fast.
  companies += 1;
  issued = emu.control.issueAuthorization(String(4_620_816_365_000_000 + companies));
  qbo = new QuickBooks(
    emu.clientId,
    emu.clientSecret,
    issued.accessToken,
    false, // no OAuth 1.0a token secret
    issued.realmId,
    true, // sandbox
    false, // debug
    null, // minor version: its default, 75
    '2.0',
    issued.refreshToken,
  );
});

/**
 * node-quickbooks' (err, data, res) callbacks as a promise of what the emulator answered (typed by the
 * caller: the library's declarations describe the unwrapped entity loosely), or the error.
 */
function call<Answer>(run: (callback: QuickBooksCallback<unknown>) => void): Promise<Answer> {
  return new Promise((resolve, reject) => {
    run((err, data) => (err ? reject(err as unknown as Error) : resolve(data as Answer)));
  });
}

describe('node-quickbooks 2.0.50', () => {
  it('getCompanyInfo reads the emulated company', async () => {
    const info = await call<{ CompanyName: string; Id: string }>((cb) =>
      qbo.getCompanyInfo(issued.realmId, cb),
    );
    expect(info).toMatchObject({ CompanyName: 'Conformance Landscaping', Id: '1' });
  });

  it('findAccounts lists the seeded accounts, and filters them', async () => {
    const all = await call<{ QueryResponse: { Account: { Name: string }[]; maxResults: number } }>((cb) =>
      qbo.findAccounts(cb),
    );
    expect(all.QueryResponse.Account).toHaveLength(10);
    const banks = await call<{ QueryResponse: { Account: { Name: string }[] } }>((cb) =>
      qbo.findAccounts({ AccountType: 'Bank' }, cb),
    );
    expect(banks.QueryResponse.Account.map((a) => a.Name)).toEqual(['Checking', 'Savings']);
  });

  it('findCustomers filters by name (quotes escaped), counts and fetches every page', async () => {
    const amy = await call<{ QueryResponse: { Customer: { Id: string }[] } }>((cb) =>
      qbo.findCustomers([{ field: 'DisplayName', value: "Amy's Bird Sanctuary", operator: '=' }], cb),
    );
    expect(amy.QueryResponse.Customer.map((c) => c.Id)).toEqual(['1']);
    const like = await call<{ QueryResponse: { Customer: { Id: string }[] } }>((cb) =>
      qbo.findCustomers([{ field: 'DisplayName', value: 'D%', operator: 'LIKE' }], cb),
    );
    expect(like.QueryResponse.Customer.map((c) => c.Id)).toEqual(['4', '5']);
    const count = await call<{ QueryResponse: { totalCount: number } }>((cb) =>
      qbo.findCustomers({ count: true }, cb),
    );
    expect(count.QueryResponse.totalCount).toBe(8);
    const paged = await call<{ QueryResponse: { Customer: unknown[] } }>((cb) =>
      qbo.findCustomers({ fetchAll: true, limit: 3 }, cb),
    );
    expect(paged.QueryResponse.Customer).toHaveLength(8);
  });

  it("getCustomer reads one customer, and an unknown Id comes back as Intuit's 400 fault", async () => {
    const customer = await call<{ DisplayName: string }>((cb) => qbo.getCustomer('3', cb));
    expect(customer.DisplayName).toBe('Cool Cars');
    const error = (await call((cb) => qbo.getCustomer('999', cb)).catch((e: unknown) => e)) as {
      response: { status: number; data: { Fault: { Error: { code: string }[]; type: string } } };
    };
    expect(error.response.status).toBe(400);
    expect(error.response.data.Fault).toMatchObject({ type: 'ValidationFault', Error: [{ code: '610' }] });
  });

  it('refreshAccessToken gets a new access token that works', async () => {
    const answer = await call<{ access_token: string; refresh_token: string; token_type: string }>((cb) =>
      qbo.refreshAccessToken(cb),
    );
    expect(answer.token_type).toBe('bearer');
    expect(qbo.token).toBe(answer.access_token);
    expect(qbo.token).not.toBe(issued.accessToken);
    expect(qbo.refreshToken).toBe(answer.refresh_token);
    const info = await call<{ CompanyName: string }>((cb) => qbo.getCompanyInfo(issued.realmId, cb));
    expect(info.CompanyName).toBe('Conformance Landscaping');
  });

  it('revokeAccess (its form body) ends the connection', async () => {
    const refreshToken = issued.refreshToken;
    await call((cb) => qbo.revokeAccess(true, cb));
    expect(qbo.refreshToken).toBeNull();
    expect(emu.control.isRefreshTokenValid(refreshToken)).toBe(false);
    const after = await call((cb) => {
      qbo.refreshToken = refreshToken;
      qbo.refreshAccessToken(cb);
    }).catch((e: unknown) => e as { response: { status: number; data: { error: string } } });
    expect(after).toMatchObject({ response: { status: 400, data: { error: 'invalid_grant' } } });
  });

  it('revokeAccess with the access token ends the whole connection too', async () => {
    await call((cb) => qbo.revokeAccess(false, cb));
    expect(emu.control.isRefreshTokenValid(issued.refreshToken)).toBe(false);
  });
});
