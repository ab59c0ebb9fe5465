// For configuration tests: a fresh working directory per test (so no developer's .env is read, and
// a test can write its own), and the ConfigError a configuration ends in.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { loadConfig } from '../config';
import { ConfigError } from '../errors';

/** Registers the per-test directory; read `.path` inside a test. */
export function useConfigCwd(prefix = 'qbtd-config-'): {
  path: string;
  failure(env: NodeJS.ProcessEnv): ConfigError;
} {
  const cwd = {
    path: '',
    failure(env: NodeJS.ProcessEnv): ConfigError {
      try {
        loadConfig(env, cwd.path);
      } catch (err) {
        if (err instanceof ConfigError) return err;
        throw err;
      }
      throw new Error('expected a ConfigError');
    },
  };
  beforeEach(async () => {
    cwd.path = await mkdtemp(join(tmpdir(), prefix));
  });
  afterEach(async () => {
    await rm(cwd.path, { recursive: true, force: true });
  });
  return cwd;
}
