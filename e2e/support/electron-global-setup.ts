// Says once, up front, why the Electron specs will be skipped (the list reporter shows only "-").
import { resolveElectronRuntime } from '../../scripts/electron-path.mjs';

function electronProjectWanted(argv: readonly string[]): boolean {
  const projects = argv.flatMap((arg, i) =>
    arg === '--project'
      ? [argv[i + 1] ?? '']
      : arg.startsWith('--project=')
        ? [arg.slice('--project='.length)]
        : [],
  );
  return projects.length === 0 || projects.includes('electron');
}

export default function electronGlobalSetup(): void {
  if (!electronProjectWanted(process.argv)) return;
  const runtime = resolveElectronRuntime();
  if (!runtime.executablePath) console.log(`\n[electron] specs will be skipped. ${runtime.message}\n`);
}
