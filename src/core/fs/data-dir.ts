// The data directory is checked the way ssh checks ~/.ssh before trusting it: it must be a
// directory owned by this user (or root) that neither group nor others can write to. Anyone who can
// write there could plant a link where the store writes, or replace the store with a chain of their
// own. A directory that this user cannot write to fails at once, naming the variable and what is
// wrong, instead of a lock library retrying EACCES for a minute.
import { accessSync, constants, mkdirSync, realpathSync, statSync } from 'node:fs';
import { StoreConfigError, StoreError, StoreUnavailableError } from '../errors';

export const DATA_DIR_VARIABLE = 'QB_DATA_DIR';

function uid(): number | null {
  return typeof process.getuid === 'function' ? process.getuid() : null;
}

/**
 * Creates the directory if missing (mode 0700), resolves links in its path once (so every process
 * locks and writes the same real directory) and checks who may write to it. Returns the real path.
 */
export function prepareDataDir(dir: string, variable = DATA_DIR_VARIABLE): string {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw storeFsError(err, dir, variable, 'creating the directory');
  }
  let real: string;
  try {
    real = realpathSync(dir);
  } catch (err) {
    throw storeFsError(err, dir, variable, 'resolving the directory');
  }
  checkDataDirPermissions(real, variable);
  return real;
}

/** Refuses a directory that is not one, belongs to another user, or that group/others can write to. */
export function checkDataDirPermissions(dir: string, variable = DATA_DIR_VARIABLE): void {
  const stat = statSync(dir);
  if (!stat.isDirectory()) {
    throw new StoreConfigError(`${variable} (${dir}) is not a directory.`);
  }
  // Windows reports no meaningful owner or mode bits.
  const me = uid();
  if (me === null || process.platform === 'win32') return;
  if (stat.uid !== me && stat.uid !== 0) {
    throw new StoreConfigError(
      `${variable} (${dir}) belongs to another user (uid ${stat.uid}, this process runs as uid ${me}); ` +
        'its owner could replace the tokens. Use a directory this user owns.',
    );
  }
  if ((stat.mode & 0o022) !== 0) {
    const mode = (stat.mode & 0o7777).toString(8).padStart(4, '0');
    throw new StoreConfigError(
      `${variable} (${dir}) can be written by ${stat.mode & 0o002 ? 'every user' : 'its group'} (mode ${mode}); ` +
        `anyone who can write there could redirect or replace the stored tokens. Run \`chmod 700 ${dir}\` ` +
        `or point ${variable} at a private directory.`,
    );
  }
}

/** Throws at once when this process cannot create files in `dir` (permissions, a read-only filesystem). */
export function assertWritableDir(dir: string, variable = DATA_DIR_VARIABLE): void {
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw storeFsError(err, dir, variable, 'writing to it');
  }
}

/** The same check as a sentence for the status, or null when the directory is writable. */
export function writableProblem(dir: string, variable = DATA_DIR_VARIABLE): string | null {
  try {
    assertWritableDir(dir, variable);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * Turns a filesystem error met while working in the data directory into a store error whose message
 * names the variable, the directory and what is wrong (never a token value: paths and codes only).
 */
export function storeFsError(err: unknown, dir: string, variable: string, doing: string): StoreError {
  if (err instanceof StoreError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const me = uid();
  const who = me === null ? 'this user' : `this user (uid ${me})`;
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return new StoreConfigError(
        `${variable} (${dir}) is not writable by ${who}: ${doing} was refused (${code}). ` +
          `Fix its permissions (the directory must belong to this user, mode 700) or point ${variable} elsewhere.`,
      );
    case 'EROFS':
      return new StoreConfigError(
        `${variable} (${dir}) is on a read-only filesystem: ${doing} failed. Point ${variable} at a writable directory.`,
      );
    case 'ENOTDIR':
    case 'EEXIST':
      return new StoreConfigError(`${variable} (${dir}) is not a directory: ${doing} failed (${code}).`);
    case 'ENOSPC':
    case 'EDQUOT':
      return new StoreUnavailableError(
        `No space left on the device holding ${variable} (${dir}): ${doing} failed (${code}). Free some space there.`,
      );
    default:
      return new StoreUnavailableError(
        `${doing} in ${variable} (${dir}) failed (${code ?? (err instanceof Error ? err.name : 'error')}).`,
      );
  }
}
