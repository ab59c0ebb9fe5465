import { XMLParser } from 'fast-xml-parser';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator } from './index';
import { apiGet, companyInfoPath, faultOf, queryPath, refresh, str } from './test-support';
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

const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', parseTagValue: false });

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

describe('reads', () => {
  it('reads CompanyInfo with a valid Bearer token', async () => {
    const res = await apiGet(emu, companyInfoPath(emu.realmId), await accessToken());
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json;charset=UTF-8');
    expect(res.headers.get('intuit_tid')).toBeTruthy();
    const info = res.json?.CompanyInfo as Record<string, unknown>;
    expect(info.CompanyName).toBe('Demo Landscaping LLC');
    expect(info.LegalName).toBe('Demo Landscaping LLC');
    expect(info.Id).toBe('1');
    expect(typeof res.json?.time).toBe('string');
  });

  it.each([
    ['account', 'Account', '1', 'Name', 'Checking'],
    ['customer', 'Customer', '3', 'DisplayName', 'Cool Cars'],
    ['vendor', 'Vendor', '4', 'DisplayName', 'Hicks Hardware'],
    ['item', 'Item', '2', 'Name', 'Gardening'],
    ['invoice', 'Invoice', '1', 'DocNumber', '1001'],
  ])('reads %s by Id: GET /v3/company/{realm}/%s/{id}', async (path, entity, id, field, value) => {
    const token = await accessToken();
    const res = await apiGet(emu, `/v3/company/${emu.realmId}/${path}/${id}?minorversion=75`, token);
    expect(res.status).toBe(200);
    const row = res.json?.[entity] as Record<string, unknown>;
    expect(row).toMatchObject({ Id: id, [field]: value, domain: 'QBO', sparse: false, SyncToken: '0' });
  });

  it('ties the seeded entities together by reference', async () => {
    const token = await accessToken();
    const invoice = (await apiGet(emu, `/v3/company/${emu.realmId}/invoice/2`, token)).json?.Invoice as {
      CustomerRef: { value: string; name: string };
      Line: { Amount: number }[];
      TotalAmt: number;
    };
    const customer = (
      await apiGet(emu, `/v3/company/${emu.realmId}/customer/${invoice.CustomerRef.value}`, token)
    ).json?.Customer as { DisplayName: string };
    expect(customer.DisplayName).toBe(invoice.CustomerRef.name);
    expect(invoice.Line.at(-1)?.Amount).toBe(invoice.TotalAmt);
  });

  it("answers Intuit's Object Not Found fault (400, capitalised) for an unknown Id", async () => {
    const res = await apiGet(emu, `/v3/company/${emu.realmId}/customer/999`, await accessToken());
    expect(res.status).toBe(400);
    expect(Object.keys(res.json ?? {}).sort()).toEqual(['Fault', 'time']);
    expect(res.json?.Fault).toEqual({
      Error: [
        {
          Message: 'Object Not Found',
          Detail:
            "Object Not Found : Something you're trying to use has been made inactive. Check the fields with accounts, customers, items, vendors or employees.",
          code: '610',
          element: '',
        },
      ],
      type: 'ValidationFault',
    });
    expect(String(res.json?.time)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}-08:00$/);
  });

  it('answers Unsupported Operation for an entity it does not serve', async () => {
    const res = await apiGet(emu, `/v3/company/${emu.realmId}/payment/1`, await accessToken());
    expect(res.status).toBe(400);
    expect(faultOf(res.json)).toMatchObject({ spelling: 'capital', error: { code: '500' } });
  });
});

describe('XML unless JSON is asked for', () => {
  it.each([
    ['no Accept header', null],
    ['Accept: application/xml', 'application/xml'],
    ['Accept: */*', '*/*'],
  ])('answers XML with %s', async (_label, accept) => {
    const res = await apiGet(emu, companyInfoPath(emu.realmId), await accessToken(), accept);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/xml;charset=UTF-8');
    const doc = xml.parse(res.text) as { IntuitResponse: Record<string, unknown> };
    const info = doc.IntuitResponse.CompanyInfo as Record<string, unknown>;
    expect(doc.IntuitResponse['@xmlns']).toBe('http://schema.intuit.com/finance/v3');
    expect(doc.IntuitResponse['@time']).toMatch(/-08:00$/);
    expect(info).toMatchObject({
      '@domain': 'QBO',
      '@sparse': 'false',
      Id: '1',
      CompanyName: 'Demo Landscaping LLC',
    });
  });

  it('answers JSON when Accept lists application/json among others (as axios sends it)', async () => {
    const res = await apiGet(
      emu,
      companyInfoPath(emu.realmId),
      await accessToken(),
      'application/json, text/plain, */*',
    );
    expect(res.headers.get('content-type')).toBe('application/json;charset=UTF-8');
    expect((res.json?.CompanyInfo as { CompanyName: string }).CompanyName).toBe('Demo Landscaping LLC');
  });

  it('writes references, lists and query paging the way Intuit does', async () => {
    const token = await accessToken();
    const invoice = xml.parse(
      (await apiGet(emu, `/v3/company/${emu.realmId}/invoice/1`, token, null)).text,
    ) as {
      IntuitResponse: { Invoice: Record<string, unknown> };
    };
    expect(invoice.IntuitResponse.Invoice.CustomerRef).toEqual({
      '#text': '1',
      '@name': "Amy's Bird Sanctuary",
    });
    expect(invoice.IntuitResponse.Invoice.Line).toHaveLength(3);

    const query = xml.parse(
      (
        await apiGet(
          emu,
          queryPath(emu.realmId, 'select * from Vendor maxresults 2'),
          token,
          'application/xml',
        )
      ).text,
    ) as { IntuitResponse: { QueryResponse: Record<string, unknown> } };
    expect(query.IntuitResponse.QueryResponse).toMatchObject({ '@startPosition': '1', '@maxResults': '2' });
    expect(query.IntuitResponse.QueryResponse.Vendor).toHaveLength(2);
  });

  it('answers faults in XML too, each with its type and code', async () => {
    const token = await accessToken();
    const notFound = await apiGet(emu, `/v3/company/${emu.realmId}/item/99`, token, null);
    expect(notFound.status).toBe(400);
    const doc = xml.parse(notFound.text) as { IntuitResponse: { Fault: Record<string, unknown> } };
    expect(doc.IntuitResponse.Fault).toEqual({
      '@type': 'ValidationFault',
      Error: {
        '@code': '610',
        '@element': '',
        Message: 'Object Not Found',
        Detail: expect.stringMatching(/^Object Not Found : /) as unknown,
      },
    });
    const unauthorized = await apiGet(emu, companyInfoPath(emu.realmId), 'not-a-token', null);
    expect(unauthorized.status).toBe(401);
    const fault = (xml.parse(unauthorized.text) as { IntuitResponse: { Fault: Record<string, unknown> } })
      .IntuitResponse.Fault;
    expect(fault).toMatchObject({ '@type': 'AUTHENTICATION', Error: { '@code': '3200' } });
  });
});

describe("faults in Intuit's mix of spellings", () => {
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

  it('answers 403 AuthorizationFailed (3100) for another company, capitalised', async () => {
    const res = await apiGet(emu, companyInfoPath('123'), await accessToken());
    expect(res.status).toBe(403);
    expect(faultOf(res.json)).toMatchObject({
      spelling: 'capital',
      type: 'AuthorizationFault',
      error: {
        code: '3100',
        Message: 'message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403',
      },
    });
  });

  it('faultSpelling capital or lower forces one spelling on every fault', async () => {
    const token = await accessToken();
    emu.control.configure({ faultSpelling: 'capital' });
    const capital401 = await apiGet(emu, companyInfoPath(emu.realmId), 'not-a-token');
    expect(Object.keys(capital401.json ?? {}).sort()).toEqual(['Fault', 'time']);
    expect(faultOf(capital401.json)).toMatchObject({
      type: 'AuthenticationFault',
      error: { Message: 'message=AuthenticationFailed; errorCode=003200; statusCode=401', code: '3200' },
    });
    expect(typeof faultOf(capital401.json).error.Detail).toBe('string');

    emu.control.configure({ faultSpelling: 'lower' });
    const lower400 = await apiGet(emu, `/v3/company/${emu.realmId}/account/77`, token);
    expect(faultOf(lower400.json)).toMatchObject({
      spelling: 'lower',
      type: 'VALIDATION',
      error: { message: 'Object Not Found', code: '610', element: '' },
    });

    emu.control.configure({ faultSpelling: 'intuit' });
    expect(faultOf((await apiGet(emu, companyInfoPath(emu.realmId), 'x')).json).spelling).toBe('lower');
    expect(faultOf((await apiGet(emu, `/v3/company/${emu.realmId}/account/77`, token)).json).spelling).toBe(
      'capital',
    );
  });

  it('answers 401 after a server-side access token revoke, and a refreshed token works again', async () => {
    const token = await accessToken();
    expect((await apiGet(emu, companyInfoPath(emu.realmId), token)).status).toBe(200);
    emu.control.revokeAccessTokens();
    expect((await apiGet(emu, companyInfoPath(emu.realmId), token)).status).toBe(401);
    expect((await apiGet(emu, companyInfoPath(emu.realmId), await accessToken())).status).toBe(200);
  });
});
