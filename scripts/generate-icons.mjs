#!/usr/bin/env node
// `npm run icons`: every icon from the one SVG (resources/icon.svg), rendered with resvg:
//   build/icon.png (1024 px; electron-builder derives the macOS .icns and Windows .ico from it),
//   build/icons/<N>x<N>.png (the Linux set), resources/tray/tray-<level>[@2x].png (the tray, one
//   colour per health level). The outputs are committed, so `npm start` and the packaged app need
//   no native renderer at install; resources/icons.json records the SVG's hash, and a test fails
//   when the SVG changes without the icons being generated again.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Resvg } from '@resvg/resvg-js';

const projectRoot = join(import.meta.dirname, '..');
const BRAND = '#2CA01C';

/** Tray colours per health level (src/main/tray-presentation.ts HEALTH_LEVELS). */
export const TRAY_COLOURS = {
  idle: '#8A8F98',
  valid: BRAND,
  expiring: '#E8A100',
  failing: '#E4572E',
  reconnect: '#C62828',
};
export const LINUX_SIZES = [16, 32, 48, 64, 128, 256, 512];
/** 16 px (and 32 px for HiDPI, picked by nativeImage from the @2x name). */
export const TRAY_SIZE = 16;

function render(svg, size) {
  return new Resvg(svg, { fitTo: { mode: 'width', value: size } }).render().asPng();
}

/** Renders `<root>/resources/icon.svg` into `<root>`'s build/ and resources/tray/ (root: the project). */
export function generateIcons(root = projectRoot) {
  const svg = readFileSync(join(root, 'resources', 'icon.svg'), 'utf8');
  if (!svg.includes(BRAND)) throw new Error(`resources/icon.svg must use ${BRAND} for the badge colour.`);
  const files = [];
  const write = (path, png) => {
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, png);
    files.push(relative(root, path));
  };
  write(join(root, 'build', 'icon.png'), render(svg, 1024));
  for (const size of LINUX_SIZES)
    write(join(root, 'build', 'icons', `${size}x${size}.png`), render(svg, size));
  for (const [level, colour] of Object.entries(TRAY_COLOURS)) {
    const coloured = svg.replaceAll(BRAND, colour);
    write(join(root, 'resources', 'tray', `tray-${level}.png`), render(coloured, TRAY_SIZE));
    write(join(root, 'resources', 'tray', `tray-${level}@2x.png`), render(coloured, TRAY_SIZE * 2));
  }
  const manifest = {
    source: 'resources/icon.svg',
    sha256: createHash('sha256').update(svg).digest('hex'),
    files,
  };
  writeFileSync(join(root, 'resources', 'icons.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { files } = generateIcons();
  console.log(`Generated ${files.length} icons from resources/icon.svg.`);
}
