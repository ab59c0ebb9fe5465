// The desktop app's flows through the desktop host: the built main bundle (out/main/index.js) in
// Node under the electron stand-in, the real renderer in Chromium, window.qbTokens built by the
// real preload bundle. The engine, its store, the emulator and the IPC handlers are all real.
// The fixture also checks, after every test, that every window main opened kept contextIsolation
// and sandbox on and nodeIntegration off, and that every IPC value survived structuredClone.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { BRIDGE_METHODS, IPC_CHANNELS, type Result, type TokenStatus } from '../src/shared/contract';
import { SHORTCUTS } from '../src/shared/shortcuts';
import { expect, test, type DesktopApp } from './support/desktop-host/fixture';
import { PRELOAD_BUNDLE, startDesktopHost } from './support/desktop-host/host';

test.describe.configure({ timeout: 90_000 });

type Bridge = Record<string, (...args: unknown[]) => Promise<Result<unknown>>>;

/** The page's globals this spec touches (the e2e code compiles without the DOM library). */
interface FrameElement {
  src: string;
  contentWindow: unknown;
  addEventListener(type: 'load', listener: (event: unknown) => void): void;
}
interface PageWindow {
  qbTokens: Bridge;
  __qbPreloadRequired: string[];
  location: { href: string };
  document: {
    createElement(tag: 'iframe'): FrameElement;
    querySelector(selector: 'iframe'): FrameElement | null;
    body: { append(node: FrameElement): void };
  };
}
const bridgeCall = (desktop: DesktopApp, method: string, ...args: unknown[]) =>
  desktop.page.evaluate(([m, a]) => (globalThis as unknown as PageWindow).qbTokens[m](...a), [
    method,
    args,
  ] as const);

async function trayImage(desktop: DesktopApp): Promise<string> {
  return (await desktop.host.call<{ image: string }>('tray')).image;
}

async function journalHas(
  desktop: DesktopApp,
  api: string,
  match: (args: unknown[]) => boolean = () => true,
) {
  return (await desktop.journal()).some((entry) => entry.api === api && match(entry.args));
}

const FOREIGN_PAGE = '<!doctype html><title>foreign</title><iframe srcdoc="<p>sub</p>"></iframe>';

test.describe('desktop app in demo mode', () => {
  test.use({ desktopOptions: { foreignPages: { 'http://foreign.test/': FOREIGN_PAGE } } });
  test('shows the status on load through the real preload, which requires nothing but electron', async ({
    desktop,
  }) => {
    const page = desktop.page;
    await expect(page.getByTestId('state-pill')).toBeVisible();
    await expect(page.getByTestId('state-pill')).not.toHaveAttribute('data-state', 'not_configured');
    const keys = await page.evaluate(() => Object.keys((globalThis as unknown as PageWindow).qbTokens));
    expect(keys.sort()).toEqual([...BRIDGE_METHODS].sort());
    expect(await page.evaluate(() => (globalThis as unknown as PageWindow).__qbPreloadRequired)).toEqual([
      'electron',
    ]);
    // The bundle itself, run apart: every require it makes, at load and none other.
    const required: string[] = [];
    runInNewContext(readFileSync(PRELOAD_BUNDLE, 'utf8'), {
      require: (name: string) => {
        required.push(name);
        return {
          contextBridge: { exposeInMainWorld: () => undefined },
          ipcRenderer: { on: () => undefined },
        };
      },
      module: { exports: {} },
      exports: {},
    });
    expect(required).toEqual(['electron']);
    expect(readFileSync(PRELOAD_BUNDLE, 'utf8').match(/require\(/g)).toHaveLength(1);
    // Main asked for the OS sandbox everywhere and hardened the session before any window.
    expect(await journalHas(desktop, 'app.enableSandbox')).toBe(true);
    expect(await desktop.host.call('permissionRequested', 'notifications')).toBe(false);
  });

  test('Refresh now, Clear cache and Test connection work through the bridge; every change is pushed', async ({
    desktop,
  }) => {
    const page = desktop.page;
    await expect(page.getByTestId('action-refresh')).toBeEnabled();
    const before = Number(await page.getByTestId('count-refreshes').innerText());
    await page.getByTestId('action-refresh').click();
    await expect(page.getByTestId('outcome-refresh')).toHaveAttribute('data-ok', 'true');
    await expect(page.getByTestId('count-refreshes')).toHaveText(String(before + 1));
    await expect(page.getByTestId('last-refresh-trigger')).toHaveText('Manual');

    await page.getByTestId('action-clear').click();
    await expect(page.getByTestId('outcome-clear')).toHaveAttribute('data-ok', 'true');
    await expect(page.getByTestId('access-none')).toBeVisible();

    await page.getByTestId('action-test-connection').click();
    await expect(page.getByTestId('outcome-testConnection')).toHaveAttribute('data-ok', 'true');
    await expect(page.getByTestId('outcome-testConnection')).toContainText('Connected to');

    const pushed = desktop.pushes('tokens:status-changed').map(([status]) => status as TokenStatus);
    expect(pushed.some((s) => s.lastRefresh?.trigger === 'manual' && s.lastRefresh.ok)).toBe(true);
    expect(pushed.some((s) => s.accessToken === null)).toBe(true);
    for (const status of pushed)
      if (status.accessToken) expect(status.accessToken.preview).toMatch(/^….{4}$/);
  });

  test('every IPC answer is a Result that survives structuredClone, bad arguments included', async ({
    desktop,
  }) => {
    for (const [method, args] of [
      ['getStatus', []],
      ['refresh', []],
      ['clear', []],
      ['testConnection', []],
    ] as const) {
      const answer = await bridgeCall(desktop, method, ...args);
      expect(answer).toEqual(structuredClone(answer));
      expect(typeof answer.ok).toBe('boolean');
    }
    // A renderer that skips the bridge and sends nonsense still gets a Result.
    const raw = await desktop.host.call<Result<unknown>>(
      'invoke',
      IPC_CHANNELS.disconnect,
      { url: desktop.page.url(), parent: null },
      [{ force: 'yes', extra: () => 1 }.force],
    );
    expect(raw).toMatchObject({ ok: false, error: { code: 'bad_request' } });
  });

  test('the menu’s shortcuts run the actions in the page, which shows them beside the buttons', async ({
    desktop,
  }) => {
    const page = desktop.page;
    await expect(page.getByTestId('action-refresh')).toBeEnabled();
    await expect(page.getByTestId('shortcut-refresh')).toHaveText('Ctrl+Alt+R');
    await expect(page.getByTestId('action-clear')).toHaveAttribute('aria-keyshortcuts', 'Control+Alt+K');
    const menu = JSON.stringify(await desktop.host.call('applicationMenu'));
    for (const accelerator of Object.values(SHORTCUTS)) expect(menu).toContain(accelerator);
    expect(menu).not.toContain('reload');

    await desktop.host.call('pressAccelerator', SHORTCUTS.testConnection);
    await expect(page.getByTestId('outcome-testConnection')).toHaveAttribute('data-ok', 'true');
    await desktop.host.call('pressAccelerator', SHORTCUTS.clear);
    await expect(page.getByTestId('outcome-clear')).toHaveAttribute('data-ok', 'true');
    await desktop.host.call('pressAccelerator', SHORTCUTS.refresh);
    await expect(page.getByTestId('outcome-refresh')).toHaveAttribute('data-ok', 'true');
    expect(desktop.pushes('tokens:command')).toEqual([['testConnection'], ['clear'], ['refresh']]);
  });

  test('the app page is the only trusted sender: a foreign page and subframes are refused', async ({
    desktop,
  }) => {
    // An iframe of the app's own page inside it: the right URL, but not the top frame.
    const inFrame = await desktop.page.evaluate(async () => {
      const { document, location } = globalThis as unknown as PageWindow;
      const frame = document.createElement('iframe');
      frame.src = location.href;
      document.body.append(frame);
      await new Promise((resolve) => frame.addEventListener('load', resolve));
      const bridge = (frame.contentWindow as unknown as { qbTokens?: Bridge }).qbTokens;
      return bridge ? bridge.getStatus() : null;
    });
    if (inFrame !== null) expect(inFrame).toMatchObject({ ok: false, error: { code: 'forbidden_sender' } });

    const foreign = await desktop.context.newPage();
    await foreign.goto('http://foreign.test/');
    const answers = await foreign.evaluate(async () => {
      const { document, qbTokens: top } = globalThis as unknown as PageWindow;
      const frame = document.querySelector('iframe');
      const sub = (frame?.contentWindow as unknown as { qbTokens: Bridge }).qbTokens;
      return [await top.getStatus(), await top.refresh(), await sub.getStatus()];
    });
    for (const answer of answers)
      expect(answer).toMatchObject({ ok: false, error: { code: 'forbidden_sender' } });
    // The app's own page still gets its answers.
    expect(await bridgeCall(desktop, 'getStatus')).toMatchObject({ ok: true });
  });

  test('navigation away from the app is asked of main and refused; the page stays', async ({ desktop }) => {
    const page = desktop.page;
    const appUrl = page.url();
    await page.evaluate(() => {
      (globalThis as unknown as PageWindow).location.href = 'https://example.com/';
    });
    await expect
      .poll(() =>
        journalHas(desktop, 'webContents.will-navigate', (args) => args[0] === 'https://example.com/'),
      )
      .toBe(true);
    expect(
      await journalHas(
        desktop,
        'webContents.will-navigate',
        (args) => args[0] === 'https://example.com/' && args[2] === 'prevented',
      ),
    ).toBe(true);
    expect(page.url()).toBe(appUrl);
    expect(await bridgeCall(desktop, 'getStatus')).toMatchObject({ ok: true });
    // An allow-listed Intuit page goes to the system browser instead.
    await page.evaluate(() => {
      (globalThis as unknown as PageWindow).location.href =
        'https://developer.intuit.com/app/developer/dashboard';
    });
    await expect
      .poll(() =>
        journalHas(
          desktop,
          'shell.openExternal',
          (args) => args[0] === 'https://developer.intuit.com/app/developer/dashboard',
        ),
      )
      .toBe(true);
  });

  test('the app page gets the CSP header, frame-ancestors included', async ({ desktop }) => {
    await expect(desktop.page.getByTestId('state-pill')).toBeVisible();
    const headers = await desktop.host.call<Record<string, string[]>>(
      'headersFor',
      desktop.page.url(),
      'mainFrame',
    );
    expect(headers['Content-Security-Policy']?.[0]).toContain("frame-ancestors 'none'");
    expect(headers['Content-Security-Policy']?.[0]).toContain("script-src 'self'");
    expect(await desktop.host.call('headersFor', 'https://example.com/', 'mainFrame')).toBeNull();
  });
});

test.describe('tray, window and settings', () => {
  test('the tray shows the health, a countdown tooltip and its menu; Refresh now from the tray works', async ({
    desktop,
  }) => {
    await expect.poll(() => trayImage(desktop)).toMatch(/tray-valid\.png$/);
    const tray = await desktop.host.call<{ tooltip: string; menu: { label: string; checked?: boolean }[] }>(
      'tray',
    );
    expect(tray.tooltip).toMatch(
      /^QB Token Desk: Tokens healthy\nAccess token (under a minute|\d+ min) left · refresh token \d+ days left$/,
    );
    expect(tray.menu.map((i) => i.label)).toEqual(
      expect.arrayContaining([
        'Refresh now',
        'Open dashboard',
        'Start at login',
        'Notifications',
        'Quit QB Token Desk',
      ]),
    );
    await expect(desktop.page.getByTestId('action-refresh')).toBeEnabled();
    const before = Number(await desktop.page.getByTestId('count-refreshes').innerText());
    await desktop.host.call('chooseTrayItem', 'Refresh now');
    // The window is on screen, so the page runs it and shows the outcome.
    await expect(desktop.page.getByTestId('outcome-refresh')).toHaveAttribute('data-ok', 'true');
    await expect(desktop.page.getByTestId('count-refreshes')).toHaveText(String(before + 1));
  });

  test('Start at login writes the XDG autostart entry on Linux, and the checkbox follows it', async ({
    desktop,
  }) => {
    const entry = join(desktop.dataDir, 'xdg-config', 'autostart', 'com.qbtokendesk.app.desktop');
    await desktop.host.call('chooseTrayItem', 'Start at login');
    expect(readFileSync(entry, 'utf8')).toContain('Exec=');
    await expect
      .poll(
        async () =>
          (await desktop.host.call<{ menu: { label: string; checked?: boolean }[] }>('tray')).menu.find(
            (i) => i.label === 'Start at login',
          )?.checked,
      )
      .toBe(true);
  });

  test('closing the window keeps the app in the tray when set; the size and place are remembered', async ({
    desktop,
  }) => {
    await desktop.host.call('chooseTrayItem', 'Keep running in the tray when the window is closed');
    await desktop.host.call('moveWindow', desktop.windowId, { x: 40, y: 30, width: 900, height: 640 });
    await desktop.host.call('closeWindow', desktop.windowId);
    const [window] = await desktop.windows();
    expect(window).toMatchObject({ id: desktop.windowId, visible: false });
    expect(await journalHas(desktop, 'app.quit')).toBe(false);
    // A second start while it sits in the tray brings the same window back, focused: one app, one window.
    const focused = async () =>
      (await desktop.journal()).filter((entry) => entry.api === 'BrowserWindow.focus').length;
    const focusedBefore = await focused();
    await desktop.host.call('secondInstance');
    expect(await desktop.windows()).toEqual([
      expect.objectContaining({ id: desktop.windowId, visible: true }),
    ]);
    expect(await focused()).toBeGreaterThan(focusedBefore);
    // Open dashboard from the tray brings the same window back too.
    await desktop.host.call('closeWindow', desktop.windowId);
    expect((await desktop.windows())[0]?.visible).toBe(false);
    await desktop.host.call('chooseTrayItem', 'Open dashboard');
    expect((await desktop.windows())[0]?.visible).toBe(true);

    await desktop.restart();
    const [restored] = await desktop.windows();
    expect(restored?.bounds).toEqual({ x: 40, y: 30, width: 900, height: 640 });
    await expect(desktop.page.getByTestId('state-pill')).toBeVisible();
  });

  test('without the tray setting (the Linux default) closing the window quits the app', async ({
    desktop,
  }) => {
    await desktop.host.call('closeWindow', desktop.windowId);
    expect(await desktop.host.exited).toBe(0);
  });
});

test.describe('tray and notifications against the emulator', () => {
  test.use({ desktopOptions: { emulator: { companyName: 'Harbor Light Bakery LLC' } } });

  test('reconnect needed: one notification with intuit_tid, a red tray; clicking it opens the dashboard', async ({
    desktop,
  }) => {
    const page = desktop.page;
    await expect(page.getByTestId('action-refresh')).toBeEnabled();
    await expect.poll(() => trayImage(desktop)).toMatch(/tray-valid\.png$/);
    await desktop.emulator?.control.injectTokenFault({ kind: 'invalid_grant' });
    await page.getByTestId('action-refresh').click();
    await expect(page.getByTestId('outcome-refresh')).toHaveAttribute('data-ok', 'false');
    await expect.poll(() => trayImage(desktop)).toMatch(/tray-reconnect\.png$/);
    const notices = await desktop.host.call<{ title: string; body: string }[]>('notifications');
    expect(notices).toHaveLength(1);
    expect(notices[0]?.title).toBe('Reconnect to QuickBooks');
    expect(notices[0]?.body).toMatch(/intuit_tid: \S+/);
    // A second failed try is no new change of condition: no second notification.
    await desktop.host.call('chooseTrayItem', 'Refresh now');
    await expect(page.getByTestId('outcome-refresh')).toHaveAttribute('data-ok', 'false');
    expect(await desktop.host.call('notifications')).toHaveLength(1);

    // In the tray with the window closed, the notification brings the dashboard back.
    await desktop.host.call('chooseTrayItem', 'Keep running in the tray when the window is closed');
    await desktop.host.call('closeWindow', desktop.windowId);
    expect((await desktop.windows())[0]?.visible).toBe(false);
    await desktop.host.call('clickNotification', 0);
    expect((await desktop.windows())[0]?.visible).toBe(true);
  });

  test('three failed refreshes in a row: one notification and an orange tray, then green again', async ({
    desktop,
  }) => {
    const page = desktop.page;
    await expect(page.getByTestId('action-refresh')).toBeEnabled();
    await desktop.emulator?.control.injectTokenFault({ kind: 'status', status: 503 }, 3);
    await page.getByTestId('action-refresh').click();
    await expect
      .poll(() => desktop.host.call<{ title: string }[]>('notifications'), { timeout: 20_000 })
      .toEqual([expect.objectContaining({ title: 'QuickBooks token refreshes are failing' })]);
    expect(
      await journalHas(desktop, 'Tray.setImage', (args) => JSON.stringify(args).includes('tray-failing.png')),
    ).toBe(true);
    // The fourth attempt succeeds: the tray is green again, and nothing more is said.
    await expect(page.getByTestId('outcome-refresh')).toHaveAttribute('data-ok', 'true', { timeout: 20_000 });
    await expect.poll(() => trayImage(desktop)).toMatch(/tray-valid\.png$/);
    expect(await desktop.host.call('notifications')).toHaveLength(1);
  });

  test('notifications turned off: the tray still turns red, nothing is shown', async ({ desktop }) => {
    await desktop.host.call('chooseTrayItem', 'Notifications');
    await expect(desktop.page.getByTestId('action-refresh')).toBeEnabled();
    await desktop.emulator?.control.injectTokenFault({ kind: 'invalid_grant' });
    await desktop.page.getByTestId('action-refresh').click();
    await expect.poll(() => trayImage(desktop)).toMatch(/tray-reconnect\.png$/);
    expect(await desktop.host.call('notifications')).toEqual([]);
  });
});

test.describe('refresh token ending soon', () => {
  test.use({ desktopOptions: { emulator: { refreshTokenTtlSeconds: 5 * 86_400 } } });

  test('under 14 days left: an amber tray and one notification saying how long', async ({ desktop }) => {
    await expect(desktop.page.getByTestId('action-refresh')).toBeEnabled();
    await desktop.page.getByTestId('action-refresh').click();
    await expect.poll(() => trayImage(desktop)).toMatch(/tray-expiring\.png$/);
    const notices = await desktop.host.call<{ title: string; body: string }[]>('notifications');
    expect(notices).toEqual([expect.objectContaining({ title: 'QuickBooks refresh token expires soon' })]);
    expect(notices[0]?.body).toMatch(/ends in [45] days/);
  });
});

test.describe('an engine that could not start', () => {
  test.use({
    desktopOptions: {
      env: {
        QB_CLIENT_ID: 'host-client-id',
        QB_CLIENT_SECRET: 'host-client-secret-value',
        QB_REFRESH_TOKEN: 'host-refresh-token-value',
        QB_ENVIRONMENT: 'staging',
      },
    },
  });

  test('shows not_configured naming the variable; Connect and Disconnect answer not_configured', async ({
    desktop,
  }) => {
    await expect(desktop.page.getByTestId('warnings')).toContainText('QB_ENVIRONMENT');
    await expect(desktop.page.locator('body')).not.toContainText('host-client-secret-value');
    for (const method of ['connect', 'disconnect'])
      expect(await bridgeCall(desktop, method)).toMatchObject({
        ok: false,
        error: { code: 'not_configured' },
      });
    await expect.poll(() => trayImage(desktop)).toMatch(/tray-idle\.png$/);
    expect(desktop.host.output()).not.toContain('host-client-secret-value');
    expect(desktop.host.output()).not.toContain('host-refresh-token-value');
  });
});

test('a second start, refused the single-instance lock, quits: no window, no engine on the store', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'qb-desktop-host-'));
  try {
    // The stand-in refuses the lock, as Electron does while another instance holds it.
    const host = await startDesktopHost({
      dataDir,
      env: { QB_DEMO: '1', DESKTOP_HOST_SECOND_INSTANCE: '1' },
    });
    expect(await host.exited).toBe(0);
    expect(host.events.some((event) => event.type === 'window-created')).toBe(false);
    expect(host.events.some((event) => event.type === 'load-url')).toBe(false);
    // No engine started: the demo store was never opened, nor the desktop store written.
    expect(host.output()).not.toContain('Demo mode');
    expect(readdirSync(dataDir).filter((name) => name !== 'xdg-config')).toEqual([]);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a packaged build refuses --no-sandbox, saying so, and opens no window', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'qb-desktop-host-'));
  try {
    const host = await startDesktopHost({
      dataDir,
      env: { QB_DEMO: '1', DESKTOP_HOST_PACKAGED: '1' },
      args: ['--no-sandbox'],
    });
    expect(await host.exited).toBe(1);
    expect(host.output()).toContain('The packaged app does not run with --no-sandbox');
    expect(host.events.some((event) => event.type === 'window-created')).toBe(false);
    // Unpackaged (npm start as root), the same switch is accepted.
    const dev = await startDesktopHost({ dataDir, env: { QB_DEMO: '1' }, args: ['--no-sandbox'] });
    await dev.waitFor(
      (event): event is Extract<typeof event, { type: 'load-url' }> => event.type === 'load-url',
    );
    await dev.stop();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
