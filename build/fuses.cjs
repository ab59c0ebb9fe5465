// The Electron fuses every packaged build gets (https://www.electronjs.org/docs/latest/tutorial/fuses),
// flipped by build/after-pack.cjs with @electron/fuses. CommonJS: electron-builder requires its hooks.
const { FuseV1Options, FuseVersion } = require('@electron/fuses');

/** @type {import('@electron/fuses').FuseConfig} */
const PRODUCTION_FUSES = {
  version: FuseVersion.V1,
  // ELECTRON_RUN_AS_NODE would turn the signed app into a plain Node runtime for anyone.
  [FuseV1Options.RunAsNode]: false,
  // NODE_OPTIONS and --inspect could inject code into the main process.
  [FuseV1Options.EnableNodeOptionsEnvironmentVariable]: false,
  [FuseV1Options.EnableNodeCliInspectArguments]: false,
  // Only the packaged app.asar, never a folder dropped beside it.
  [FuseV1Options.OnlyLoadAppFromAsar]: true,
  [FuseV1Options.EnableEmbeddedAsarIntegrityValidation]: true,
  // Chromium's cookie store encrypted with the OS key, as Chrome does.
  [FuseV1Options.EnableCookieEncryption]: true,
};

module.exports = { PRODUCTION_FUSES };
