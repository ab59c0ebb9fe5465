// Which store the desk uses: QB_STORE_URL selects the PostgreSQL store (every adapter: the desktop
// app, the headless server, the CLI, the library); without it each adapter keeps its own default
// (the file store; the desktop app's encrypted store). Loaded on demand, so a process that never
// uses PostgreSQL never loads its client.
import type { Config } from './config';
import type { LogFn } from './log';
import type { TokenStore } from './token-store';

export async function selectSharedStore(config: Config, log: LogFn): Promise<TokenStore | null> {
  if (config.storeUrl === null) return null;
  const { PgConnectionStore } = await import('./pg/pg-connection-store');
  const { PgTokenStoreAdapter } = await import('./pg/token-store-adapter');
  const store = new PgConnectionStore({ url: config.storeUrl, storeKey: config.storeKey, log });
  await store.open();
  return new PgTokenStoreAdapter(store);
}
