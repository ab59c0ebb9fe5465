// `qb-token` against a broken store, as real processes (issue 17): a wrong QB_STORE_KEY (item 2),
// a full disk (item 1: a real, small tmpfs mounted here), a save that keeps failing (item 1: the
// chain goes to a rescue file and the next run continues it) and a data directory this user cannot
// write to (item 5). The failing-save and unwritable cases run the CLI as the unprivileged `nobody`
// user, since root writes anywhere; the disk cases need root to mount. A case whose prerequisite is
// missing is skipped with the reason printed.
import { closeSync, existsSync, openSync, readdirSync, readFileSync, statfsSync, writeSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, beforeEach, describe, expect, it, type TestContext } from 'vitest';
import { emulatorEnv } from '../emulator/app-env';
import { startEmulator } from '../emulator/index';
import type { EmulatorHandle } from '../emulator/types';
import { defaultRecordPath } from '../core/testing/stored-chain';
import { REFRESH_MARKER_PREFIX, REFRESH_MARKERS_VARIABLE } from '../core/refresh-markers';
import { diagnosticsOf, runQbToken, type CliRun } from './testing/cli-process';

const NOBODY = 65534;
const KEY_A = 'the-first-store-key-0123';
const KEY_B = 'another-store-key-456789';

let emulator: EmulatorHandle;
let workDir: string;
const outputs: string[] = [];
const isRoot = process.getuid?.() === 0;

/** Runs qb-token in its HOME; `onStderr` sees stderr as it grows (to act at a given refresh step). */
async function qbToken(
  args: string[],
  env: NodeJS.ProcessEnv,
  options: { uid?: number; onStderr?: (soFar: string) => void } = {},
): Promise<CliRun> {
  const run = await runQbToken(args, { env, cwd: env.HOME ?? workDir, ...options });
  outputs.push(...diagnosticsOf(args, run));
  return run;
}

let count = 0;
/** A fresh HOME and data dir, owned by `uid` (mode 0700), for a fresh authorization. */
async function place(uid = 0): Promise<{ home: string; dataDir: string }> {
  // Every test starts its own chain: rotation with immediate retirement kills the previous ones.
  refreshToken = emulator.control.issueAuthorization(emulator.realmId).refreshToken;
  count += 1;
  const home = join(workDir, `home-${count}`);
  const dataDir = join(home, 'data');
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await chown(home, uid, uid);
  await chown(dataDir, uid, uid);
  return { home, dataDir };
}

let refreshToken = '';
function env(home: string, dataDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: home,
    ...emulatorEnv(emulator, dataDir),
    QB_REFRESH_TOKEN: refreshToken,
    ...extra,
  };
}

const refreshCalls = () => emulator.control.counters().tokenCalls.refresh_token;

/** The refresh token in a plaintext record file. */
function storedRefreshToken(dataDir: string): string {
  const file = JSON.parse(readFileSync(defaultRecordPath(dataDir), 'utf8')) as {
    tokens: { chain: { refreshToken: string } };
  };
  return file.tokens.chain.refreshToken;
}

/** The directory the records are written to (the data directory's `connections`). */
const recordDir = (dataDir: string) => dirname(defaultRecordPath(dataDir));

function mountTmpfs(dir: string, size: string): string | null {
  if (!isRoot) return 'not running as root, so no tmpfs can be mounted';
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
    return null;
  } catch (err) {
    return `mount -t tmpfs failed: ${(err as { stderr?: Buffer }).stderr?.toString().trim() ?? String(err)}`;
  }
}

/** Running the CLI as `nobody` needs root: otherwise the test is skipped, saying so. */
function requireRoot(ctx: TestContext): void {
  if (isRoot) return;
  console.warn('[skip] needs root to run the CLI as another user');
  ctx.skip();
}

/** Runs `body` on a fresh place whose data dir is a tmpfs of `size` (skipped, saying why, when none can be mounted). */
async function onTmpfs(
  ctx: TestContext,
  size: string,
  body: (home: string, dataDir: string) => Promise<void>,
): Promise<void> {
  const { home, dataDir } = await place();
  const why = mountTmpfs(dataDir, size);
  if (why) {
    console.warn(`[skip] ${why}`);
    ctx.skip();
  }
  try {
    await body(home, dataDir);
  } finally {
    execFileSync('umount', [dataDir]);
  }
}

/** Fills the filesystem holding `dir` until only `leaveBytes` (rounded down to blocks) are free. */
function fill(dir: string, name: string, leaveBytes: number): void {
  const { bavail, bsize } = statfsSync(dir);
  const bytes = Math.max(0, Number(bavail) * Number(bsize) - leaveBytes);
  const fd = openSync(join(dir, name), 'w');
  try {
    const chunk = Buffer.alloc(Number(bsize));
    for (let written = 0; written < bytes; written += chunk.length) {
      try {
        writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') return;
        throw err;
      }
    }
  } finally {
    closeSync(fd);
  }
}

beforeAll(async () => {
  // Every refresh rotates the refresh token and the old one dies at once: a lost chain shows.
  emulator = await startEmulator({ rotateAfterSeconds: 0, oldRefreshTokenPolicy: 'immediate' });
  workDir = await mkdtemp(join(tmpdir(), 'qb-token-store-faults-'));
  // `nobody` must reach its HOME inside.
  await chmod(workDir, 0o755);
});

afterAll(async () => {
  await emulator?.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

beforeEach(() => {
  emulator.control.clearFaults();
  emulator.control.resetCounters();
});

describe('qb-token and QB_STORE_KEY (item 2)', () => {
  it('a wrong or missing key is exit 2 naming QB_STORE_KEY; the store stays as it is; the right key continues the chain', async () => {
    const { home, dataDir } = await place();
    expect((await qbToken(['token'], env(home, dataDir, { QB_STORE_KEY: KEY_A }))).code).toBe(0);
    const store = defaultRecordPath(dataDir);
    const before = readFileSync(store);
    emulator.control.resetCounters();

    for (const [label, extra] of [
      ['wrong key', { QB_STORE_KEY: KEY_B }],
      ['no key', {}],
    ] as const) {
      for (const command of ['status', 'token']) {
        const run = await qbToken([command], env(home, dataDir, extra));
        expect(run.code, `${label}, ${command}: ${run.stderr}`).toBe(2);
        expect(run.stdout).toBe('');
        expect(run.stderr).toMatch(/QB_STORE_KEY/);
        expect(run.stderr).toMatch(/left as it is and nothing was refreshed/);
      }
    }
    expect(readFileSync(store).equals(before)).toBe(true);
    expect(readdirSync(recordDir(dataDir)).filter((name) => name.includes('corrupt'))).toEqual([]);
    expect(refreshCalls()).toBe(0);

    const right = await qbToken(['refresh'], env(home, dataDir, { QB_STORE_KEY: KEY_A }));
    expect(right.code, right.stderr).toBe(0);
    expect(right.stdout).toMatch(/^Refreshed\./);
  }, 120_000);
});

describe('qb-token on a full disk (item 1)', () => {
  it('does not start a token call it could not save the answer of', async (ctx) => {
    await onTmpfs(ctx, '512k', async (home, dataDir) => {
      expect((await qbToken(['token'], env(home, dataDir))).code).toBe(0);
      const chain = storedRefreshToken(dataDir);
      // One block left: enough for a small file (the old code's in-flight note), not for the reservation.
      fill(dataDir, 'filler', 4096);
      emulator.control.resetCounters();

      const run = await qbToken(['refresh'], env(home, dataDir));
      expect(run.code, run.stderr).toBe(4);
      expect(run.stderr).toMatch(/No space left on the device holding QB_DATA_DIR \(.*\)/);
      expect(refreshCalls()).toBe(0);
      expect(storedRefreshToken(dataDir)).toBe(chain);
      expect(emulator.control.isRefreshTokenValid(chain)).toBe(true);

      await rm(join(dataDir, 'filler'));
      const after = await qbToken(['refresh'], env(home, dataDir));
      expect(after.code, after.stderr).toBe(0);
    });
  }, 120_000);

  it('saves the answer in space reserved before the call, even when the disk fills during it', async (ctx) => {
    await onTmpfs(ctx, '512k', async (home, dataDir) => {
      expect((await qbToken(['token'], env(home, dataDir))).code).toBe(0);
      emulator.control.injectTokenFault({ kind: 'delay', ms: 1500 }, 1);
      let filled = false;
      let freeAfterFill = -1;
      const run = await qbToken(['refresh'], env(home, dataDir, { [REFRESH_MARKERS_VARIABLE]: '1' }), {
        onStderr: (soFar) => {
          // The token call is on its way: something else takes the last byte of the disk.
          if (!filled && soFar.includes(`${REFRESH_MARKER_PREFIX} token-call`)) {
            filled = true;
            fill(dataDir, 'filler', 0);
            freeAfterFill = Number(statfsSync(dataDir).bavail);
          }
        },
      });
      expect(filled).toBe(true);
      expect(freeAfterFill).toBe(0);
      expect(run.code, run.stderr).toBe(0);
      expect(emulator.control.isRefreshTokenValid(storedRefreshToken(dataDir))).toBe(true);
    });
  }, 120_000);
});

describe('qb-token when saving keeps failing (item 1)', () => {
  const refreshWhileDirTurnsReadOnly = async (
    home: string,
    dataDir: string,
    onRetrying: () => Promise<void>,
  ): Promise<CliRun> => {
    emulator.control.injectTokenFault({ kind: 'delay', ms: 1000 }, 1);
    let locked = false;
    let retrying = false;
    return qbToken(['refresh', '--verbose'], env(home, dataDir, { [REFRESH_MARKERS_VARIABLE]: '1' }), {
      uid: NOBODY,
      onStderr: (soFar) => {
        // While Intuit answers, the directory stops accepting new names (an admin's chmod, say).
        if (!locked && soFar.includes(`${REFRESH_MARKER_PREFIX} token-call`)) {
          locked = true;
          void chmod(recordDir(dataDir), 0o500);
        }
        if (!retrying && /retrying for up to/.test(soFar)) {
          retrying = true;
          void onRetrying();
        }
      },
    });
  };

  it('keeps trying for a bounded time and succeeds once the directory is writable again', async (ctx) => {
    requireRoot(ctx);
    const { home, dataDir } = await place(NOBODY);
    expect((await qbToken(['token'], env(home, dataDir), { uid: NOBODY })).code).toBe(0);
    const run = await refreshWhileDirTurnsReadOnly(home, dataDir, () => chmod(recordDir(dataDir), 0o700));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/Saved to .* after retrying/);
    expect(emulator.control.isRefreshTokenValid(storedRefreshToken(dataDir))).toBe(true);
  }, 120_000);

  it('then leaves the chain in a rescue file, says where, and the next run continues it', async (ctx) => {
    requireRoot(ctx);
    const { home, dataDir } = await place(NOBODY);
    expect((await qbToken(['token'], env(home, dataDir), { uid: NOBODY })).code).toBe(0);
    const old = storedRefreshToken(dataDir);
    const run = await refreshWhileDirTurnsReadOnly(home, dataDir, async () => undefined);
    expect(run.code, run.stderr).toBe(4);
    expect(run.stdout).toBe('');
    const rescueDir = join(home, '.qb-token-desk', 'rescue');
    expect(run.stderr).toMatch(/QB_DATA_DIR \(.*\) is not writable by this user \(uid 65534\)/);
    expect(run.stderr).toContain(`The new tokens were saved to ${rescueDir}/`);
    expect(readdirSync(rescueDir)).toHaveLength(1);
    // Intuit rotated: the stored token is dead; only the rescued one carries the chain.
    expect(emulator.control.isRefreshTokenValid(old)).toBe(false);

    await chmod(recordDir(dataDir), 0o700);
    const next = await qbToken(['refresh'], env(home, dataDir), { uid: NOBODY });
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).not.toMatch(/invalid_grant/);
    expect(emulator.control.isRefreshTokenValid(storedRefreshToken(dataDir))).toBe(true);
    expect(readdirSync(rescueDir)).toEqual([]);
  }, 120_000);
});

describe('qb-token with a data directory it cannot write to (item 5)', () => {
  it('fails at once, exit 2, naming QB_DATA_DIR and what is wrong', async (ctx) => {
    requireRoot(ctx);
    const { home, dataDir } = await place(NOBODY);
    expect((await qbToken(['token'], env(home, dataDir), { uid: NOBODY })).code).toBe(0);
    // The directory (and the records' directory in it) now belongs to root (0755): readable by nobody, not writable.
    for (const dir of [dataDir, recordDir(dataDir)]) {
      await chown(dir, 0, 0);
      await chmod(dir, 0o755);
    }
    emulator.control.resetCounters();
    const run = await qbToken(['refresh'], env(home, dataDir), { uid: NOBODY });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(/QB_DATA_DIR \(.*\) is not writable by this user \(uid 65534\)/);
    expect(run.stderr).not.toMatch(/EACCES.*mkdir/);
    expect(refreshCalls()).toBe(0);
    console.info(
      `[figures] qb-token refresh on an unwritable QB_DATA_DIR: failed after ${run.ms} ms (process start included)`,
    );
    // Reading still works: status shows the problem instead of failing.
    const status = await qbToken(['status'], env(home, dataDir), { uid: NOBODY });
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/not writable/);
    expect(existsSync(`${defaultRecordPath(dataDir)}.lock`)).toBe(false);
  }, 120_000);
});

describe('what the CLI printed', () => {
  it('carries no token value', () => {
    const text = outputs.join('\n');
    expect(text.length).toBeGreaterThan(0);
    for (const secret of [...emulator.control.issuedTokenValues(), emulator.clientSecret]) {
      expect(text.includes(secret), `a value ending ${secret.slice(-4)} leaked`).toBe(false);
    }
  });
});
