#!/usr/bin/env node
// `npm run dist`: installers for this platform (electron-builder.yml: AppImage + deb, NSIS, dmg)
// with the production fuses. electron-builder needs Electron's runtime for the target: a local
// one (ELECTRON_OVERRIDE_DIST_PATH, node_modules/electron/dist) or one it can download. Where there
// is neither (no network to Electron's release host, as on these build machines), this says so in
// one sentence and exits 1 before building anything; no stack trace.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { projectRoot, resolveElectronRuntime } from './electron-path.mjs';

const DOWNLOAD_TIMEOUT_MS = 120_000;
const extraArgs = process.argv.slice(2);
const version = JSON.parse(
  readFileSync(join(projectRoot, 'node_modules', 'electron', 'package.json'), 'utf8'),
).version;
const target = `${process.platform}-${process.arch}`;

function fail(sentence) {
  console.error(`npm run dist: ${sentence}`);
  process.exit(1);
}

/** A directory holding an unpacked runtime, or null when Electron's zip is cached/fetched instead. */
async function electronRuntime() {
  const local = resolveElectronRuntime();
  if (local.executablePath) return dirname(local.executablePath);
  if (process.env.ELECTRON_OVERRIDE_DIST_PATH?.trim()) {
    fail(
      `ELECTRON_OVERRIDE_DIST_PATH=${process.env.ELECTRON_OVERRIDE_DIST_PATH} holds no Electron ${version} executable, so there is nothing to package.`,
    );
  }
  // Fetch (or find in the cache) the zip electron-builder unpacks; it reads the same cache.
  const { downloadArtifact } = await import('@electron/get');
  let timer;
  try {
    await Promise.race([
      downloadArtifact({ version, artifactName: 'electron', platform: process.platform, arch: process.arch }),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${DOWNLOAD_TIMEOUT_MS / 1000} s`)),
          DOWNLOAD_TIMEOUT_MS,
        );
      }),
    ]);
  } catch (error) {
    const cause =
      error instanceof Error
        ? (error.cause?.code ?? error.code ?? error.message.split('\n')[0])
        : String(error);
    fail(
      `cannot package: Electron ${version}'s runtime for ${target} is not installed and could not be downloaded (${cause}); set ELECTRON_OVERRIDE_DIST_PATH to an unpacked Electron ${version} build, or run it where Electron's release host is reachable.`,
    );
  } finally {
    clearTimeout(timer);
  }
  return null;
}

const electronDist = await electronRuntime();
const run = (command, args) => spawnSync(command, args, { cwd: projectRoot, stdio: 'inherit' });
const bin = (name) => join(projectRoot, 'node_modules', '.bin', name);

if (
  run(process.execPath, [
    join(projectRoot, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js'),
    'build',
  ]).status !== 0
) {
  fail('the build failed (see above), so nothing was packaged.');
}
const builderArgs = ['--config', 'electron-builder.yml', `-c.electronVersion=${version}`, ...extraArgs];
if (electronDist) builderArgs.push(`-c.electronDist=${electronDist}`);
const packed = run(bin('electron-builder'), builderArgs);
if (packed.status !== 0) fail('electron-builder failed (see above).');
console.log('Installers are in release/.');
