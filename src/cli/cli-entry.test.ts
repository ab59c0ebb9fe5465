// bin/qb-token.js runs the build when it is at least as new as the CLI's sources, else the sources.
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { pickCliEntry } from '../../bin/cli-entry.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A package root with the given files, each with its modification time (seconds since the epoch). */
function packageWith(files: Record<string, number>): URL {
  const root = mkdtempSync(join(tmpdir(), 'qb-cli-entry-'));
  dirs.push(root);
  for (const [path, seconds] of Object.entries(files)) {
    const full = join(root, path);
    mkdirSync(join(full, '..'), { recursive: true });
    writeFileSync(full, '');
    utimesSync(full, seconds, seconds);
  }
  return pathToFileURL(`${root}/`);
}

describe('pickCliEntry', () => {
  it('runs the build when no CLI source is newer than it (tests do not count)', () => {
    const root = packageWith({
      'dist/cli/main.js': 2000,
      'src/cli/main.ts': 1000,
      'src/core/token-manager.ts': 1999,
      'src/core/token-manager.test.ts': 3000,
      'src/renderer/src/App.tsx': 3000,
    });
    expect(pickCliEntry(root)).toEqual({ kind: 'built', url: new URL('dist/cli/main.js', root).href });
  });

  it('runs the sources when one changed after the build, or before the first build', () => {
    const stale = packageWith({
      'dist/cli/main.js': 2000,
      'src/cli/main.ts': 1000,
      'src/shared/contract.ts': 2001,
    });
    expect(pickCliEntry(stale)).toEqual({ kind: 'sources', url: new URL('src/cli/main.ts', stale).href });
    const unbuilt = packageWith({ 'src/cli/main.ts': 1000 });
    expect(pickCliEntry(unbuilt).kind).toBe('sources');
  });

  it('an installed package (no sources) runs its build, and says what to do when that is missing', () => {
    const installed = packageWith({ 'dist/cli/main.js': 1000 });
    expect(pickCliEntry(installed).kind).toBe('built');
    const broken = packageWith({ 'bin/qb-token.js': 1000 });
    expect(() => pickCliEntry(broken)).toThrow(/dist\/cli\/main\.js is missing; run `npm run build`/);
  });
});
