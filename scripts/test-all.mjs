#!/usr/bin/env node
// The README's test command: lint, typecheck, unit/integration tests (vitest), build, then the
// Playwright projects (browser, desktop-host, and electron where a runtime exists). Ends with one totals line
// summed over vitest and Playwright; a failed lint, typecheck or build counts as one failure.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const resultsDir = join(root, 'test-results');
const totals = { passed: 0, failed: 0, skipped: 0 };
const summary = [];

function run(label, command, args, env = {}) {
  console.log(`\n=== ${label}: ${[command, ...args].join(' ')}`);
  const started = Date.now();
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const ok = result.status === 0;
  summary.push(`${label}: ${ok ? 'ok' : `FAILED (exit ${result.status ?? result.signal})`} in ${seconds}s`);
  return ok;
}

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}

function check(label, command, args) {
  if (!run(label, command, args)) totals.failed += 1;
}

const npx = 'npx';
mkdirSync(resultsDir, { recursive: true });

check('lint', npx, ['eslint', '--max-warnings', '0', '.']);
check('typecheck', 'npm', ['run', '--silent', 'typecheck']);

const vitestJson = join(resultsDir, 'vitest.json');
rmSync(vitestJson, { force: true });
const vitestOk = run('unit and integration (vitest)', npx, [
  'vitest',
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${vitestJson}`,
]);
const vitest = readJson(vitestJson);
if (vitest) {
  totals.passed += vitest.numPassedTests;
  totals.failed += vitest.numFailedTests;
  totals.skipped += vitest.numPendingTests + (vitest.numTodoTests ?? 0);
  if (!vitestOk && vitest.numFailedTests === 0) totals.failed += 1; // e.g. a suite that failed to load
} else {
  totals.failed += 1;
}

// `npm run build`: the Electron app (electron-vite, out/) and the Node artefacts (tsdown, dist/).
const buildOk = run('build (npm run build)', 'npm', ['run', '--silent', 'build']);
if (!buildOk) totals.failed += 1;

const playwrightJson = join(resultsDir, 'playwright.json');
rmSync(playwrightJson, { force: true });
const needsDisplay = process.platform === 'linux' && !process.env.DISPLAY && existsSync('/usr/bin/xvfb-run');
const playwrightArgs = ['playwright', 'test', '--reporter=list,json'];
const playwrightOk = buildOk
  ? needsDisplay
    ? run('e2e (playwright, under xvfb-run)', 'xvfb-run', ['-a', npx, ...playwrightArgs], {
        PLAYWRIGHT_JSON_OUTPUT_NAME: playwrightJson,
      })
    : run('e2e (playwright)', npx, playwrightArgs, { PLAYWRIGHT_JSON_OUTPUT_NAME: playwrightJson })
  : false;
const playwright = readJson(playwrightJson);
if (playwright?.stats) {
  const { expected = 0, unexpected = 0, skipped = 0, flaky = 0 } = playwright.stats;
  totals.passed += expected + flaky;
  totals.failed += unexpected;
  totals.skipped += skipped;
  if (!playwrightOk && unexpected === 0) totals.failed += 1;
  for (const skip of collectSkips(playwright)) console.log(`skipped: ${skip}`);
} else if (buildOk) {
  totals.failed += 1;
}

function collectSkips(report) {
  const reasons = [];
  const walk = (suite) => {
    for (const spec of suite.specs ?? []) {
      for (const test of spec.tests ?? []) {
        if (test.status !== 'skipped') continue;
        const note =
          (test.annotations ?? []).find((a) => a.type === 'skip')?.description ?? 'no reason given';
        reasons.push(`${spec.title} [${test.projectName}]: ${note}`);
      }
    }
    for (const child of suite.suites ?? []) walk(child);
  };
  for (const suite of report.suites ?? []) walk(suite);
  return reasons;
}

console.log('\n' + summary.join('\n'));
console.log(`${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(totals.failed > 0 ? 1 : 0);
