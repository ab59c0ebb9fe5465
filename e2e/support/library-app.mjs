// A stand-in for the user's own app: a separate Node process that imports the built `qb-token-desk`
// package (as an app would, by its name) and calls the Accounting API through it every 200 ms, for
// each company it serves in turn. Prints one JSON line per company when ready and one per call; on
// SIGTERM it closes the engine and exits.
// Settings: the QB_* environment (shared with the desk), LIB_CLIENT_NAME, LIB_CONNECTIONS (comma-
// separated connection or realm ids; default: the default connection alone).
import { createQuickBooks } from 'qb-token-desk';

const quickbooks = createQuickBooks({ clientName: process.env.LIB_CLIENT_NAME ?? 'library-app' });
const print = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

// The first handle is the default connection's; the others come from it, on the same engine.
const wanted = (process.env.LIB_CONNECTIONS ?? 'default').split(',');
const companies = [];
for (const id of wanted) {
  const handle = quickbooks.connection(id);
  const status = await handle.ready();
  companies.push({ handle, realmId: status.realmId });
  print({
    ready: true,
    connection: status.connection.id,
    realmId: status.realmId,
    accessToken: status.accessToken,
  });
}

let stopping = false;
async function callForever() {
  for (let turn = 0; !stopping; turn++) {
    const { handle, realmId } = companies[turn % companies.length];
    const at = new Date().toISOString();
    const connection = handle.getStatus().connection.id;
    try {
      const response = await handle.fetch(`/v3/company/${realmId}/companyinfo/${realmId}`);
      print({
        call: 'companyinfo',
        connection,
        at,
        status: response.status,
        preview: handle.getStatus().accessToken?.preview,
      });
    } catch (error) {
      print({
        call: 'companyinfo',
        connection,
        at,
        error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
const calls = callForever();

process.once('SIGTERM', async () => {
  stopping = true;
  await calls;
  await quickbooks.close();
  process.exit(0);
});
