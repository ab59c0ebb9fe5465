#!/usr/bin/env node
// `qb-token`: runs the built CLI (dist/cli, from `npm run build`), so a script may call
// `qb-token token` once per request; in a development checkout with newer sources it runs those
// through tsx instead (see cli-entry.js).
import { pickCliEntry } from './cli-entry.js';

let entry;
try {
  entry = pickCliEntry();
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
if (entry.kind === 'sources') {
  const { register } = await import('tsx/esm/api');
  register();
}
await import(entry.url);
