// The consent page's company selector, over real HTTP: a user with several companies picks one,
// and the code, the redirect, the id_token and CompanyInfo are all for the company picked.
import { type JsonWebKey, createPublicKey, verify } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator } from './index';
import {
  apiGet,
  companyInfoPath,
  companyOptions,
  consentRedirect,
  consentUrl,
  control,
  str,
  tokenCall,
} from './test-support';
import type { EmulatorCompany, EmulatorHandle } from './types';

const redirectUri = 'http://127.0.0.1:9999/callback';
const LANTERN: EmulatorCompany = { realmId: '9130350000000001', companyName: 'Lantern Street Books Ltd' };
const ALDER: EmulatorCompany = { realmId: '9130350000000002', companyName: 'Alder & Sons Bikes' };

let emu: EmulatorHandle;
let companies: EmulatorCompany[];

beforeEach(async () => {
  emu = await startEmulator({ companyName: 'Sandbox Company_US_1' });
  companies = [{ realmId: emu.realmId, companyName: 'Sandbox Company_US_1' }, LANTERN, ALDER];
});
afterEach(async () => {
  await emu.close();
});

function authorizeUrl(extra: Record<string, string> = {}): string {
  return consentUrl(emu, redirectUri, {
    scope: 'com.intuit.quickbooks.accounting openid',
    state: 'st-picker',
    ...extra,
  });
}

/** The consent form's fields as the page would post them, plus `extra`. */
function decisionForm(extra: Record<string, string>): URLSearchParams {
  const form = new URLSearchParams(new URL(authorizeUrl()).searchParams);
  for (const [key, value] of Object.entries(extra)) form.set(key, value);
  return form;
}

function postDecision(form: URLSearchParams): Promise<Response> {
  return fetch(new URL('/connect/oauth2/decision', emu.url), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form.toString(),
    redirect: 'manual',
  });
}

async function page(
  url = authorizeUrl(),
): Promise<{ status: number; html: string; location: string | null }> {
  const res = await fetch(url, { redirect: 'manual' });
  return { status: res.status, html: await res.text(), location: res.headers.get('location') };
}

function claimsOf(idToken: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(idToken.split('.')[1] ?? '', 'base64url').toString()) as Record<
    string,
    unknown
  >;
}

async function signatureValid(idToken: string): Promise<boolean> {
  const [header, payload, signature] = idToken.split('.');
  const jwks = (await (await fetch(`${emu.url}/op/v1/jwks`)).json()) as { keys: JsonWebKey[] };
  const key = createPublicKey({ key: jwks.keys[0] as JsonWebKey, format: 'jwk' });
  return verify(
    'sha256',
    Buffer.from(`${header}.${payload}`),
    key,
    Buffer.from(signature ?? '', 'base64url'),
  );
}

describe('one company: no choice, as before', () => {
  it('names the only company and connects it, without a selector', async () => {
    const { status, html } = await page();
    expect(status).toBe(200);
    expect(html).toContain(`<strong>Sandbox Company_US_1</strong> (company ${emu.realmId})`);
    expect(html).not.toContain('<select');
    expect(companyOptions(html)).toEqual([]);
    const location = new URL(await consentRedirect(authorizeUrl()));
    expect(location.searchParams.get('realmId')).toBe(emu.realmId);
  });

  it('declaring one company gives that company, named as declared, still without a choice', async () => {
    emu.control.configure({ companies: [LANTERN], autoApprove: true });
    const { status, location } = await page();
    expect(status).toBe(302);
    const code = str(new URL(location ?? '').searchParams.get('code'));
    expect(new URL(location ?? '').searchParams.get('realmId')).toBe(LANTERN.realmId);
    const tokens = await tokenCall(emu, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
    });
    const info = await apiGet(emu, companyInfoPath(LANTERN.realmId), str(tokens.json?.access_token));
    expect((info.json?.CompanyInfo as Record<string, unknown>).CompanyName).toBe(LANTERN.companyName);
  });
});

describe('several companies: Intuit’s company selector', () => {
  beforeEach(() => {
    emu.control.configure({ companies });
  });

  it('lists the user’s companies by name, in order, in a labelled dropdown with nothing chosen', async () => {
    const { status, html } = await page();
    expect(status).toBe(200);
    expect(companyOptions(html)).toEqual(
      companies.map((c) => ({ realmId: c.realmId, label: c.companyName })),
    );
    expect(html).toContain('<label for="company">Company</label>');
    expect(html).toMatch(
      /<select id="company" name="company" required autofocus aria-describedby="company-hint">/,
    );
    expect(html).toContain('<option value="">Select a company</option>');
    expect(html).not.toMatch(/selected/);
    // Cancel must not need a choice; no company travels as a hidden field.
    expect(html).toMatch(/<button id="cancel"[^>]* formnovalidate>/);
    expect(html).not.toMatch(/type="hidden" name="(company|realm_id)"/);
    expect(html).toContain('<html lang="en">');
  });

  it('connects the company picked: realmId in the redirect, the id_token and CompanyInfo', async () => {
    const location = new URL(await consentRedirect(authorizeUrl(), 'connect', LANTERN.realmId));
    expect(`${location.origin}${location.pathname}`).toBe(redirectUri);
    expect(location.searchParams.get('state')).toBe('st-picker');
    expect(location.searchParams.get('realmId')).toBe(LANTERN.realmId);

    const tokens = await tokenCall(emu, {
      grant_type: 'authorization_code',
      code: str(location.searchParams.get('code')),
      redirect_uri: redirectUri,
    });
    expect(tokens.status).toBe(200);
    const idToken = str(tokens.json?.id_token);
    expect(claimsOf(idToken).realmid).toBe(LANTERN.realmId);
    expect(await signatureValid(idToken)).toBe(true);

    const accessToken = str(tokens.json?.access_token);
    const info = await apiGet(emu, companyInfoPath(LANTERN.realmId), accessToken);
    expect(info.status).toBe(200);
    expect(info.json?.CompanyInfo).toMatchObject({
      CompanyName: LANTERN.companyName,
      LegalName: LANTERN.companyName,
      RealmId: LANTERN.realmId,
    });
    // The token is for the company picked, not the user's others.
    expect((await apiGet(emu, companyInfoPath(emu.realmId), accessToken)).status).toBe(403);
    expect((await apiGet(emu, companyInfoPath(ALDER.realmId), accessToken)).status).toBe(403);
  });

  it('gives every company its own name: each pick reads its own CompanyInfo', async () => {
    for (const company of companies) {
      const location = new URL(await consentRedirect(authorizeUrl(), 'connect', company.realmId));
      expect(location.searchParams.get('realmId')).toBe(company.realmId);
      const tokens = await tokenCall(emu, {
        grant_type: 'authorization_code',
        code: str(location.searchParams.get('code')),
        redirect_uri: redirectUri,
      });
      const info = await apiGet(emu, companyInfoPath(company.realmId), str(tokens.json?.access_token));
      expect((info.json?.CompanyInfo as Record<string, unknown>).CompanyName).toBe(company.companyName);
    }
    // A realm the user does not have (connected by other means) keeps the emulator-wide name.
    const other = emu.control.issueAuthorization('4620816365178447450');
    const info = await apiGet(emu, companyInfoPath(other.realmId), other.accessToken);
    expect((info.json?.CompanyInfo as Record<string, unknown>).CompanyName).toBe('Sandbox Company_US_1');
  });

  it('Connect without a company shows the page again with the error announced, and no redirect', async () => {
    const res = await postDecision(decisionForm({ decision: 'connect', company: '' }));
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    const html = await res.text();
    expect(html).toContain(
      '<p id="company-error" class="error" role="alert">Select a company to connect.</p>',
    );
    expect(html).toMatch(/aria-describedby="company-hint company-error" aria-invalid="true"/);
    expect(companyOptions(html)).toHaveLength(3);
    expect(emu.control.counters().tokenCalls.authorization_code).toBe(0);
  });

  it('Cancel needs no company: access_denied', async () => {
    const location = new URL(await consentRedirect(authorizeUrl(), 'cancel'));
    expect(location.searchParams.get('error')).toBe('access_denied');
    expect(location.searchParams.get('state')).toBe('st-picker');
    expect(location.searchParams.has('realmId')).toBe(false);
  });

  it('refuses a company the user does not have, with an error page and no redirect', async () => {
    const res = await postDecision(decisionForm({ decision: 'connect', company: '4620816365178447450' }));
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.text()).toContain(
      'company 4620816365178447450 is not one of the signed-in user&#39;s companies',
    );
  });

  it('still refuses what Intuit refuses: an unregistered redirect URI or an unknown scope, page or form', async () => {
    const unregistered = await page(authorizeUrl({ redirect_uri: 'https://evil.example/callback' }));
    expect(unregistered.status).toBe(400);
    expect(unregistered.html).toContain('is not registered for this app');
    expect(unregistered.html).not.toContain('<select');
    const badScope = await page(authorizeUrl({ scope: 'com.intuit.quickbooks.accounting admin' }));
    expect(badScope.status).toBe(400);
    expect(badScope.html).toContain('scope admin is not an Intuit scope');

    for (const form of [
      decisionForm({
        decision: 'connect',
        company: LANTERN.realmId,
        redirect_uri: 'https://evil.example/cb',
      }),
      decisionForm({ decision: 'connect', company: LANTERN.realmId, scope: 'admin' }),
    ]) {
      const res = await postDecision(form);
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
    }
  });

  it('autoApprove skips the Connect click, never the choice of company', async () => {
    emu.control.configure({ autoApprove: true });
    const { status, html } = await page();
    expect(status).toBe(200);
    expect(companyOptions(html)).toHaveLength(3);
    const location = new URL(await consentRedirect(authorizeUrl(), 'connect', ALDER.realmId));
    expect(location.searchParams.get('realmId')).toBe(ALDER.realmId);
  });

  it('escapes company names and tells apart two companies that share a name', async () => {
    const twin = { realmId: '9130350000000003', companyName: LANTERN.companyName };
    const odd = { realmId: '9130350000000004', companyName: '<script>alert(1)</script> & Co' };
    emu.control.configure({ companies: [LANTERN, twin, odd] });
    const { html } = await page();
    expect(html).not.toContain('<script>');
    expect(companyOptions(html).map((option) => option.label)).toEqual([
      `${LANTERN.companyName} (company ${LANTERN.realmId})`,
      `${LANTERN.companyName} (company ${twin.realmId})`,
      odd.companyName,
    ]);
  });
});

describe('the emulator-only realm_id shortcut', () => {
  it('connects the realm named, whether or not the user has it, without a choice', async () => {
    emu.control.configure({ companies });
    const declared = await page(authorizeUrl({ realm_id: ALDER.realmId }));
    expect(declared.html).toContain(
      `<strong>${'Alder &#38; Sons Bikes'}</strong> (company ${ALDER.realmId})`,
    );
    expect(declared.html).not.toContain('<select');
    const location = new URL(await consentRedirect(authorizeUrl({ realm_id: '5550401' })));
    expect(location.searchParams.get('realmId')).toBe('5550401');

    emu.control.configure({ autoApprove: true });
    const at = await page(authorizeUrl({ realm_id: LANTERN.realmId }));
    expect(at.status).toBe(302);
    expect(new URL(at.location ?? '').searchParams.get('realmId')).toBe(LANTERN.realmId);
    expect((await page(authorizeUrl({ realm_id: 'abc' }))).html).toContain('realm_id must be digits');
  });
});

describe('declaring the user’s companies', () => {
  it('through startEmulator options and POST /__control/configure', async () => {
    const own = await startEmulator({ companies: [LANTERN, ALDER] });
    try {
      const html = await (await fetch(consentUrl(own, redirectUri))).text();
      expect(companyOptions(html).map((c) => c.realmId)).toEqual([LANTERN.realmId, ALDER.realmId]);
    } finally {
      await own.close();
    }
    const set = await control(emu, 'POST', '/configure', { companies: [ALDER, LANTERN] });
    expect(set.status).toBe(200);
    expect(companyOptions((await page()).html).map((c) => c.label)).toEqual([
      ALDER.companyName,
      LANTERN.companyName,
    ]);
  });

  it.each([
    [[], /companies: expected an array of 1 to 1000 objects/],
    [
      [LANTERN, { ...ALDER, realmId: LANTERN.realmId }],
      /companies: realmId 9130350000000001 is listed twice/,
    ],
    [[{ realmId: '12ab', companyName: 'X' }], /companies\[0\]\.realmId: expected a string matching/],
    [[LANTERN, { realmId: '1' }], /companies\[1\]\.companyName: required/],
    [[{ ...LANTERN, name: 'typo' }], /companies\[0\]\.name: unknown field/],
  ])('refuses a bad list, naming the field: %j', async (list, message) => {
    const answer = await control(emu, 'POST', '/configure', { companies: list });
    expect(answer.status).toBe(400);
    expect(answer.json?.error_description).toMatch(message);
    expect(() => emu.control.configure({ companies: list as EmulatorCompany[] })).toThrow(message);
    await expect(startEmulator({ companies: list as EmulatorCompany[] })).rejects.toThrow(message);
    // Nothing changed: still the demo company alone.
    expect((await page()).html).not.toContain('<select');
  });

  it('keeps its own copy of the list', async () => {
    const mine = [{ ...LANTERN }, { ...ALDER }];
    emu.control.configure({ companies: mine });
    mine.push({ realmId: '1', companyName: 'Late' });
    if (mine[0]) mine[0].companyName = 'Changed';
    expect(companyOptions((await page()).html).map((c) => c.label)).toEqual([
      LANTERN.companyName,
      ALDER.companyName,
    ]);
  });
});
