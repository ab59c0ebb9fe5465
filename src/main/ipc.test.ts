import { describe, expect, it } from 'vitest';
import { IPC_CHANNELS, type Result, type TokenStatus } from '../shared/contract';
import { notConfiguredHandlers, notConfiguredStatus } from './handlers';
import { registerIpcHandlers, trustedSenderFor, type IpcHandlers } from './ipc';
import { frameEvent, IpcMainStandIn } from './testing/stand-ins';

const APP_URL = 'file:///opt/qb-token-desk/out/renderer/index.html';
const fromApp = frameEvent(APP_URL);
const status = notConfiguredStatus(['not yet']);

function handlersThat(overrides: Partial<IpcHandlers> = {}): IpcHandlers {
  return { ...notConfiguredHandlers(() => status), ...overrides };
}

function setUp(overrides: Partial<IpcHandlers> = {}) {
  const ipcMain = new IpcMainStandIn();
  const unregister = registerIpcHandlers(ipcMain, handlersThat(overrides), trustedSenderFor(APP_URL));
  return { ipcMain, unregister };
}

describe('registerIpcHandlers', () => {
  it('registers exactly the contract’s channels, and removes them again', () => {
    const { ipcMain, unregister } = setUp();
    expect([...ipcMain.handlers.keys()].sort()).toEqual(Object.values(IPC_CHANNELS).sort());
    unregister();
    expect(ipcMain.handlers.size).toBe(0);
  });

  it('answers the app’s own page with the handler’s Result', async () => {
    const { ipcMain } = setUp();
    await expect(ipcMain.invoke(IPC_CHANNELS.getStatus, fromApp)).resolves.toEqual({
      ok: true,
      value: status,
    });
    // A fragment (client-side routing) is still the app's page.
    await expect(
      ipcMain.invoke(IPC_CHANNELS.getStatus, frameEvent(`${APP_URL}#/history`)),
    ).resolves.toMatchObject({
      ok: true,
    });
  });

  it.each([
    ['another page', frameEvent('https://evil.example/index.html')],
    ['another file', frameEvent('file:///tmp/index.html')],
    ['a subframe of the app', frameEvent(APP_URL, { url: APP_URL })],
    ['a frame that is gone', { senderFrame: null }],
  ])('refuses %s without running the handler', async (_label, event) => {
    let ran = false;
    const { ipcMain } = setUp({
      refresh: async () => {
        ran = true;
        return { ok: true, value: status };
      },
    });
    const result = (await ipcMain.invoke(IPC_CHANNELS.refresh, event)) as Result<TokenStatus>;
    expect(result).toEqual({ ok: false, error: expect.objectContaining({ code: 'forbidden_sender' }) });
    expect(ran).toBe(false);
  });

  it('turns a thrown error into { ok: false } without its text (which could hold anything)', async () => {
    const { ipcMain } = setUp({
      refresh: async () => {
        throw new Error('boom: refresh_token=RT-secret-value');
      },
      clear: () => {
        throw new TypeError('synchronous');
      },
    });
    for (const channel of [IPC_CHANNELS.refresh, IPC_CHANNELS.clear]) {
      const result = (await ipcMain.invoke(channel, fromApp)) as Result<TokenStatus>;
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.error.code).toBe('internal');
        expect(JSON.stringify(result)).not.toContain('secret');
      }
    }
  });

  it('maps thrown errors with the given mapper, and survives a mapper that throws', async () => {
    const ipcMain = new IpcMainStandIn();
    registerIpcHandlers(
      ipcMain,
      handlersThat({
        refresh: async () => {
          throw Object.assign(new Error('expired'), { kind: 'invalid_grant' });
        },
        clear: async () => {
          throw new Error('other');
        },
      }),
      trustedSenderFor(APP_URL),
      {
        toError: (error) => {
          if ((error as { kind?: string }).kind === 'invalid_grant') {
            return { code: 'invalid_grant', message: 'The refresh token was rejected.' };
          }
          throw new Error('mapper bug');
        },
      },
    );
    await expect(ipcMain.invoke(IPC_CHANNELS.refresh, fromApp)).resolves.toEqual({
      ok: false,
      error: { code: 'invalid_grant', message: 'The refresh token was rejected.' },
    });
    await expect(ipcMain.invoke(IPC_CHANNELS.clear, fromApp)).resolves.toMatchObject({
      ok: false,
      error: { code: 'internal' },
    });
  });

  it('never lets a handler’s non-Result answer through', async () => {
    const { ipcMain } = setUp({ getStatus: async () => status as never });
    await expect(ipcMain.invoke(IPC_CHANNELS.getStatus, fromApp)).resolves.toMatchObject({ ok: false });
  });

  it('validates disconnect options from the renderer before the handler sees them', async () => {
    const seen: unknown[] = [];
    const { ipcMain } = setUp({
      disconnect: async (options) => {
        seen.push(options);
        return { ok: true, value: status };
      },
    });
    await expect(ipcMain.invoke(IPC_CHANNELS.disconnect, fromApp, { force: true })).resolves.toMatchObject({
      ok: true,
    });
    await expect(ipcMain.invoke(IPC_CHANNELS.disconnect, fromApp)).resolves.toMatchObject({ ok: true });
    for (const bad of [{ force: 'yes' }, { force: true, wipe: true }, 'force', [true]]) {
      await expect(ipcMain.invoke(IPC_CHANNELS.disconnect, fromApp, bad)).resolves.toMatchObject({
        ok: false,
        error: { code: 'bad_request' },
      });
    }
    expect(seen).toEqual([{ force: true }, undefined]);
  });
});

describe('trustedSenderFor', () => {
  it('trusts the dev server page only at its own origin and path', () => {
    const trusted = trustedSenderFor('http://localhost:5173/');
    expect(trusted(frameEvent('http://localhost:5173/'))).toBe(true);
    expect(trusted(frameEvent('http://localhost:5174/'))).toBe(false);
    expect(trusted(frameEvent('http://localhost:5173/other.html'))).toBe(false);
    expect(trusted(frameEvent('not a url'))).toBe(false);
  });
});
