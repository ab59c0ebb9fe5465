import { describe, expect, it } from 'vitest';
import { dataDirFromEnv, locateApp } from './app-location';

describe('locateApp', () => {
  it('points at the built preload and renderer beside out/main', () => {
    expect(locateApp({ mainDir: '/opt/qb/out/main', isPackaged: false })).toEqual({
      appUrl: 'file:///opt/qb/out/renderer/index.html',
      preloadPath: '/opt/qb/out/preload/index.cjs',
    });
  });

  it('uses the loopback dev server only when not packaged', () => {
    const dev = { mainDir: '/opt/qb/out/main', devServerUrl: 'http://localhost:5173' };
    expect(locateApp({ ...dev, isPackaged: false }).appUrl).toBe('http://localhost:5173/');
    expect(locateApp({ ...dev, isPackaged: true }).appUrl).toBe('file:///opt/qb/out/renderer/index.html');
    expect(locateApp({ ...dev, devServerUrl: 'http://evil.example/', isPackaged: false }).appUrl).toMatch(
      /^file:/,
    );
  });
});

describe('dataDirFromEnv', () => {
  it('reads QB_DATA_DIR, resolving a relative value from the working directory', () => {
    expect(dataDirFromEnv({ QB_DATA_DIR: '/tmp/qb' }, '/work')).toBe('/tmp/qb');
    expect(dataDirFromEnv({ QB_DATA_DIR: '.qb-data' }, '/work')).toBe('/work/.qb-data');
    expect(dataDirFromEnv({ QB_DATA_DIR: '  ' }, '/work')).toBeUndefined();
    expect(dataDirFromEnv({}, '/work')).toBeUndefined();
  });
});
