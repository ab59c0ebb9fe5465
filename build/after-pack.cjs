// electron-builder afterPack hook: flips the production fuses (build/fuses.cjs) in the packed
// Electron executable, before signing and before the installers are made.
const { join } = require('node:path');
const { flipFuses } = require('@electron/fuses');
const { PRODUCTION_FUSES } = require('./fuses.cjs');

/** The packed executable for electron-builder's context. */
function executableOf(context) {
  const name = context.packager.appInfo.productFilename;
  switch (context.electronPlatformName) {
    case 'darwin':
    case 'mas':
      return join(context.appOutDir, `${name}.app`);
    case 'win32':
      return join(context.appOutDir, `${name}.exe`);
    default:
      return join(context.appOutDir, context.packager.executableName);
  }
}

async function afterPack(context) {
  // An arm64 macOS binary must be re-signed ad hoc once its bytes change.
  const resetAdHocDarwinSignature = context.electronPlatformName === 'darwin' && context.arch === 3;
  await flipFuses(executableOf(context), { ...PRODUCTION_FUSES, resetAdHocDarwinSignature });
}

module.exports = afterPack;
module.exports.default = afterPack;
module.exports.executableOf = executableOf;
