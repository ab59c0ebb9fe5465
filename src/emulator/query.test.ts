// The query endpoint over real HTTP: Intuit's QueryResponse shape, the subset of its query language
// the seeded company needs, and Intuit's query faults.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from './index';
import { seededCustomers } from './intuit-bodies';
import { apiGet, faultOf, queryPath, refresh, str } from './test-support';
import type { EmulatorHandle } from './types';

let emu: EmulatorHandle;
let token: string;

beforeAll(async () => {
  emu = await startEmulator({ maxRequestsPerSecondPerRealm: 1000 });
  token = str((await refresh(emu, emu.refreshToken)).json?.access_token);
});
afterAll(async () => {
  await emu.close();
});

async function query(statement: string): Promise<{ status: number; json: Record<string, unknown> | null }> {
  return apiGet(emu, queryPath(emu.realmId, statement), token);
}

async function rows(statement: string): Promise<Record<string, unknown>[]> {
  const res = await query(statement);
  expect(res.status).toBe(200);
  const response = res.json?.QueryResponse as Record<string, unknown>;
  const list = Object.values(response).find(Array.isArray) as Record<string, unknown>[] | undefined;
  return list ?? [];
}

describe('select * from X', () => {
  it.each([
    ['Account', 10],
    ['Customer', 8],
    ['Vendor', 6],
    ['Item', 6],
    ['Invoice', 5],
    ['CompanyInfo', 1],
  ])('answers %s in a QueryResponse with startPosition and maxResults', async (entity, count) => {
    const res = await query(`select * from ${entity}`);
    expect(res.status).toBe(200);
    expect(Object.keys(res.json ?? {}).sort()).toEqual(['QueryResponse', 'time']);
    const response = res.json?.QueryResponse as Record<string, unknown>;
    expect(response).toMatchObject({ startPosition: 1, maxResults: count });
    expect(response[entity]).toHaveLength(count);
  });

  it('takes the entity name in any case (node-quickbooks sends it in lower case)', async () => {
    expect(await rows('SELECT * FROM account')).toHaveLength(10);
  });

  it('counts with count(*)', async () => {
    const res = await query('select count(*) from Customer');
    expect(res.json?.QueryResponse).toEqual({ totalCount: 8 });
    const filtered = await query("select count(*) from Item where Type = 'Inventory'");
    expect(filtered.json?.QueryResponse).toEqual({ totalCount: 2 });
  });
});

describe('where, paging and order', () => {
  it('filters on Id and on names, quoted or not', async () => {
    expect((await rows("select * from Customer where Id = '3'")).map((r) => r.DisplayName)).toEqual([
      'Cool Cars',
    ]);
    expect((await rows('select * from Customer where Id = 3')).map((r) => r.DisplayName)).toEqual([
      'Cool Cars',
    ]);
    expect((await rows("select * from Account where Name = 'Savings'")).map((r) => r.Id)).toEqual(['2']);
    expect((await rows("select * from Customer where DisplayName = 'cool cars'")).map((r) => r.Id)).toEqual([
      '3',
    ]);
    expect((await rows("select * from Vendor where DisplayName = 'PG&E'")).map((r) => r.Id)).toEqual(['6']);
  });

  it('handles an escaped quote inside a value, and AND inside one', async () => {
    const amy = await rows("select * from Customer where DisplayName = 'Amy\\'s Bird Sanctuary'");
    expect(amy.map((r) => r.Id)).toEqual(['1']);
    expect(
      await rows(
        "select * from Vendor where DisplayName = 'Norton Lumber and Building Materials' and Active = true",
      ),
    ).toHaveLength(1);
  });

  it('supports LIKE, IN, comparisons and a reference compared by its value', async () => {
    expect((await rows("select * from Customer where DisplayName like 'D%'")).map((r) => r.Id)).toEqual([
      '4',
      '5',
    ]);
    expect((await rows("select * from Account where Id in ('1', '3', '99')")).map((r) => r.Id)).toEqual([
      '1',
      '3',
    ]);
    expect((await rows('select * from Customer where Balance > 100')).map((r) => r.Id)).toEqual([
      '1',
      '6',
      '7',
    ]);
    expect((await rows("select * from Invoice where CustomerRef = '6'")).map((r) => r.DocNumber)).toEqual([
      '1002',
    ]);
    expect(
      (await rows("select * from Invoice where TxnDate >= '2026-03-01'")).map((r) => r.DocNumber),
    ).toEqual(['1004', '1005']);
  });

  it('pages with startposition and maxresults', async () => {
    const all = seededCustomers().map((c) => c.Id);
    const res = await query('select * from Customer startposition 3 maxresults 4');
    const response = res.json?.QueryResponse as {
      Customer: { Id: string }[];
      startPosition: number;
      maxResults: number;
    };
    expect(response.startPosition).toBe(3);
    expect(response.maxResults).toBe(4);
    expect(response.Customer.map((c) => c.Id)).toEqual(all.slice(2, 6));
    // past the end: Intuit's empty QueryResponse
    const beyond = await query('select * from Customer startposition 50');
    expect(beyond.json?.QueryResponse).toEqual({});
  });

  it('orders with orderby, ascending or descending', async () => {
    const desc = await rows('select * from Customer orderby Balance desc maxresults 2');
    expect(desc.map((r) => r.DisplayName)).toEqual(['Geeta Kalapatapu', 'Freeman Sporting Goods']);
    const asc = await rows('select * from Vendor orderby DisplayName');
    expect(asc[0]?.DisplayName).toBe("Bob's Burger Joint");
  });

  it('selects named fields as sparse rows', async () => {
    const [first] = await rows("select Id, Name from Account where Id = '1'");
    expect(first).toMatchObject({ Id: '1', Name: 'Checking', sparse: true });
    expect(first).not.toHaveProperty('AccountType');
  });
});

describe("Intuit's query faults", () => {
  it('answers a statement it cannot parse with 4000 Error parsing query', async () => {
    for (const statement of [
      'select from Customer',
      'select * from Customer where',
      "select * from Customer where Id = '1",
    ]) {
      const res = await query(statement);
      expect(res.status).toBe(400);
      expect(faultOf(res.json)).toMatchObject({
        spelling: 'capital',
        type: 'ValidationFault',
        error: { Message: 'Error parsing query', code: '4000' },
      });
      expect(String(faultOf(res.json).error.Detail)).toMatch(/^QueryParserError: /);
    }
  });

  it('answers an unknown entity with 4000, an unknown property with 4001', async () => {
    expect(faultOf((await query('select * from Nothing')).json).error.code).toBe('4000');
    const res = await query("select * from Customer where Name = 'x'");
    expect(res.status).toBe(400);
    expect(faultOf(res.json).error).toMatchObject({
      Message: 'Invalid query',
      Detail: "QueryValidationError: property 'Name' is not queryable",
      code: '4001',
    });
  });
});
