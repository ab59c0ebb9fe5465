// A stand-in for the user's own app: a separate Node process that imports the built `qb-token-desk`
// package (as an app would, by its name) and calls the Accounting API through it every 200 ms.
// Prints one JSON line when ready and one per call; on SIGTERM it closes the engine and exits.
// Settings: the QB_* environment (shared with the desk), LIB_CLIENT_NAME.
import { createQuickBooks } from 'qb-token-desk';

const quickbooks = createQuickBooks({ clientName: process.env.LIB_CLIENT_NAME ?? 'library-app' });
const print = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

const status = await quickbooks.ready();
print({ ready: true, realmId: status.realmId, accessToken: status.accessToken });

let stopping = false;
async function callForever() {
  while (!stopping) {
    const at = new Date().toISOString();
    try {
      const response = await quickbooks.fetch(`/v3/company/${status.realmId}/companyinfo/${status.realmId}`);
      print({
        call: 'companyinfo',
        at,
        status: response.status,
        preview: quickbooks.getStatus().accessToken?.preview,
      });
    } catch (error) {
      print({
        call: 'companyinfo',
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
