// `npm run emulator -- [flags]`: runs the Intuit emulator as its own process. With --json it
// prints exactly one JSON line (URLs and demo credentials) before serving; request logs go to
// stderr. With --env it serves from a background process and prints `export QB_...` lines.
import { previewToken } from '../shared/preview';
import { startInBackground } from './background';
import { optionsFromArgs, USAGE } from './cli-args';
import { startEmulator } from './server';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let parsed: ReturnType<typeof optionsFromArgs>;
  try {
    parsed = optionsFromArgs(args);
  } catch (error) {
    console.error(`emulator: ${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (parsed.help) {
    console.log(USAGE);
    return;
  }
  if (parsed.env) {
    process.stdout.write(await startInBackground(args));
    return;
  }
  const { options, json, quiet, background } = parsed;
  if (!quiet) options.logger = (line) => process.stderr.write(`[emulator] ${line}\n`);
  const emu = await startEmulator(options);
  const info = {
    url: emu.url,
    tokenUrl: emu.tokenUrl,
    revokeUrl: emu.revokeUrl,
    authorizeUrl: emu.authorizeUrl,
    apiBaseUrl: emu.apiBaseUrl,
    controlUrl: emu.controlUrl,
    clientId: emu.clientId,
    clientSecret: emu.clientSecret,
    refreshToken: emu.refreshToken,
    realmId: emu.realmId,
  };
  if (background) {
    // Nobody reads stdout once the starter has exited: end it, so no later write can fail with EPIPE.
    process.stdout.on('error', () => undefined);
    process.stdout.end(`${JSON.stringify(info)}\n`);
  } else if (json) {
    process.stdout.write(`${JSON.stringify(info)}\n`);
  } else {
    // Secrets are shown only as previews here; --json (or POST /__control/authorizations) hands out values.
    const secret = new Set(['clientSecret', 'refreshToken']);
    console.log(`Intuit emulator on ${emu.url}`);
    for (const [key, value] of Object.entries(info)) {
      console.log(`  ${key.padEnd(13)} ${secret.has(key) ? previewToken(value) : value}`);
    }
    console.log('Run with --json to receive the demo credentials. Ctrl+C stops it.');
  }
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void emu.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

void main().catch((error: unknown) => {
  console.error(`emulator: ${(error as Error).message}`);
  process.exit(1);
});
