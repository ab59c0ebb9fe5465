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

  it('decides loopback on the parsed host name, not a prefix of the text', () => {
    const at = (devServerUrl: string) =>
      locateApp({ mainDir: '/opt/qb/out/main', devServerUrl, isPackaged: false }).appUrl;
    for (const url of [
      'http://localhost@evil.example/',
      'http://127.0.0.1@evil.example:5173/',
      'http://localhost.evil.example/',
      'http://127.0.0.1.nip.io/',
      'https://localhost:5173/',
      'http://user:pw@localhost:5173/',
      'not a url',
    ]) {
      expect(at(url), url).toBe('file:///opt/qb/out/renderer/index.html');
    }
    expect(at('http://127.0.0.1:5173')).toBe('http://127.0.0.1:5173/');
    expect(at('http://[::1]:5173/')).toBe('http://[::1]:5173/');
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
