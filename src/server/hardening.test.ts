// The headless server against issue 17's attacks: no 404-vs-401 oracle on static files without the
// secret (item 9), a data directory it cannot write to answers POST refresh at once with a message
// naming QB_DATA_DIR (item 5), and a QB_REDIRECT_URI that collides with a route is a configuration
// error naming it instead of a crash (item 8).
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HTTP_PATHS, type TokenStatus } from '../shared/contract';
import { startServerProcess } from './process-support';
import { startStack, type Stack } from './test-support';

describe('static files without the admin secret (item 9)', () => {
  let stack: Stack;
  let staticDir: string;

  beforeAll(async () => {
    staticDir = await mkdtemp(join(tmpdir(), 'qbtd-static-oracle-'));
    await mkdir(join(staticDir, 'assets'));
    await writeFile(join(staticDir, 'index.html'), '<!doctype html><title>QB Token Desk</title>');
    await writeFile(join(staticDir, 'assets', 'app.js'), 'console.log("ui")');
    stack = await startStack({ staticDir });
  });

  afterAll(async () => {
    await stack.close();
    await rm(staticDir, { recursive: true, force: true });
  });

  it('a file that exists and one that does not get the same answer', async () => {
    const present = await stack.call('/assets/app.js', { auth: false });
    const missing = await stack.call('/assets/no-such-file.js', { auth: false });
    expect(present.status).toBe(401);
    expect(missing.status).toBe(present.status);
    expect(await missing.text()).toBe(await present.text());
    // With the secret, the difference is the caller's to see.
    expect((await stack.call('/assets/app.js')).status).toBe(200);
    expect((await stack.call('/assets/no-such-file.js')).status).toBe(404);
  });
});

describe('a data directory the server cannot write to (item 5)', () => {
  it('POST refresh fails at once, naming QB_DATA_DIR and what is wrong', async (ctx) => {
    const dir = await mkdtemp(join(tmpdir(), 'qbtd-ro-data-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', dir], { stdio: 'pipe' });
    } catch (err) {
      console.warn(
        `[skip] cannot mount a tmpfs (needs root): ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`,
      );
      await rm(dir, { recursive: true, force: true });
      ctx.skip();
      return;
    }
    let stack: Stack | null = null;
    try {
      stack = await startStack({ env: { QB_DATA_DIR: dir } });
      // The filesystem turns read-only under the running server (a failing disk does that).
      execFileSync('mount', ['-o', 'remount,ro', dir]);
      const calls = stack.emulator.control.counters().tokenCalls.refresh_token;
      const started = performance.now();
      const answer = await stack.json<TokenStatus>(HTTP_PATHS.refreshToken, { method: 'POST' });
      console.info(
        `[figures] POST refresh on a read-only QB_DATA_DIR answered in ${(performance.now() - started).toFixed(0)} ms`,
      );
      expect(answer.body.ok).toBe(false);
      if (answer.body.ok) return;
      expect(answer.body.error.message).toMatch(/^QB_DATA_DIR \(.*\) is on a read-only filesystem/);
      expect(stack.emulator.control.counters().tokenCalls.refresh_token).toBe(calls);
      const status = await stack.json<TokenStatus>(HTTP_PATHS.refreshToken);
      expect(status.body.ok && status.body.value.refreshToken?.source).toBe('stored');
    } finally {
      await stack?.close();
      execFileSync('umount', [dir]);
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('QB_REDIRECT_URI on a server route (item 8)', () => {
  it('stops start-up with exit 2 and a message naming QB_REDIRECT_URI, not a route crash', async () => {
    const attempt = startServerProcess({
      QB_CLIENT_ID: 'client-id',
      QB_CLIENT_SECRET: 'client-secret-value',
      QB_REDIRECT_URI: `http://127.0.0.1:4317${HTTP_PATHS.refreshToken}`,
    });
    await expect(attempt).rejects.toThrow(/exited \(2\)/);
    await expect(attempt).rejects.toThrow(
      /Configuration error: QB_REDIRECT_URI's path \/api\/integrations\/quickbooks\/refresh-token is one of the server's own routes/,
    );
    await expect(attempt).rejects.not.toThrow(/already registered/);
  });
});
