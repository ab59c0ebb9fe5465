// Module resolve hook for the desktop host: `electron` (imported by out/main/index.js and by
// electron-store) resolves to the stand-in instead of Electron's package, whose index.js would
// try to download and spawn a runtime. Every other specifier resolves as usual.
const standIn = new URL('./electron-stand-in.ts', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'electron') return { url: standIn, shortCircuit: true };
  return nextResolve(specifier, context);
}
