// A separate process for the cross-process test: opens the shared store, asks for an access token
// with its clock moved by QBTD_CLOCK_OFFSET_MS, and prints what it got as a fingerprint (never the
// value). The test bundles it with esbuild (tsx's own dependency) so each process starts fast;
// `node --import tsx src/core/testing/refresh-worker.ts` runs it directly too.
import { FileConnectionStore } from '../file-connection-store';
import { IntuitOAuth } from '../intuit-oauth';
import { TokenManager } from '../token-manager';
import { fingerprintToken } from '../token-store';

const env = process.env;
const required = (name: string): string => {
  const value = env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

const offset = Number(env.QBTD_CLOCK_OFFSET_MS ?? '0');
const manager = new TokenManager({
  config: {
    refreshToken: required('QB_REFRESH_TOKEN'),
    accessToken: null,
    realmId: env.QB_REALM_ID ?? null,
    environment: 'sandbox',
    refreshSkewSeconds: 300,
    demo: false,
    canConnect: true,
  },
  store: new FileConnectionStore({ dataDir: required('QB_DATA_DIR'), storeKey: env.QB_STORE_KEY ?? null }),
  clientName: `worker-${process.pid}`,
  oauth: new IntuitOAuth({
    clientId: required('QB_CLIENT_ID'),
    clientSecret: required('QB_CLIENT_SECRET'),
    tokenUrl: required('QB_TOKEN_URL'),
    revokeUrl: required('QB_TOKEN_URL'),
    authorizeUrl: required('QB_TOKEN_URL'),
    timeoutMs: 5000,
  }),
  now: () => Date.now() + offset,
  refreshOnStart: false,
});

async function main(): Promise<void> {
  await manager.start();
  const token = await manager.getAccessToken();
  const status = manager.getStatus();
  await manager.dispose();
  const line = JSON.stringify({
    fingerprint: fingerprintToken(token),
    client: `worker-${process.pid}`,
    lastRefreshClient: status.lastRefresh?.client ?? null,
    state: status.state,
  });
  return new Promise((resolve) => process.stdout.write(line, () => resolve()));
}

// Exits at once when done: idle keep-alive sockets need not hold the process open.
main().then(
  () => process.exit(0),
  (err: unknown) =>
    process.stdout.write(JSON.stringify({ error: (err as Error).message }), () => process.exit(1)),
);
