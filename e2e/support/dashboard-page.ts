// The dashboard page as every browser spec drives it: opening it signed in, watching that no token
// value ever reaches it (text, attributes, anything shown even for a moment), catching page errors
// and CSP refusals, and full-page screenshots into the test's output folder.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page, TestInfo } from '@playwright/test';
import { statusFromStream } from '../../src/server/testing/status-events';
import { DEFAULT_CONNECTION_ID, type TokenStatus } from '../../src/shared/contract';
import { expect } from './headless';

// ------------------------------------------------------------------ secrets the page must never show

/** What a running stack tells about its secrets. */
export interface StackSecrets {
  dataDir: string;
  adminToken: string;
  emulator: { refreshToken: string; clientSecret: string } | null;
}

/** Every token value the test has seen: the emulator's demo credentials and the server's token store. */
export class SecretWatch {
  private readonly values = new Set<string>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly headless: StackSecrets) {
    const em = headless.emulator;
    if (em) this.add(em.refreshToken, em.clientSecret);
    this.add(headless.adminToken);
  }

  add(...values: (string | null | undefined)[]): void {
    for (const value of values) if (value && value.length >= 8) this.values.add(value);
  }

  /** Reads the (plaintext, in tests) token store: the access and refresh tokens the server holds now. */
  sample(): void {
    for (const file of storeFiles(this.headless.dataDir)) {
      try {
        this.add(...tokenFields(JSON.parse(readFileSync(file, 'utf8'))));
      } catch {
        // Caught mid-rename: the next sample reads it.
      }
    }
  }

  /** Samples the store every 100 ms, so tokens that lived only a few seconds are caught too. */
  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), 100);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.sample();
  }

  get count(): number {
    return this.values.size;
  }

  find(text: string): string[] {
    return [...this.values].filter((value) => text.includes(value)).map((value) => `…${value.slice(-4)}`);
  }
}

/** Every `accessToken` / `refreshToken` string in a store file, wherever its layout nests the chain. */
function tokenFields(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(tokenFields);
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, inner]) =>
    (key === 'accessToken' || key === 'refreshToken') && typeof inner === 'string'
      ? [inner]
      : tokenFields(inner),
  );
}

function storeFiles(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string, depth: number) => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(d, entry.name);
      if (entry.isDirectory() && depth < 3) walk(path, depth + 1);
      else if (entry.isFile() && entry.name.endsWith('.json')) found.push(path);
    }
  };
  walk(dir, 0);
  return found;
}

/**
 * Records, from the first paint on, every piece of text and every attribute value the page ever
 * shows (a token that flashed by between two checks would otherwise go unseen).
 */
async function recordEverythingShown(page: Page): Promise<void> {
  // A string, not a function: this file is compiled without the DOM library.
  await page.addInitScript({
    content: `(() => {
      const seen = [];
      window.__shown = seen;
      new MutationObserver((records) => {
        for (const record of records) {
          if (record.type === 'characterData') seen.push(record.target.textContent || '');
          else if (record.type === 'attributes') seen.push(record.target.getAttribute(record.attributeName) || '');
          else for (const node of record.addedNodes) seen.push(node.outerHTML || node.textContent || '');
        }
      }).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
    })();`,
  });
}

export async function expectNoTokenValues(page: Page, secrets: SecretWatch): Promise<void> {
  secrets.stop();
  expect(secrets.count, 'the test must know some token values to look for').toBeGreaterThanOrEqual(3);
  const shown = String(await page.evaluate("(window.__shown || []).join('\\n')"));
  expect(shown.length, 'the recorder saw the page render').toBeGreaterThan(0);
  const html = await page.content();
  const text = await page.locator('body').innerText();
  expect(secrets.find(shown), 'token values shown at some point').toEqual([]);
  expect(secrets.find(html), 'token values in the HTML').toEqual([]);
  expect(secrets.find(text), 'token values in the page text').toEqual([]);
  expect(pageProblems.get(page) ?? [], 'page errors, CSP refusals or dialogs').toEqual([]);
}

// ------------------------------------------------------------------ page helpers

/** Uncaught page errors and CSP refusals, per page: the checks at the end expect none. */
const pageProblems = new WeakMap<Page, string[]>();

/**
 * The first status of the stack's default connection, as the server's own event stream reports it
 * (current on connect, then each change), that `accept` takes: what a spec waits on instead of giving
 * the page a generous timeout. The page is then checked to show it.
 */
export function serverStatus(
  headless: { uiUrl: string; adminToken: string },
  accept: (status: TokenStatus) => boolean,
): Promise<TokenStatus> {
  return statusFromStream(
    { baseUrl: new URL(headless.uiUrl).origin, adminToken: headless.adminToken },
    (status) => status.connection.id === DEFAULT_CONNECTION_ID && accept(status),
  );
}

/** The stack's start-up refresh is over (succeeded, or failed and given up). */
export async function startUpRefreshSettled(headless: { uiUrl: string; adminToken: string }): Promise<void> {
  await serverStatus(headless, (status) => status.lastRefresh !== null && status.state !== 'refreshing');
}

export async function openDashboard(
  page: Page,
  headless: { uiUrl: string; adminToken: string },
): Promise<void> {
  const problems: string[] = [];
  pageProblems.set(page, problems);
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
  page.on('console', (message) => {
    const text = message.text();
    // The meta CSP names frame-ancestors too (the server also sends it as a header), which Chromium notes.
    if (/Content Security Policy|Refused to/.test(text) && !/frame-ancestors' is ignored/.test(text))
      problems.push(`csp: ${text}`);
  });
  page.on('dialog', (dialog) => {
    problems.push(`dialog: ${dialog.type()} ${dialog.message()}`);
    void dialog.dismiss();
  });
  await recordEverythingShown(page);
  // Every stack here starts from a refresh token and refreshes at once: let that settle first, so
  // counters read and faults injected afterwards belong to the test's own actions. Waited for on the
  // server's own events (however long a loaded machine takes), then the page only has to show it.
  await startUpRefreshSettled(headless);
  await page.goto(headless.uiUrl);
  await expect(page.getByTestId('verdict')).toBeVisible();
  await expect(page.getByTestId('count-refreshes')).not.toHaveText('0');
  await expect(page.getByTestId('state-pill')).not.toHaveAttribute('data-state', 'refreshing');
}

/** Starts watching the stack's token values from before the first paint, then opens the dashboard. */
export async function openWatchedDashboard(
  page: Page,
  headless: StackSecrets & { uiUrl: string },
): Promise<SecretWatch> {
  const secrets = new SecretWatch(headless);
  secrets.start();
  await openDashboard(page, headless);
  return secrets;
}

export async function screenshot(page: Page, testInfo: TestInfo, name = 'dashboard'): Promise<void> {
  // From the top: a full-page capture of a scrolled page repeats the sticky header mid-page.
  await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({ path: testInfo.outputPath(`${name}.png`), fullPage: true });
}

export async function refreshCount(page: Page): Promise<number> {
  return Number(await page.getByTestId('count-refreshes').innerText());
}

export async function accessExpiresAt(page: Page): Promise<number> {
  const iso = await page.getByTestId('access-expires-at').getAttribute('datetime');
  expect(iso, 'the access token expiry is shown').toBeTruthy();
  return Date.parse(iso ?? '');
}

export const pill = (page: Page) => page.getByTestId('state-pill');

/** Closes every action result (the overlay would cover part of a full-page screenshot). */
export async function dismissResults(page: Page): Promise<void> {
  const results = page.getByRole('region', { name: 'Action results' });
  for (const close of await results.getByRole('button', { name: 'Dismiss this message' }).all()) {
    await close.click();
  }
  await expect(results).toHaveCount(0);
}
