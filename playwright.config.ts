// Three projects: `browser` (the React UI served by the headless adapter, in Debian's Chromium),
// `electron` (the built app through Playwright's _electron; its fixtures live in
// e2e/support/electron-app.ts and skip, with the reason shown, where no Electron runtime exists) and
// `desktop-host` (the built main bundle under an electron stand-in, driving the real renderer and
// preload in Chromium; e2e/support/desktop-host).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chromium, defineConfig } from '@playwright/test';

interface BrowserRuntime {
  executablePath: string | undefined;
  from: string;
}

function onPath(command: string): string | undefined {
  try {
    const found = execFileSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).trim();
    return found && existsSync(found) ? found : undefined;
  } catch {
    return undefined;
  }
}

/** CHROMIUM_PATH, else `chromium` on PATH (Debian's package), else Playwright's own download. */
export function resolveChromium(
  env: Record<string, string | undefined> = process.env,
): BrowserRuntime | null {
  const configured = env.CHROMIUM_PATH?.trim();
  if (configured)
    return existsSync(configured) ? { executablePath: configured, from: 'CHROMIUM_PATH' } : null;
  const debian = onPath('chromium');
  if (debian) return { executablePath: debian, from: 'PATH' };
  const bundled = chromium.executablePath();
  if (bundled && existsSync(bundled)) return { executablePath: bundled, from: 'playwright' };
  return null;
}

const browserProjectWanted = (() => {
  const projects = process.argv
    .flatMap((arg, i, all) =>
      arg === '--project' ? [all[i + 1] ?? ''] : arg.startsWith('--project=') ? [arg.slice(10)] : [],
    )
    .filter(Boolean);
  return projects.length === 0 || projects.includes('browser') || projects.includes('desktop-host');
})();

const chromiumRuntime = resolveChromium();
if (!chromiumRuntime && browserProjectWanted) {
  const configured = process.env.CHROMIUM_PATH?.trim();
  throw new Error(
    [
      'No Chromium for the browser tests.',
      configured ? `CHROMIUM_PATH=${configured} does not exist.` : 'CHROMIUM_PATH is not set,',
      configured ? '' : 'there is no `chromium` on PATH, and Playwright’s own Chromium is not installed.',
      'Supply one of: CHROMIUM_PATH=/path/to/chromium; Debian’s package (`apt-get install chromium`);',
      'or `npx playwright install chromium` where its download host is reachable.',
    ]
      .filter(Boolean)
      .join(' '),
  );
}

/** Debian's Chromium, headless, with the flags every browser test uses (plus `extra`). */
function chromiumUse(extra: string[] = []) {
  return {
    browserName: 'chromium' as const,
    headless: true,
    launchOptions: {
      executablePath: chromiumRuntime?.executablePath,
      args: [
        '--no-sandbox',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-gpu',
        ...extra,
      ],
    },
  };
}

export default defineConfig({
  testDir: './e2e',
  globalSetup: './e2e/support/electron-global-setup.ts',
  outputDir: 'test-results/playwright',
  workers: 2,
  retries: 0,
  fullyParallel: false,
  forbidOnly: Boolean(process.env.CI),
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [['list']],
  use: {
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
  },
  projects: [
    {
      name: 'browser',
      testMatch: /.*\.browser\.spec\.ts/,
      use: chromiumUse(),
    },
    {
      name: 'electron',
      testMatch: /.*\.electron\.spec\.ts/,
    },
    {
      // Checks of the built package (dist/lib) from plain Node: no browser.
      name: 'node',
      testMatch: /.*\.node\.spec\.ts/,
    },
    {
      // The built main bundle under an electron stand-in (e2e/support/desktop-host), its windows as
      // Chromium pages with the real preload: runs here, where no Electron runtime can exist.
      name: 'desktop-host',
      testMatch: /.*\.desktop-host\.spec\.ts/,
      // Electron lets its file:// app page load its own module scripts; plain Chromium needs this.
      use: chromiumUse(['--allow-file-access-from-files']),
    },
  ],
});
