// Packaging without an Electron runtime: `npm run dist` refuses in one sentence, the afterPack hook
// flips the production fuses (checked on a synthetic executable carrying Electron's fuse wire, read
// back with @electron/fuses), the builder config names every target, and the committed icons match
// the one SVG they are generated from.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FuseV1Options, getCurrentFuseWire } from '@electron/fuses';
import { afterEach, describe, expect, it } from 'vitest';
import { projectRoot } from '../scripts/electron-path.mjs';
import { generateIcons } from '../scripts/generate-icons.mjs';

/** @electron/fuses' FuseState bytes ('0', '1'), which its index does not export. */
const FuseState = { DISABLE: 48, ENABLE: 49 } as const;

const require = createRequire(import.meta.url);
const temps: string[] = [];
afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'qb-packaging-'));
  temps.push(dir);
  return dir;
}

describe('npm run dist without an Electron runtime', () => {
  it('exits 1 with one sentence saying why and how, no stack, nothing built', () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      electron_config_cache: tempDir(),
      ELECTRON_MIRROR: 'http://127.0.0.1:9/',
    };
    delete env.ELECTRON_OVERRIDE_DIST_PATH;
    const result = spawnSync(process.execPath, [join(projectRoot, 'scripts', 'dist.mjs')], {
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.status).toBe(1);
    const lines = (result.stdout + result.stderr).split('\n').filter((line) => line.trim());
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^npm run dist: cannot package: Electron \d+\.\d+\.\d+'s runtime for \S+ is not installed and could not be downloaded \(.+\); set ELECTRON_OVERRIDE_DIST_PATH/,
    );
    expect(lines[0]).not.toMatch(/\bat .+:\d+:\d+/);
  });

  it('names a wrong ELECTRON_OVERRIDE_DIST_PATH instead of downloading', () => {
    const missing = join(tempDir(), 'no-electron-here');
    const result = spawnSync(process.execPath, [join(projectRoot, 'scripts', 'dist.mjs')], {
      env: { ...process.env, ELECTRON_OVERRIDE_DIST_PATH: missing },
      encoding: 'utf8',
    });
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe(
      `npm run dist: ELECTRON_OVERRIDE_DIST_PATH=${missing} holds no Electron ${require('electron/package.json').version} executable, so there is nothing to package.`,
    );
  });
});

describe('production fuses (build/after-pack.cjs)', () => {
  it('flips RunAsNode, NODE_OPTIONS and --inspect off, asar-only, integrity and cookie encryption on', async () => {
    const appOutDir = tempDir();
    const executable = join(appOutDir, 'qb-token-desk');
    // Electron's fuse wire: the sentinel, version 1, eight fuses, every one enabled as shipped.
    const wire = Buffer.concat([
      Buffer.from('ELF...padding...'),
      Buffer.from('dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX'),
      Buffer.from([1, 8, ...Array<number>(8).fill(FuseState.ENABLE)]),
      Buffer.from('...rest of the binary'),
    ]);
    writeFileSync(executable, wire);
    const afterPack = require('../build/after-pack.cjs') as (context: unknown) => Promise<void>;
    await afterPack({
      appOutDir,
      electronPlatformName: 'linux',
      arch: 1,
      packager: { appInfo: { productFilename: 'QB Token Desk' }, executableName: 'qb-token-desk' },
    });
    const fuses = await getCurrentFuseWire(executable);
    expect(fuses[FuseV1Options.RunAsNode]).toBe(FuseState.DISABLE);
    expect(fuses[FuseV1Options.EnableNodeOptionsEnvironmentVariable]).toBe(FuseState.DISABLE);
    expect(fuses[FuseV1Options.EnableNodeCliInspectArguments]).toBe(FuseState.DISABLE);
    expect(fuses[FuseV1Options.OnlyLoadAppFromAsar]).toBe(FuseState.ENABLE);
    expect(fuses[FuseV1Options.EnableEmbeddedAsarIntegrityValidation]).toBe(FuseState.ENABLE);
    expect(fuses[FuseV1Options.EnableCookieEncryption]).toBe(FuseState.ENABLE);
    // The page loads from file://: its privileges stay as Electron ships them.
    expect(fuses[FuseV1Options.GrantFileProtocolExtraPrivileges]).toBe(FuseState.ENABLE);
    expect(readFileSync(executable).length).toBe(wire.length);
  });

  it('finds the packed executable on each platform', () => {
    const { executableOf } = require('../build/after-pack.cjs') as { executableOf: (c: unknown) => string };
    const context = (platform: string) => ({
      appOutDir: '/out',
      electronPlatformName: platform,
      packager: { appInfo: { productFilename: 'QB Token Desk' }, executableName: 'qb-token-desk' },
    });
    expect(executableOf(context('linux'))).toBe('/out/qb-token-desk');
    expect(executableOf(context('win32'))).toBe('/out/QB Token Desk.exe');
    expect(executableOf(context('darwin'))).toBe('/out/QB Token Desk.app');
  });
});

describe('electron-builder.yml', () => {
  it('builds AppImage and deb, NSIS and dmg under one app id, with the fuse hook', () => {
    const config = readFileSync(join(projectRoot, 'electron-builder.yml'), 'utf8');
    expect(config).toMatch(/^appId: com\.qbtokendesk\.app$/m);
    expect(config).toMatch(/^ {2}target: \[AppImage, deb\]$/m);
    expect(config).toMatch(/^ {2}target: \[nsis\]$/m);
    expect(config).toMatch(/^ {2}target: \[dmg\]$/m);
    expect(config).toMatch(/^afterPack: build\/after-pack\.cjs$/m);
    // main's tray icons are read at run time from resources/tray: they must be packed.
    expect(config).toContain('- resources/tray/**');
    expect(readFileSync(join(projectRoot, 'src', 'main', 'index.ts'), 'utf8')).toContain(
      `const APP_ID = 'com.qbtokendesk.app'`,
    );
  });
});

describe('icons generated from resources/icon.svg', () => {
  const manifest = JSON.parse(readFileSync(join(projectRoot, 'resources', 'icons.json'), 'utf8')) as {
    sha256: string;
    files: string[];
  };

  it('were generated from the SVG as it is now (run `npm run icons` after editing it)', () => {
    const svg = readFileSync(join(projectRoot, 'resources', 'icon.svg'));
    expect(createHash('sha256').update(svg).digest('hex')).toBe(manifest.sha256);
  });

  it('are PNGs of the size their names promise, a tray icon for every health level', () => {
    const size = (file: string) => {
      const png = readFileSync(join(projectRoot, file));
      expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
      return [png.readUInt32BE(16), png.readUInt32BE(20)];
    };
    expect(size('build/icon.png')).toEqual([1024, 1024]);
    for (const file of manifest.files.filter((f) => f.startsWith('build/icons/'))) {
      const n = Number(/(\d+)x\1\.png$/.exec(file)?.[1]);
      expect(size(file)).toEqual([n, n]);
    }
    for (const level of ['idle', 'valid', 'expiring', 'failing', 'reconnect']) {
      expect(size(`resources/tray/tray-${level}.png`)).toEqual([16, 16]);
      expect(size(`resources/tray/tray-${level}@2x.png`)).toEqual([32, 32]);
    }
  });

  it('come out the same when generated again', () => {
    const copy = tempDir();
    mkdirSync(join(copy, 'resources'), { recursive: true });
    copyFileSync(join(projectRoot, 'resources', 'icon.svg'), join(copy, 'resources', 'icon.svg'));
    expect(generateIcons(copy)).toEqual(manifest);
    for (const file of manifest.files)
      expect(readFileSync(join(copy, file)).equals(readFileSync(join(projectRoot, file))), file).toBe(true);
  });
});
