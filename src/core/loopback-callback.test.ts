// The desktop loopback listener on Node, against the real emulator: the test plays the browser,
// following the emulator's auto-approve redirect to the listener over loopback HTTP.
import { createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator } from '../emulator';
import type { EmulatorHandle } from '../emulator/types';
import { ConnectRefusedError, OAuthConnectFlow } from './connect-flow';
import { ConnectError } from './errors';
import { FileConnectionStore } from './file-connection-store';
import { IntuitOAuth } from './intuit-oauth';
import { SecretRegistry } from './log';
import { parseLoopbackRedirect, startLoopbackCallback, type LoopbackCallback } from './loopback-callback';
import { TokenManager } from './token-manager';

let emulator: EmulatorHandle;
let dir: string;
let manager: TokenManager;
let flow: OAuthConnectFlow;
let listener: LoopbackCallback | null;
const secrets = new SecretRegistry();

beforeEach(async () => {
  emulator = await startEmulator({ autoApprove: true });
  dir = await mkdtemp(join(tmpdir(), 'qbtd-loopback-'));
  const store = new FileConnectionStore({ dataDir: dir, storeKey: null });
  const oauth = new IntuitOAuth({
    clientId: emulator.clientId,
    clientSecret: emulator.clientSecret,
    tokenUrl: emulator.tokenUrl,
    revokeUrl: emulator.revokeUrl,
    authorizeUrl: emulator.authorizeUrl,
    timeoutMs: 2000,
  });
  manager = new TokenManager({
    config: {
      refreshToken: null,
      accessToken: null,
      realmId: null,
      environment: 'sandbox',
      refreshSkewSeconds: 300,
      demo: false,
      canConnect: true,
    },
    store,
    oauth,
    refreshOnStart: false,
    secrets,
  });
  await manager.start();
  flow = new OAuthConnectFlow({
    oauth,
    tokens: manager,
    scopes: ['com.intuit.quickbooks.accounting'],
    secrets,
  });
  listener = null;
});

afterEach(async () => {
  await listener?.close();
  await manager.dispose();
  await emulator.close();
  await rm(dir, { recursive: true, force: true });
});

/** The browser's part: the consent page (auto-approved) answers a 302 to the redirect URI. */
async function consent(authorizeUrl: string): Promise<string> {
  const response = await fetch(authorizeUrl, { redirect: 'manual' });
  expect(response.status).toBe(302);
  return response.headers.get('location') ?? '';
}

async function visit(url: string): Promise<{ status: number; text: string; csp: string | null }> {
  const response = await fetch(url, { redirect: 'manual' });
  return {
    status: response.status,
    text: await response.text(),
    csp: response.headers.get('content-security-policy'),
  };
}

/** A fresh connection (no pooled keep-alive socket) to see whether anything still listens. */
function refusedConnection(url: string): Promise<boolean> {
  // The listener binds 127.0.0.1 only: probing "localhost" could hit ::1 and be refused regardless.
  const target = new URL(url);
  target.hostname = '127.0.0.1';
  return new Promise((resolve) => {
    const req = get(target, { agent: false }, (res) => {
      res.resume();
      resolve(false);
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

function withState(url: string, state: string): string {
  const next = new URL(url);
  next.searchParams.set('state', state);
  return next.toString();
}

describe('loopback callback listener', () => {
  it('receives the redirect on a free localhost port, connects, answers a success page and closes', async () => {
    listener = await startLoopbackCallback({ flow });
    expect(listener.redirectUri).toMatch(/^http:\/\/localhost:\d+\/callback$/);
    expect(new URL(listener.authorizeUrl).searchParams.get('redirect_uri')).toBe(listener.redirectUri);

    const location = await consent(listener.authorizeUrl);
    expect(location.startsWith(listener.redirectUri + '?')).toBe(true);
    const page = await visit(location);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Connected to QuickBooks');
    expect(page.text).toContain(emulator.realmId);
    expect(page.csp).toContain("default-src 'none'");

    const status = await listener.result;
    expect(status).toMatchObject({ state: 'valid', realmId: emulator.realmId });
    expect(await refusedConnection(location)).toBe(true);
    const code = new URL(location).searchParams.get('code') ?? '';
    for (const secret of [code, ...secrets.values()]) expect(page.text.includes(secret)).toBe(false);
  });

  it('refuses a wrong state with a clear page and keeps waiting for the real answer', async () => {
    listener = await startLoopbackCallback({ flow });
    const location = await consent(listener.authorizeUrl);
    const forged = await visit(withState(location, 'forged-state-value'));
    expect(forged.status).toBe(400);
    expect(forged.text).toContain('state mismatch');
    expect(emulator.control.counters().tokenCalls.authorization_code).toBe(0);

    const favicon = await visit(new URL('/favicon.ico', location).toString());
    expect(favicon.status).toBe(404);

    expect((await visit(location)).status).toBe(200);
    expect((await listener.result).state).toBe('valid');
  });

  it('is single use: a second hit of the same redirect is refused and the code is exchanged once', async () => {
    listener = await startLoopbackCallback({ flow });
    const location = await consent(listener.authorizeUrl);
    const [first, second] = await Promise.all([visit(location), visit(location)]);
    const statuses = [first.status, second.status].sort();
    expect(statuses).toEqual([200, 400]);
    const refused = first.status === 400 ? first : second;
    expect(refused.text).toContain('already used');
    expect((await listener.result).state).toBe('valid');
    expect(emulator.control.counters().tokenCalls.authorization_code).toBe(1);
    // Closed once done: a later replay does not even reach a listener.
    expect(await refusedConnection(location)).toBe(true);
    // And the connection the first hit made still works.
    expect((await manager.refresh('manual')).state).toBe('valid');
  });

  it('times out with a clear message when nobody comes back, and stops listening', async () => {
    listener = await startLoopbackCallback({ flow, timeoutMs: 50 });
    const failure = await listener.result.catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(ConnectRefusedError);
    expect((failure as ConnectRefusedError).reason).toBe('timeout');
    expect((failure as Error).message).toMatch(/timed out/);
    expect(await refusedConnection(listener.redirectUri)).toBe(true);
    expect(manager.getStatus().state).toBe('not_configured');
  });

  it("shows Intuit's refusal (Cancel on the consent page) and ends the attempt", async () => {
    listener = await startLoopbackCallback({ flow });
    const state = new URL(listener.authorizeUrl).searchParams.get('state') ?? '';
    const page = await visit(
      `${listener.redirectUri}?error=access_denied&state=${encodeURIComponent(state)}`,
    );
    expect(page.status).toBe(400);
    expect(page.text).toContain('Intuit did not grant access');
    await expect(listener.result).rejects.toMatchObject({ code: 'connect_failed', reason: 'denied' });
    expect(await refusedConnection(listener.redirectUri)).toBe(true);
  });

  it('close() cancels a pending attempt', async () => {
    listener = await startLoopbackCallback({ flow });
    await listener.close();
    await expect(listener.result).rejects.toThrow(/cancelled/);
    expect(await refusedConnection(listener.redirectUri)).toBe(true);
  });

  it('listens on the port and path QB_REDIRECT_URI names', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const redirectUri = `http://127.0.0.1:${port}/oauth/intuit`;
    // Intuit accepts only registered redirect URIs; the emulator's defaults cover the /callback path only.
    emulator.control.registerRedirectUri(redirectUri);
    listener = await startLoopbackCallback({ flow, redirectUri });
    expect(listener.redirectUri).toBe(redirectUri);
    const location = await consent(listener.authorizeUrl);
    expect(location.startsWith(`${redirectUri}?`)).toBe(true);
    expect((await visit(location)).status).toBe(200);
    expect((await listener.result).realmId).toBe(emulator.realmId);
  });

  it('names QB_REDIRECT_URI when it cannot be used for a loopback listener', async () => {
    expect(() => parseLoopbackRedirect('https://example.com/callback')).toThrow(/QB_REDIRECT_URI/);
    expect(() => parseLoopbackRedirect('http://192.168.1.5:8000/callback')).toThrow(/loopback/);
    expect(() => parseLoopbackRedirect('not a url')).toThrow(ConnectError);
    expect(parseLoopbackRedirect(null)).toEqual({ hostname: 'localhost', port: 0, path: '/callback' });

    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as AddressInfo).port;
    try {
      await expect(
        startLoopbackCallback({ flow, redirectUri: `http://localhost:${port}/callback` }),
      ).rejects.toThrow(/port is in use/);
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  });
});
