// The library entry's size, as an app's bundler would see it: `qb-token-desk` (src/lib/index.ts)
// minified and gzipped, once as our own code (its runtime dependencies left as imports) and once
// with those dependencies bundled in; intuit-oauth measured the same two ways. Also lists any
// module in the entry's graph that must never be there (emulator, Electron, React, adapters).
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { Rolldown } from 'tsdown';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FORBIDDEN =
  /\/src\/(emulator|main|renderer|preload)\/|\/src\/core\/bootstrap|node_modules\/(electron|react|react-dom|next)\//;

export interface BundleSize {
  rawBytes: number;
  gzipBytes: number;
  modules: number;
}

export interface LibrarySizeResult {
  entry: string;
  ownCode: BundleSize;
  withDependencies: BundleSize;
  intuitOauth: { ownCode: BundleSize; withDependencies: BundleSize };
  /** Modules in the entry's graph from the emulator, Electron, React or an adapter: must be empty. */
  forbiddenModules: string[];
}

const builtins = new Set([...builtinModules, ...builtinModules.map((name) => `node:${name}`)]);

async function bundle(input: string, bundleDependencies: boolean): Promise<BundleSize & { ids: string[] }> {
  const build = await Rolldown.rolldown({
    input,
    cwd: ROOT,
    platform: 'node',
    logLevel: 'silent',
    external: (id) =>
      builtins.has(id) ||
      (!bundleDependencies && !id.startsWith('.') && !id.startsWith('/') && !id.includes(':')),
  });
  try {
    const { output } = await build.generate({ format: 'esm', minify: true, codeSplitting: false });
    let rawBytes = 0;
    let gzipBytes = 0;
    const ids = new Set<string>();
    for (const chunk of output) {
      if (chunk.type !== 'chunk') continue;
      rawBytes += Buffer.byteLength(chunk.code);
      gzipBytes += gzipSync(chunk.code, { level: 9 }).length;
      for (const id of chunk.moduleIds) ids.add(id);
    }
    return { rawBytes, gzipBytes, modules: ids.size, ids: [...ids] };
  } finally {
    await build.close();
  }
}

const strip = ({ rawBytes, gzipBytes, modules }: BundleSize): BundleSize => ({
  rawBytes,
  gzipBytes,
  modules,
});

export async function measureLibrarySize(): Promise<LibrarySizeResult> {
  const entry = `${ROOT}src/lib/index.ts`;
  const sdk = `${ROOT}node_modules/intuit-oauth/src/OAuthClient.js`;
  const own = await bundle(entry, false);
  const full = await bundle(entry, true);
  return {
    entry: 'src/lib/index.ts',
    ownCode: strip(own),
    withDependencies: strip(full),
    intuitOauth: {
      ownCode: strip(await bundle(sdk, false)),
      withDependencies: strip(await bundle(sdk, true)),
    },
    forbiddenModules: full.ids.filter((id) => FORBIDDEN.test(id.replaceAll('\\', '/'))),
  };
}
