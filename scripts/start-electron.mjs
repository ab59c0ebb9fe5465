#!/usr/bin/env node
// `npm start`: find an Electron runtime, build, launch the app. Without a runtime it exits 1
// with one readable message (why, and how to supply one), never a stack trace.
// `npm run dev` (--dev): the same runtime lookup, then electron-vite's dev server with hot reload
// (electron-vite itself only knows node_modules/electron, so it is told via ELECTRON_EXEC_PATH).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot, resolveElectronRuntime } from './electron-path.mjs';

const devMode = process.argv.includes('--dev');
const command = devMode ? 'npm run dev' : 'npm start';

function findRuntime() {
  let runtime = resolveElectronRuntime();
  if (runtime.executablePath || process.env.ELECTRON_OVERRIDE_DIST_PATH) return runtime;
  // The electron package's own installer may still fetch the binary (a first run with network).
  const installer = join(projectRoot, 'node_modules', 'electron', 'install.js');
  if (existsSync(installer)) {
    console.log('No Electron runtime yet; trying the electron package installer...');
    const attempt = spawnSync(process.execPath, [installer], {
      cwd: projectRoot,
      stdio: 'pipe',
      timeout: 120_000,
      encoding: 'utf8',
    });
    if (attempt.status === 0) runtime = resolveElectronRuntime();
    else if (attempt.stderr) {
      // Only the first line: the cause, not a stack trace.
      const cause = attempt.stderr.split('\n').find((line) => line.trim()) ?? '';
      console.log(`The installer could not fetch Electron: ${cause.trim()}`);
    }
  }
  return runtime;
}

const runtime = findRuntime();
if (!runtime.executablePath) {
  console.error(`\n${command}: ${runtime.message}`);
  process.exit(1);
}

const electronVite = join(projectRoot, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js');
// Chromium refuses to run as root with its sandbox on (containers, CI); the renderer keeps its
// context isolation and the sandboxed preload either way.
const asRoot = process.platform === 'linux' && process.getuid?.() === 0;
if (asRoot) console.warn(`${command}: running as root, so Chromium’s OS sandbox is off (--no-sandbox).`);

if (devMode) {
  const dev = spawn(process.execPath, [electronVite, 'dev', ...(asRoot ? ['--noSandbox'] : [])], {
    cwd: projectRoot,
    stdio: 'inherit',
    env: { ...process.env, ELECTRON_EXEC_PATH: runtime.executablePath },
  });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => dev.kill(signal));
  dev.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
  launch(runtime.executablePath);
}

function launch(executablePath) {
  if (!process.argv.includes('--no-build')) {
    const build = spawnSync(process.execPath, [electronVite, 'build'], {
      cwd: projectRoot,
      stdio: 'inherit',
    });
    if (build.status !== 0) {
      console.error('npm start: the build failed (see above); not launching.');
      process.exit(build.status ?? 1);
    }
  }

  const args = asRoot ? ['.', '--no-sandbox'] : ['.'];

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
