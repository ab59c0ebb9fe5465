// The Intuit emulator: start it in-process with startEmulator(), or run `npm run emulator`.
export { startEmulator } from './server';
export type * from './types';
