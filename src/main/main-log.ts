// Main's own console lines (load failures, refused navigations, start-up and shutdown errors) go
// through the same redactor as the engine's: an error's text may quote anything. Before the engine
// has started, the secrets known are the environment's; afterwards also every token it has seen.
import { SecretRegistry, type LogFn } from '../core/log';

/** Environment variables whose values are secrets, whatever their length or shape. */
const SECRET_ENV_VARIABLES = [
  'QB_CLIENT_SECRET',
  'QB_REFRESH_TOKEN',
  'QB_ACCESS_TOKEN',
  'QB_STORE_KEY',
  'QB_ADMIN_TOKEN',
  'QB_STORE_URL',
] as const;

interface MainLog {
  /** For errors and warnings main itself writes; always redacted. */
  readonly error: LogFn;
  readonly warn: LogFn;
  /** Also redact what the started engine knows (tokens issued since start). */
  adopt(secrets: { redact(text: string): string }): void;
}

interface MainLogSink {
  error(line: string): void;
  warn(line: string): void;
}

export function createMainLog(env: Record<string, string | undefined>, sink: MainLogSink = console): MainLog {
  const known = new SecretRegistry();
  known.pin(...SECRET_ENV_VARIABLES.map((name) => env[name]?.trim()));
  const registries: { redact(text: string): string }[] = [known];
  const redact = (line: string): string => registries.reduce((text, registry) => registry.redact(text), line);
  return {
    error: (line) => sink.error(redact(line)),
    warn: (line) => sink.warn(redact(line)),
    adopt(secrets) {
      if (!registries.includes(secrets)) registries.push(secrets);
    },
  };
}
