// The ids every surface checks before it uses one: a connection id (it names files, keys, locks and
// URL paths) and a QuickBooks company id (realmId). One definition each, so the dashboard's URL, the
// desktop app's IPC, the CLI's arguments, the library and the stores accept exactly the same ids.
// Pure: the renderer imports it.

/** Also the connection id's schema rule (connection-record.ts). */
export const CONNECTION_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Said wherever a connection id is refused, so every surface explains it the same way. */
export const CONNECTION_ID_RULE = '1 to 64 letters, digits, "_" or "-"';

/** Connection ids name files and keys: letters, digits, `_` and `-`, at most 64. */
export function isValidConnectionId(id: string): boolean {
  return CONNECTION_ID_PATTERN.test(id);
}

const REALM_ID_PATTERN = /^\d{1,32}$/;

/** Intuit's company ids are digits. */
export function isValidRealmId(realmId: string): boolean {
  return REALM_ID_PATTERN.test(realmId);
}
