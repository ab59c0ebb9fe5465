// Which `qb-token` to run: the built CLI (dist/cli/main.js, made by `npm run build`), or, in a
// development checkout whose sources changed since that build (or before the first build), the
// TypeScript sources through tsx. An installed package ships dist/ and no src/, so it always runs
// the build. Plain JavaScript: it runs before anything could be transpiled.
import { readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The folders the CLI's bundle is made from. */
const SOURCE_DIRS = ['src/cli', 'src/core', 'src/shared', 'src/emulator'];

function mtimeMs(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return null;
  }
}

/** The newest modification time among the CLI's sources (tests excluded), or null without sources. */
export function newestSourceMs(root) {
  let newest = null;
  for (const dir of SOURCE_DIRS) {
    let names;
    try {
      names = readdirSync(new URL(`${dir}/`, root), { recursive: true });
    } catch {
      continue;
    }
    for (const name of names) {
      if (!name.endsWith('.ts') || name.endsWith('.test.ts')) continue;
      const ms = mtimeMs(new URL(`${dir}/${name}`, root));
      if (ms !== null && (newest === null || ms > newest)) newest = ms;
    }
  }
  return newest;
}

/**
 * @param {URL} root the package's root folder (ends with a slash)
 * @returns {{ kind: 'built' | 'sources', url: string }}
 */
export function pickCliEntry(root = new URL('../', import.meta.url)) {
  const built = new URL('dist/cli/main.js', root);
  const sources = new URL('src/cli/main.ts', root);
  const builtMs = mtimeMs(built);
  if (mtimeMs(sources) === null) {
    if (builtMs === null) {
      throw new Error(
        `qb-token: ${fileURLToPath(built)} is missing; run \`npm run build\` in ${fileURLToPath(root)}.`,
      );
    }
    return { kind: 'built', url: built.href };
  }
  const newest = newestSourceMs(root);
  if (builtMs !== null && newest !== null && newest <= builtMs) return { kind: 'built', url: built.href };
  return { kind: 'sources', url: sources.href };
}
