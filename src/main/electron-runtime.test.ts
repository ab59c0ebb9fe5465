// scripts/electron-path.mjs and `npm start` without and with an Electron runtime. A stand-in
// runtime (a small shell script) shows what the launcher would run; no real Electron needed.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { projectRoot, resolveElectronRuntime } from '../../scripts/electron-path.mjs';

const startScript = join(projectRoot, 'scripts', 'start-electron.mjs');

/** The environment without a developer's QB_* settings. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('QB_')));
}
const temps: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'qb-electron-path-'));
  temps.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fake project root with node_modules/electron, optionally with path.txt and a dist executable. */
function fakeRoot(options: { pathTxt?: string; executable?: string }): string {
  const root = tempDir();
  const pkg = join(root, 'node_modules', 'electron');
  mkdirSync(join(pkg, 'dist'), { recursive: true });
  if (options.pathTxt !== undefined) writeFileSync(join(pkg, 'path.txt'), options.pathTxt);
  if (options.executable) writeFileSync(join(pkg, 'dist', options.executable), '');
  return root;
}

describe('resolveElectronRuntime', () => {
  it('uses the executable named in the electron package’s path.txt', () => {
    const root = fakeRoot({ pathTxt: 'electron', executable: 'electron' });
    const runtime = resolveElectronRuntime({ root, env: {} });
    expect(runtime.executablePath).toBe(join(root, 'node_modules', 'electron', 'dist', 'electron'));
  });

  it('prefers ELECTRON_OVERRIDE_DIST_PATH, and does not fall back when it is wrong', () => {
    const root = fakeRoot({ pathTxt: 'electron', executable: 'electron' });
    const dist = tempDir();
    writeFileSync(join(dist, 'electron'), '');
    expect(resolveElectronRuntime({ root, env: { ELECTRON_OVERRIDE_DIST_PATH: dist } }).executablePath).toBe(
      join(dist, 'electron'),
    );
    const wrong = resolveElectronRuntime({ root, env: { ELECTRON_OVERRIDE_DIST_PATH: join(dist, 'nope') } });
    expect(wrong.executablePath).toBeNull();
    expect(wrong.message).toContain('ELECTRON_OVERRIDE_DIST_PATH is set but holds no Electron executable');
  });

  it('explains the missing runtime and how to supply one', () => {
    const root = fakeRoot({});
    const runtime = resolveElectronRuntime({ root, env: {}, platform: 'linux' });
    expect(runtime.executablePath).toBeNull();
    expect(runtime.tried).toEqual([join(root, 'node_modules', 'electron', 'dist', 'electron')]);
    expect(runtime.message).toMatch(/No Electron runtime found/);
    expect(runtime.message).toMatch(/ELECTRON_OVERRIDE_DIST_PATH/);
  });
});

describe('npm start (scripts/start-electron.mjs)', () => {
  it('without a runtime and --strict (or QB_START_STRICT=1): exits 1 with one clear message, no stack', () => {
    const result = spawnSync(process.execPath, [startScript, '--strict'], {
      env: { ...process.env, ELECTRON_OVERRIDE_DIST_PATH: join(tempDir(), 'missing') },
      encoding: 'utf8',
    });
    const byVariable = spawnSync(process.execPath, [startScript], {
      env: { ...process.env, ELECTRON_OVERRIDE_DIST_PATH: join(tempDir(), 'missing'), QB_START_STRICT: '1' },
      encoding: 'utf8',
    });
    expect(byVariable.status).toBe(1);
    expect(result.status).toBe(1);
    const output = result.stdout + result.stderr;
    expect(output).toContain('No Electron runtime found');
    expect(output).toContain('ELECTRON_OVERRIDE_DIST_PATH');
    expect(output).not.toMatch(/\n\s+at .+:\d+:\d+/);
  });

  it.skipIf(process.platform === 'win32')(
    'with a runtime: launches it on the project, passing its exit code',
    () => {
      const dist = tempDir();
      const record = join(dist, 'launched.txt');
      const executable = join(dist, 'electron');
      writeFileSync(executable, `#!/bin/sh\necho "$PWD $*" > "${record}"\nexit 7\n`);
      chmodSync(executable, 0o755);
      const result = spawnSync(process.execPath, [startScript, '--no-build'], {
        env: { ...process.env, ELECTRON_OVERRIDE_DIST_PATH: dist, ELECTRON_RUN_AS_NODE: '1' },
        encoding: 'utf8',
      });
      expect(result.status).toBe(7);
      const [cwd, ...args] = readFileSync(record, 'utf8').trim().split(' ');
      expect(cwd).toBe(projectRoot);
      expect(args[0]).toBe('.');
    },
  );

  it('without a runtime: says so in one sentence, then serves the dashboard headless until stopped', async () => {
    const dataDir = tempDir();
    const child = spawn(process.execPath, [startScript, '--no-build'], {
      cwd: dataDir,
      env: {
        ...cleanEnv(),
        ELECTRON_OVERRIDE_DIST_PATH: join(tempDir(), 'missing'),
        QB_DEMO: '1',
        QB_PORT: '0',
        QB_DATA_DIR: dataDir,
        QB_ADMIN_TOKEN: 'start-fallback-admin-token',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          const found = /Open this URL to sign in \(it carries the admin secret\): (\S+)/.exec(stdout);
          if (found?.[1]) resolve(found[1]);
        });
        void exited.then((code) => reject(new Error(`npm start exited (${code}): ${stdout}`)));
      });
      const [first] = stdout.split('\n');
      expect(first).toMatch(
        /^npm start: no Electron runtime is installed here and none could be fetched, so this serves the same dashboard headless instead \(what `npm run serve` does\)/,
      );
      expect(first?.match(/\. /g) ?? []).toHaveLength(0);
      // The same API the dashboard uses answers, with a status.
      const origin = new URL(url).origin;
      const response = await fetch(`${origin}/api/integrations/quickbooks/refresh-token`, {
        headers: { authorization: 'Bearer start-fallback-admin-token' },
      });
      expect(response.status).toBe(200);
      expect(((await response.json()) as { ok: boolean; value: { demo: boolean } }).value.demo).toBe(true);
      // Still running: it keeps serving until stopped.
      expect(child.exitCode).toBeNull();
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });
});
