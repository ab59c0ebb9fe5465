// The headless Connect routes over real HTTP: startDesk (only the app keys) against the emulator,
// the headless server with the routes registered, and fetch playing the browser.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startDesk, type StartedDesk } from '../core/bootstrap';
import { OAuthConnectFlow } from '../core/connect-flow';
import { startEmulator } from '../emulator';
import { emulatorAppEnv } from '../emulator/app-env';
import type { EmulatorHandle } from '../emulator/types';
import { HTTP_PATHS, type Result, type TokenStatus } from '../shared/contract';
import { callbackPath, registerConnectRoutes } from './connect-routes';
import { startHeadlessServer, type HeadlessServer } from './server';

const ADMIN = 'connect-routes-test-admin-secret';

let emulator: EmulatorHandle;
let dir: string;
let started: StartedDesk;
let server: HeadlessServer;
let outage: Server | null;

async function setup(env: Record<string, string> = {}): Promise<void> {
  started = await startDesk({
    env: { ...emulatorAppEnv(emulator, join(dir, 'data')), ...env },
    cwd: dir,
    log: () => undefined,
  });
  server = await startHeadlessServer({
    desk: started.desk,
    adminToken: ADMIN,
    port: 0,
    staticDir: null,
    routes: (router) =>
      registerConnectRoutes(router, { flow: started.connectFlow, redirectUri: started.config.redirectUri }),
  });
}

beforeEach(async () => {
  emulator = await startEmulator({ autoApprove: true });
  dir = await mkdtemp(join(tmpdir(), 'qbtd-connect-routes-'));
  outage = null;
});

afterEach(async () => {
  await server.close();
  await started.close();
  server.closeConnections();
  if (outage) await new Promise((resolve) => outage?.close(resolve));
  await emulator.close();
  await rm(dir, { recursive: true, force: true });
});

const auth = { authorization: `Bearer ${ADMIN}` };

async function api<T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: Result<T> }> {
  const response = await fetch(server.baseUrl + path, {
    ...init,
    headers: { ...auth, ...(init.body ? { 'content-type': 'application/json' } : {}) },
  });
  return { status: response.status, body: (await response.json()) as Result<T> };
}

/** GET /connect, then the consent page (auto-approved): returns the /callback URL Intuit sends the browser to. */
async function consent(): Promise<string> {
  const connect = await fetch(server.baseUrl + HTTP_PATHS.connect, { headers: auth, redirect: 'manual' });
  expect(connect.status).toBe(302);
  const authorizeUrl = connect.headers.get('location') ?? '';
  expect(authorizeUrl.startsWith(emulator.authorizeUrl)).toBe(true);
  expect(new URL(authorizeUrl).searchParams.get('redirect_uri')).toBe(`${server.baseUrl}/callback`);
  const approved = await fetch(authorizeUrl, { redirect: 'manual' });
  return approved.headers.get('location') ?? '';
}

async function page(url: string): Promise<{ status: number; text: string }> {
  const response = await fetch(url, { redirect: 'manual' });
  return { status: response.status, text: await response.text() };
}

describe('headless Connect routes', () => {
  it('GET /connect needs the admin secret', async () => {
    await setup();
    const response = await fetch(server.baseUrl + HTTP_PATHS.connect, { redirect: 'manual' });
    expect(response.status).toBe(401);
  });

  it('connects from the dashboard with only the app keys: the callback lands back on the dashboard', async () => {
    await setup();
    expect((await api<TokenStatus>(HTTP_PATHS.refreshToken)).body).toMatchObject({
      ok: true,
      value: { state: 'not_configured', canConnect: true },
    });
    const callback = await consent();
    expect(callback.startsWith(`${server.baseUrl}/callback?`)).toBe(true);
    // No cookie, no Bearer: the navigation back from Intuit carries neither.
    const landed = await page(callback);
    expect(landed.status).toBe(200);
    expect(landed.text).toContain('Connected to QuickBooks');
    expect(landed.text).toContain(`url=${server.baseUrl}/`);
    const code = new URL(callback).searchParams.get('code') ?? '';
    expect(landed.text).not.toContain(code);

    const status = await api<TokenStatus>(HTTP_PATHS.refreshToken);
    expect(status.body).toMatchObject({ ok: true, value: { state: 'valid', realmId: emulator.realmId } });
    const company = await api<{ realmId: string }>(HTTP_PATHS.companyInfo);
    expect(company.body).toMatchObject({ ok: true, value: { realmId: emulator.realmId } });
  });

  it('refuses a replayed callback and a wrong state; the connection keeps working', async () => {
    await setup();
    const callback = await consent();
    expect((await page(callback)).status).toBe(200);

    const replay = await page(callback);
    expect(replay.status).toBe(400);
    expect(replay.text).toContain('already used');
    const forged = new URL(callback);
    forged.searchParams.set('state', 'forged');
    const mismatch = await page(forged.toString());
    expect(mismatch.status).toBe(400);
    expect(mismatch.text).toContain('state mismatch');

    expect(emulator.control.counters().tokenCalls.authorization_code).toBe(1);
    const refreshed = await api<TokenStatus>(HTTP_PATHS.refreshToken, { method: 'POST' });
    expect(refreshed.body).toMatchObject({ ok: true, value: { state: 'valid' } });
  });

  it('POST disconnect revokes and forgets; bad bodies are refused', async () => {
    await setup();
    await page(await consent());
    expect((await api(HTTP_PATHS.disconnect, { method: 'POST', body: '{"force":"yes"}' })).status).toBe(400);
    expect((await api(HTTP_PATHS.disconnect, { method: 'POST', body: '{"forse":true}' })).status).toBe(400);
    expect(emulator.control.counters().revokeCalls).toBe(0);
    const done = await api<TokenStatus>(HTTP_PATHS.disconnect, { method: 'POST', body: '{}' });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ ok: true, value: { state: 'not_configured', refreshToken: null } });
    expect(emulator.control.counters().revokeCalls).toBe(1);
    expect((await fetch(server.baseUrl + HTTP_PATHS.disconnect, { method: 'POST' })).status).toBe(401);
  });

  it('answers revoke_failed (502) and keeps the tokens until forced', async () => {
    outage = createServer((_req, res) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{}');
    });
    await new Promise<void>((resolve) => outage?.listen(0, '127.0.0.1', resolve));
    await setup({ QB_REVOKE_URL: `http://127.0.0.1:${(outage.address() as AddressInfo).port}/revoke` });
    await page(await consent());
    const failed = await api<TokenStatus>(HTTP_PATHS.disconnect, { method: 'POST' });
    expect(failed.status).toBe(502);
    expect(failed.body).toMatchObject({ ok: false, error: { code: 'revoke_failed' } });
    expect((await api<TokenStatus>(HTTP_PATHS.refreshToken)).body).toMatchObject({
      value: { state: 'valid' },
    });
    const forced = await api<TokenStatus>(HTTP_PATHS.disconnect, { method: 'POST', body: '{"force":true}' });
    expect(forced.body).toMatchObject({ ok: true, value: { state: 'not_configured' } });
  });

  it('disconnects a connection whose token Intuit already holds as invalid (its 400): 200, and the history says so', async () => {
    await setup();
    await page(await consent());
    const token = (await started.store.load('default')).record?.tokens?.refreshToken ?? '';
    expect(emulator.control.isRefreshTokenValid(token)).toBe(true);
    // Revoked elsewhere (another tool, or the company's admin at Intuit).
    await started.connections.oauthFor('sandbox')?.revoke(token);
    const done = await api<TokenStatus>(HTTP_PATHS.disconnect, { method: 'POST' });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ ok: true, value: { state: 'not_configured', refreshToken: null } });
    const status = (done.body as { value: TokenStatus }).value;
    expect(status.history[0]?.message).toBe(
      'Disconnected: Intuit had nothing to revoke: the token was already invalid. The stored tokens were forgotten.',
    );
    expect(JSON.stringify(done.body)).not.toContain(token);
    expect(emulator.control.counters().revokeCalls).toBe(2);
    expect((await started.store.load('default')).record?.tokens).toBeNull();
  });

  it('explains on a page when Connect cannot start (no app keys)', async () => {
    await setup();
    // A flow without the keys, as startDesk builds it when QB_CLIENT_ID/SECRET are missing.
    const keyless = new OAuthConnectFlow({
      oauth: null,
      tokens: started.manager,
      scopes: [],
    });
    await server.close();
    server.closeConnections();
    server = await startHeadlessServer({
      desk: started.desk,
      adminToken: ADMIN,
      port: 0,
      staticDir: null,
      routes: (router) => registerConnectRoutes(router, { flow: keyless, redirectUri: null }),
    });
    const response = await fetch(server.baseUrl + HTTP_PATHS.connect, { headers: auth, redirect: 'manual' });
    expect(response.status).toBe(409);
    expect(await response.text()).toContain('QB_CLIENT_ID and QB_CLIENT_SECRET');
  });

  it('listens for the callback on the path of QB_REDIRECT_URI', () => {
    expect(callbackPath(null)).toBe('/callback');
    expect(callbackPath('http://127.0.0.1:4317/oauth/intuit')).toBe('/oauth/intuit');
  });
});
