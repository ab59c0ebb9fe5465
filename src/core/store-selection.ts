// Which store the desk uses: QB_STORE_URL selects the PostgreSQL store (every adapter: the desktop
// app, the headless server, the CLI, the library); without it each adapter keeps its own default
// (the file store; the desktop app's encrypted store). Loaded on demand, so a process that never
// uses PostgreSQL never loads its client.
import type { Config } from './config';
import type { ConnectionStore } from './connection-store';
import type { LogFn } from './log';

export async function selectSharedStore(config: Config, log: LogFn): Promise<ConnectionStore | null> {
  if (config.storeUrl === null) return null;
  const { PgConnectionStore } = await import('./pg/pg-connection-store');
  return new PgConnectionStore({
    url: config.storeUrl,
    storeKey: config.storeKey,
    log,
    environment: config.environment,
  });
}
