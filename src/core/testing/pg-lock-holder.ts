// A separate process for the PostgreSQL store's lock tests: takes connection QBTD_LOCK_ID's lock in
// the store at QBTD_LOCK_URL, prints "holding", and holds it until it is killed.
import { PgConnectionStore } from '../pg/pg-connection-store';

const url = process.env.QBTD_LOCK_URL;
const id = process.env.QBTD_LOCK_ID ?? 'default';
if (!url) throw new Error('QBTD_LOCK_URL is required');
const store = new PgConnectionStore({ url, storeKey: null });
void store.withLock(id, async () => {
  process.stdout.write('holding\n');
  await new Promise(() => setInterval(() => undefined, 60_000));
});
