// The Electron shell: a window opens, the page sees exactly window.qbTokens and no Node, main
// answers over the bridge with Result objects, and the page cannot leave the app.
import { BRIDGE_METHODS, type Result, type TokenStatus } from '../src/shared/contract';
import { electronRuntime, expect, NO_ELECTRON_REASON, test } from './support/electron-app';

type PageGlobals = Record<string, unknown> & { qbTokens: Record<string, (...args: unknown[]) => unknown> };

test.describe('Electron shell', () => {
  test.skip(!electronRuntime.executablePath, NO_ELECTRON_REASON);

  test('opens a window whose page sees only window.qbTokens, and no Node', async ({
    electronApp,
    appWindow,
  }) => {
    expect(electronApp.windows().length).toBeGreaterThanOrEqual(1);
    const keys = await appWindow.evaluate(() => Object.keys((globalThis as unknown as PageGlobals).qbTokens));
    expect(keys.sort()).toEqual([...BRIDGE_METHODS].sort());
    const globals = await appWindow.evaluate(() => {
      const g = globalThis as unknown as PageGlobals;
      return {
        require: typeof g.require,
        process: typeof g.process,
        module: typeof g.module,
        Buffer: typeof g.Buffer,
      };
    });
    expect(globals).toEqual({
      require: 'undefined',
      process: 'undefined',
      module: 'undefined',
      Buffer: 'undefined',
    });
  });

  test('answers getStatus through the bridge with a Result', async ({ appWindow }) => {
    const result = (await appWindow.evaluate(() =>
      (globalThis as unknown as PageGlobals).qbTokens.getStatus(),
    )) as Result<TokenStatus>;
    expect(result.ok).toBe(true);
    if (result.ok) expect(typeof result.value.state).toBe('string');
  });

  test('keeps the page in the app: no window.open, no navigation away', async ({
    electronApp,
    appWindow,
  }) => {
    const appUrl = appWindow.url();
    const opened = await appWindow.evaluate(
      () => (globalThis as unknown as { open: (u: string) => unknown }).open('https://example.com/') === null,
    );
    expect(opened).toBe(true);
    // Listen in main first, so the check below waits for the very event it is about.
    const willNavigate = electronApp.evaluate(
      ({ BrowserWindow }) =>
        new Promise<string>((resolve) => {
          BrowserWindow.getAllWindows()[0]?.webContents.once('will-navigate', (details) =>
            resolve(details.url),
          );
        }),
    );
    await appWindow.evaluate(() => {
      (globalThis as unknown as { location: { href: string } }).location.href = 'https://example.com/';
    });
    expect(await willNavigate).toBe('https://example.com/');
    // The navigation was refused; the app's page still answers on the bridge.
    const result = (await appWindow.evaluate(() =>
      (globalThis as unknown as PageGlobals).qbTokens.getStatus(),
    )) as Result<TokenStatus>;
    expect(result.ok).toBe(true);
    expect(appWindow.url()).toBe(appUrl);
    expect(electronApp.windows()).toHaveLength(1);
  });
});
