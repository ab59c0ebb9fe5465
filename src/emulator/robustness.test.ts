import { connect } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator } from './index';
import { refresh } from './test-support';
import type { EmulatorHandle } from './types';

let emu: EmulatorHandle;

beforeEach(async () => {
  emu = await startEmulator();
});
afterEach(async () => {
  await emu.close();
});

function rawRequest(text: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(emu.port, '127.0.0.1', () => socket.end(text));
    let data = '';
    socket.on('data', (chunk) => (data += chunk.toString()));
    socket.on('close', () => resolve(data));
    socket.on('error', () => resolve(data));
  });
}

describe('bad input never crashes the server', () => {
  it('survives garbage, bad encodings, odd methods and oversize bodies, and still refreshes', async () => {
    expect(await rawRequest('this is not http\r\n\r\n')).toContain('400');
    expect((await fetch(`${emu.url}/v3/company/%E0%A4%A/companyinfo/1`)).status).toBe(400);
    expect((await fetch(`${emu.url}/nowhere`)).status).toBe(404);
    expect((await fetch(emu.tokenUrl, { method: 'PUT', body: 'x' })).status).toBe(405);
    const huge = await fetch(emu.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a='.padEnd(2_000_000, 'x'),
    }).catch((error: Error) => error);
    if (!(huge instanceof Error)) expect(huge.status).toBe(413);
    const weird = await fetch(emu.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Bearer abc' },
      body: '%%%&&&===',
    });
    expect(weird.status).toBe(401);
    expect(((await weird.json()) as { error: string }).error).toBe('invalid_client');
    const noBody = await fetch(emu.tokenUrl, { method: 'POST' });
    expect(noBody.status).toBe(400);
    expect(((await noBody.json()) as { error: string }).error).toBe('invalid_request');
    expect((await fetch(`${emu.controlUrl}/faults`, { method: 'POST', body: '[1,2]' })).status).toBe(400);
    expect((await refresh(emu, emu.refreshToken)).status).toBe(200);
  });

  it('puts intuit_tid on every response, including 404s and control answers', async () => {
    for (const url of [
      `${emu.url}/nowhere`,
      `${emu.controlUrl}/counters`,
      `${emu.url}/.well-known/openid_configuration`,
    ]) {
      expect((await fetch(url)).headers.get('intuit_tid')).toMatch(/^1-/);
    }
  });

  it('refuses invalid start options with the option named', async () => {
    await expect(startEmulator({ accessTokenTtlSeconds: 0 })).rejects.toThrow(/accessTokenTtlSeconds/);
    await expect(startEmulator({ port: -1 })).rejects.toThrow(/port/);
    await expect(startEmulator({ demo: { realmId: 'abc' } })).rejects.toThrow(/realmId/);
  });
});
