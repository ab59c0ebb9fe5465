// `node --import <tsx> --import ./register-electron.mjs host-main.ts`: installs electron-resolve.mjs.
import { register } from 'node:module';

register('./electron-resolve.mjs', import.meta.url);
