#!/usr/bin/env node
// `npm start`: find an Electron runtime, build, launch the app. Without a runtime (none installed,
// none fetchable) it says so in one sentence and serves the same dashboard headless instead, as
// `npm run serve` does, so the README's first command always shows the dashboard. `--strict` (or
// QB_START_STRICT=1) keeps the old behaviour for scripts: exit 1 with the full explanation.
// `npm run dev` (--dev): the same runtime lookup, then electron-vite's dev server with hot reload
// (electron-vite itself only knows node_modules/electron, so it is told via ELECTRON_EXEC_PATH).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot, resolveElectronRuntime } from './electron-path.mjs';

const devMode = process.argv.includes('--dev');
const electronVite = join(projectRoot, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js');
const command = devMode ? 'npm run dev' : 'npm start';

function findRuntime() {
  let runtime = resolveElectronRuntime();
  if (runtime.executablePath || process.env.ELECTRON_OVERRIDE_DIST_PATH) return runtime;
  // The electron package's own installer may still fetch the binary (a first run with network).
  const installer = join(projectRoot, 'node_modules', 'electron', 'install.js');
  if (existsSync(installer)) {
    const attempt = spawnSync(process.execPath, [installer], {
      cwd: projectRoot,
      stdio: 'pipe',
      timeout: 120_000,
      encoding: 'utf8',
    });
    if (attempt.status === 0) return resolveElectronRuntime();
    // Only the first line: the cause, not a stack trace.
    const cause = `${attempt.stderr ?? ''}`
      .split('\n')
      .find((line) => line.trim())
      ?.trim();
    if (cause)
      return { ...runtime, message: `${runtime.message}\nThe electron package's installer said: ${cause}` };
  }
  return runtime;
}

const strict = process.argv.includes('--strict') || process.env.QB_START_STRICT === '1';

const runtime = findRuntime();
if (!runtime.executablePath) {
  if (devMode || strict) {
    console.error(`\n${command}: ${runtime.message}`);
    process.exit(1);
  }
  serveHeadless();
} else if (devMode) {
  startDev(runtime.executablePath);
} else {
  launch(runtime.executablePath);
}

/** The fallback: `npm run serve` (build, then the headless server), in this process's place. */
function serveHeadless() {
  console.log(
    'npm start: no Electron runtime is installed here and none could be fetched, so this serves the same dashboard headless instead (what `npm run serve` does); open the URL it prints below (npm start -- --strict, or QB_START_STRICT=1, exits instead).',
  );
  if (!process.argv.includes('--no-build')) build();
  const tsx = join(projectRoot, 'node_modules', 'tsx', 'dist', 'cli.mjs');
  const server = spawn(process.execPath, [tsx, join(projectRoot, 'src', 'server', 'cli.ts')], {
    cwd: process.cwd(),
    stdio: 'inherit',
  });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.kill(signal));
  server.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

function build() {
  const result = spawnSync(process.execPath, [electronVite, 'build'], {
    cwd: projectRoot,
    stdio: ['ignore', 2, 2],
  });
  if (result.status !== 0) {
    console.error('npm start: the build failed (see above); not starting.');
    process.exit(result.status ?? 1);
  }
}

/**
 * Chromium refuses to run as root with its sandbox on (containers, CI): only then, and only for
 * this unpackaged development launch, is --no-sandbox passed (a packaged build refuses it), and
 * it is said once. The renderer keeps context isolation and the sandboxed preload either way.
 */
function noSandboxForRoot() {
  const asRoot = process.platform === 'linux' && process.getuid?.() === 0;
  if (asRoot) console.warn(`${command}: running as root, so Chromium’s OS sandbox is off (--no-sandbox).`);
  return asRoot;
}

function startDev(executablePath) {
  const dev = spawn(process.execPath, [electronVite, 'dev', ...(noSandboxForRoot() ? ['--noSandbox'] : [])], {
    cwd: projectRoot,
    stdio: 'inherit',
    env: { ...process.env, ELECTRON_EXEC_PATH: executablePath },
  });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => dev.kill(signal));
  dev.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

function launch(executablePath) {
  if (!process.argv.includes('--no-build')) build();
  const args = noSandboxForRoot() ? ['.', '--no-sandbox'] : ['.'];

  const env = { ...process.env };
  delete env.ELECTRON_RUN_AS_NODE;
  const child = spawn(executablePath, args, { cwd: projectRoot, stdio: 'inherit', env });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('error', (error) => {
    console.error(`npm start: could not launch ${executablePath}: ${error.message}`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}
