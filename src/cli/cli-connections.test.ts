// `qb-token connections ...` and `--connection` as users run them: real processes against an
// emulator serving several realms, sharing one QB_DATA_DIR. The refresh token of `connections add`
// comes through standard input only.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startEmulator } from '../emulator/index';
import { emulatorEnv } from '../emulator/app-env';
import type { EmulatorHandle } from '../emulator/types';
import { runQbToken, type CliRun } from './testing/cli-process';

const REALM_A = '5550301';
const REALM_B = '5550302';

let emulator: EmulatorHandle;
let workDir: string;
let env: NodeJS.ProcessEnv;
/** Every output: none may carry a token value or the client secret. */
const outputs: string[] = [];

async function qbToken(args: string[], stdin = ''): Promise<CliRun> {
  const run = await runQbToken(args, { env, cwd: workDir, stdin });
  outputs.push(run.stdout, run.stderr);
  return run;
}

const iso = z.iso.datetime({ offset: true });
const summarySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    companyName: z.string().nullable(),
    environment: z.enum(['sandbox', 'production']),
    realmId: z.string().nullable(),
    state: z.string(),
    accessTokenExpiresAt: iso.nullable(),
    refreshTokenExpiresAt: iso.nullable(),
    lastRefresh: z.object({ at: iso, ok: z.boolean(), errorKind: z.string().nullable() }).strict().nullable(),
    isDefault: z.boolean(),
    demo: z.boolean(),
  })
  .strict();

async function list(): Promise<z.infer<typeof summarySchema>[]> {
  const run = await qbToken(['connections', 'list', '--json']);
  expect(run.code, run.stderr).toBe(0);
  return z.array(summarySchema).parse(JSON.parse(run.stdout));
}

beforeAll(async () => {
  emulator = await startEmulator({});
  workDir = await mkdtemp(join(tmpdir(), 'qb-token-connections-'));
  env = { PATH: process.env.PATH, HOME: workDir, ...emulatorEnv(emulator, join(workDir, 'data')) };
});

afterAll(async () => {
  await emulator?.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
  const secrets = [emulator.clientSecret, ...emulator.control.issuedTokenValues()].filter(
    (s) => s.length >= 8,
  );
  for (const output of outputs) for (const secret of secrets) expect(output).not.toContain(secret);
});

describe('qb-token connections', () => {
  it('add reads the refresh token from standard input, stores it, gets an access token with it; list --json shows the default plus each added one', async () => {
    const a = emulator.control.issueAuthorization(REALM_A);
    const added = await qbToken(
      ['connections', 'add', '--name', 'Alpha Books', '--realm', REALM_A, '--environment', 'sandbox'],
      `${a.refreshToken}\n`,
    );
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain(`Stored ${REALM_A} (Alpha Books, sandbox, company ${REALM_A})`);
    expect(added.stdout).toMatch(/Ready: access token …\S{4} expires in/);
    const b = emulator.control.issueAuthorization(REALM_B);
    expect(
      (
        await qbToken(
          ['connections', 'add', '--name=Beta Bikes', `--realm=${REALM_B}`, '--environment=sandbox'],
          b.refreshToken,
        )
      ).code,
    ).toBe(0);

    const connections = await list();
    expect(connections.map((c) => [c.id, c.name, c.realmId, c.isDefault])).toEqual([
      ['default', 'QuickBooks sandbox', emulator.realmId, true],
      [REALM_A, 'Alpha Books', REALM_A, false],
      [REALM_B, 'Beta Bikes', REALM_B, false],
    ]);
    expect(connections.find((c) => c.id === REALM_A)).toMatchObject({
      state: 'valid',
      lastRefresh: { ok: true },
    });

    const human = await qbToken(['connections', 'list']);
    expect(human.stdout).toMatch(/^ID\s+NAME\s+ENV\s+REALM\s+STATE/);
    expect(human.stdout).toContain('3 connections');
  }, 120_000);

  it('--connection picks the connection, before or after the command name', async () => {
    const before = await qbToken(['--connection', REALM_A, 'status', '--json']);
    expect(before.code, before.stderr).toBe(0);
    expect(JSON.parse(before.stdout)).toMatchObject({
      connection: { id: REALM_A, name: 'Alpha Books' },
      realmId: REALM_A,
    });
    const after = await qbToken(['company-info', '--connection', REALM_B]);
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout).toContain(`(realm ${REALM_B})`);
    const unknown = await qbToken(['status', '--connection', '123']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('There is no connection "123"');
  }, 120_000);

  it('never takes the refresh token as an argument, nor an empty standard input', async () => {
    const addX = ['connections', 'add', '--name', 'X', '--realm', '5550399', '--environment', 'sandbox'];
    const asArgument = await qbToken([...addX, 'RT1-a-refresh-token-as-argument']);
    expect(asArgument.code).toBe(1);
    expect(asArgument.stderr).toContain('read from standard input, never from an argument');
    const empty = await qbToken(addX);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain('it was empty');
    expect((await list()).map((c) => c.id)).not.toContain('5550399');
  }, 120_000);

  it('a refresh token Intuit refuses is kept and reported: exit 3', async () => {
    const refused = await qbToken(
      ['connections', 'add', '--name', 'Gamma', '--realm', '5550303', '--environment', 'sandbox'],
      'RT1-not-a-token-intuit-issued',
    );
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/invalid_grant|rejected/);
    expect(refused.stderr).toContain('connections remove 5550303');
    expect((await list()).find((c) => c.id === '5550303')?.state).toBe('reauthorization_required');
    // QB_REFRESH_TOKEN feeds the default connection only: the advice names this company's own way back.
    const later = await qbToken(['token', '--connection', '5550303']);
    expect(later.code).toBe(3);
    for (const said of [refused.stderr, later.stderr]) {
      expect(said).not.toContain('QB_REFRESH_TOKEN');
      expect(said).toContain(
        "`qb-token connections add --realm 5550303 --environment sandbox --name 'Gamma' < refresh-token.txt`",
      );
    }
  }, 120_000);

  it('a refused refresh token for the default company is reported even while QB_ACCESS_TOKEN could stand in: exit 3', async () => {
    const standIn = emulator.control.issueAuthorization(emulator.realmId).accessToken;
    const own = { ...env, QB_ACCESS_TOKEN: standIn, QB_DATA_DIR: join(workDir, 'stand-in') };
    const run = await runQbToken(
      ['connections', 'add', '--name', 'Main', '--realm', emulator.realmId, '--environment', 'sandbox'],
      { env: own, cwd: workDir, stdin: 'RT1-not-a-token-intuit-issued' },
    );
    outputs.push(run.stdout, run.stderr);
    expect(run.code, run.stdout).toBe(3);
    expect(run.stderr).toMatch(/invalid_grant|rejected/);
    expect(run.stdout).not.toContain('Ready:');
  }, 120_000);

  it('remove revokes at Intuit first (as Disconnect does); the default connection cannot be removed', async () => {
    const { FileConnectionStore } = await import('../core/file-connection-store');
    const store = new FileConnectionStore({ dataDir: join(workDir, 'data'), storeKey: null });
    const token = (await store.load(REALM_B)).record?.tokens?.refreshToken ?? '';
    await store.close();
    expect(emulator.control.isRefreshTokenValid(token)).toBe(true);

    const removed = await qbToken(['connections', 'remove', REALM_B]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toContain(
      `Removed ${REALM_B} (Beta Bikes). Disconnected: Intuit revoked the refresh token, and the stored tokens were forgotten.`,
    );
    expect(emulator.control.isRefreshTokenValid(token)).toBe(false);
    expect((await list()).map((c) => c.id)).not.toContain(REALM_B);

    const refused = await qbToken(['connections', 'remove', 'default']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('cannot be removed');
    // 5550303's token is one Intuit never issued. Intuit out of reach, or the app's keys refused
    // (401): kept, since the token may still be live there.
    const shared = env;
    try {
      env = { ...shared, QB_REVOKE_URL: 'http://127.0.0.1:9/v2/oauth2/tokens/revoke' };
      const unreachable = await qbToken(['connections', 'remove', '5550303']);
      expect(unreachable.code).toBe(4);
      expect(unreachable.stderr).toContain(
        'Revoking the refresh token at Intuit failed: Intuit could not be reached',
      );
      env = { ...shared, QB_CLIENT_SECRET: 'not-the-secret' };
      const wrongKeys = await qbToken(['connections', 'remove', '5550303']);
      expect(wrongKeys.code).toBe(4);
      expect(wrongKeys.stderr).toContain("Intuit refused the app's keys (HTTP 401)");
    } finally {
      env = shared;
    }
    expect((await list()).map((c) => c.id)).toContain('5550303');
    // Intuit answers the revoke of a token it holds as invalid with 400: nothing to revoke, so it goes.
    const dead = await qbToken(['connections', 'remove', '5550303']);
    expect(dead.code, dead.stderr).toBe(0);
    expect(dead.stdout).toContain(
      'Removed 5550303 (Gamma). Disconnected: Intuit had nothing to revoke: the token was already invalid. The stored tokens were forgotten.',
    );
    expect((await list()).map((c) => c.id)).toEqual(['default', REALM_A]);
  }, 120_000);
});
