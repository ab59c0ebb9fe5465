// Desktop Connect on Node: the real engine from startDesk (only the app keys configured), the real
// emulator, and an `openExternal` stand-in that does what the system browser would: open the consent
// page (auto-approved) and follow its redirect to the loopback listener.
import { get } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startDesk, type StartedDesk } from '../core/bootstrap';
import { startEmulator } from '../emulator';
import { emulatorAppEnv } from '../emulator/app-env';
import type { EmulatorHandle } from '../emulator/types';
import { desktopConnectActions } from './connect-desktop';

let emulator: EmulatorHandle;
let dir: string;
const desks: StartedDesk[] = [];

beforeEach(async () => {
  emulator = await startEmulator({ autoApprove: true, companyName: 'Loopback Test Co' });
  dir = await mkdtemp(join(tmpdir(), 'qbtd-desktop-connect-'));
});

afterEach(async () => {
  for (const desk of desks.splice(0)) await desk.close();
  await emulator.close();
  await rm(dir, { recursive: true, force: true });
});

/** Only the app keys (and the emulator's endpoints): no QB_REFRESH_TOKEN, no QB_REALM_ID. */
async function desk(): Promise<StartedDesk> {
  const started = await startDesk({
    env: emulatorAppEnv(emulator, join(dir, 'data')),
    cwd: dir,
    log: () => undefined,
  });
  desks.push(started);
  return started;
}

/** What the system browser does with the consent page when the emulator auto-approves. */
async function browse(url: string): Promise<number> {
  const consent = await fetch(url, { redirect: 'manual' });
  const location = consent.headers.get('location') ?? '';
  const back = await fetch(location);
  await back.text();
  return back.status;
}

function listening(redirectUri: string): Promise<boolean> {
  const target = new URL(redirectUri);
  target.hostname = '127.0.0.1';
  return new Promise((resolve) => {
    get(target, { agent: false }, (res) => {
      res.resume();
      resolve(true);
    }).on('error', () => resolve(false));
  });
}

/**
 * Connect actions whose system browser only notes the consent pages it is asked to open (and, with
 * `browserFails`, then fails to open them); `redirectUri()` is the callback the last one names.
 */
function recordingActions(
  started: StartedDesk,
  { browserFails = false } = {},
): { actions: ReturnType<typeof desktopConnectActions>; opened: string[]; redirectUri: () => string } {
  const opened: string[] = [];
  const actions = desktopConnectActions({
    flow: started.connectFlow,
    redirectUri: null,
    openExternal: async (url) => {
      opened.push(url);
      if (browserFails) throw new Error('no browser');
    },
  });
  const redirectUri = () => {
    const last = opened.at(-1);
    return last ? (new URL(last).searchParams.get('redirect_uri') ?? '') : '';
  };
  return { actions, opened, redirectUri };
}

describe('desktop Connect', () => {
  it('connects a desk that has only the app keys through the system browser; the next start uses the stored chain', async () => {
    const started = await desk();
    expect(started.desk.getStatus()).toMatchObject({ state: 'not_configured', canConnect: true });
    const opened: string[] = [];
    const browserAnswers: Promise<number>[] = [];
    const actions = desktopConnectActions({
      flow: started.connectFlow,
      redirectUri: started.config.redirectUri,
      openExternal: async (url) => {
        opened.push(url);
        browserAnswers.push(browse(url));
      },
    });
    const status = await actions.connect();
    expect(status).toMatchObject({ state: 'valid', realmId: emulator.realmId });
    expect(opened).toHaveLength(1);
    expect(opened[0]?.startsWith(emulator.authorizeUrl)).toBe(true);
    expect(await browserAnswers[0]).toBe(200);
    expect((await started.desk.testConnection()).companyName).toBe('Loopback Test Co');

    await started.close();
    desks.splice(desks.indexOf(started), 1);
    const restarted = await desk();
    expect(restarted.desk.getStatus()).toMatchObject({ realmId: emulator.realmId });
    expect((await restarted.desk.testConnection()).realmId).toBe(emulator.realmId);
  });

  it('a second click while waiting shows the same consent page and joins the same attempt', async () => {
    const started = await desk();
    const { actions, opened } = recordingActions(started);
    const first = actions.connect();
    const second = actions.connect();
    await expect.poll(() => opened.length).toBe(2);
    expect(opened[1]).toBe(opened[0]);
    expect(await browse(opened[0] ?? '')).toBe(200);
    const [a, b] = await Promise.all([first, second]);
    expect(a.state).toBe('valid');
    expect(b).toEqual(a);
    expect(emulator.control.counters().tokenCalls.authorization_code).toBe(1);
  });

  it('another Connect while one waits (another company or environment) is refused, not folded into the first', async () => {
    const started = await desk();
    const { actions, opened } = recordingActions(started);
    const reconnect = actions.connect();
    await expect.poll(() => opened.length).toBe(1);
    await expect(actions.connect({ environment: 'production' })).rejects.toMatchObject({
      code: 'connect_failed',
      message: expect.stringMatching(/Another Connect is waiting/),
    });
    expect(opened).toHaveLength(1);
    // The first one goes on as before.
    expect(await browse(opened[0] ?? '')).toBe(200);
    expect((await reconnect).state).toBe('valid');
  });

  it('says so and stops listening when the browser cannot be opened', async () => {
    const started = await desk();
    const { actions, redirectUri } = recordingActions(started, { browserFails: true });
    await expect(actions.connect()).rejects.toMatchObject({
      code: 'connect_failed',
      message: expect.stringMatching(/system browser could not be opened/),
    });
    expect(redirectUri()).toMatch(/^http:\/\/localhost:\d+\/callback$/);
    expect(await listening(redirectUri())).toBe(false);
  });

  it('cancel() ends an attempt still waiting for the browser', async () => {
    const started = await desk();
    const { actions, redirectUri } = recordingActions(started);
    const pending = actions.connect();
    await expect.poll(() => redirectUri()).not.toBe('');
    await actions.cancel();
    await expect(pending).rejects.toMatchObject({ code: 'connect_failed' });
    expect(await listening(redirectUri())).toBe(false);
  });

  it('Disconnect revokes at Intuit and forgets the tokens', async () => {
    const started = await desk();
    const actions = desktopConnectActions({
      flow: started.connectFlow,
      redirectUri: null,
      openExternal: async (url) => void browse(url),
    });
    await actions.connect();
    const status = await actions.disconnect();
    expect(status.state).toBe('not_configured');
    expect(emulator.control.counters().revokeCalls).toBe(1);
  });
});
