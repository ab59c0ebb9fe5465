// `qb-token connections add` in its own process, as an admin adds a company from the shell: on the
// store in `dataDir`, with a refresh token the emulator issued for `realmId` on standard input.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect } from '@playwright/test';
import { emulatorEnv } from '../../src/emulator/app-env';
import { cleanEnv, REPO_ROOT, type EmulatorProcess } from '../../src/server/process-support';

export async function cliAddCompany(
  emulator: EmulatorProcess,
  dataDir: string,
  name: string,
  realmId: string,
): Promise<void> {
  const issued = await emulator.control.issueAuthorization(realmId);
  const args = ['connections', 'add', '--name', name, '--realm', realmId, '--environment', 'sandbox'];
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/qb-token.js'), ...args], {
      env: cleanEnv(emulatorEnv(emulator, dataDir)),
      cwd: dataDir,
      stdio: ['pipe', 'ignore', 'inherit'],
    });
    child.on('error', reject);
    child.on('close', resolve);
    child.stdin.end(issued.refreshToken);
  });
  expect(code, `qb-token connections add --realm ${realmId}`).toBe(0);
}
