// One log function is injected everywhere in the core. Every line passes through a redactor that
// replaces any known token value with its preview: belt and braces, since messages are already
// built without token values.
import { previewToken } from '../shared/preview';

export type LogFn = (line: string) => void;

export const defaultLog: LogFn = (line) => console.error(line);

/** Enough for every token still alive (and many dead ones); more would only slow every log line. */
const MAX_KNOWN_SECRETS = 64;

/** Keeps the secret values seen so far (tokens issued, configured secrets), bounded for long runs. */
export class SecretRegistry {
  /** Configuration secrets (client secret, environment tokens): never forgotten. */
  private readonly pinned = new Set<string>();
  /** Tokens issued while running. Insertion-ordered: the least recently added is forgotten first. */
  private readonly known = new Set<string>();

  pin(...values: Array<string | null | undefined>): void {
    for (const value of values) if (value && value.length >= 8) this.pinned.add(value);
  }

  add(...values: Array<string | null | undefined>): void {
    for (const value of values) {
      // Very short values would make the redactor rewrite ordinary words; tokens are long.
      if (!value || value.length < 8) continue;
      this.known.delete(value);
      this.known.add(value);
      if (this.known.size > MAX_KNOWN_SECRETS) this.known.delete(this.known.values().next().value as string);
    }
  }

  /** The values themselves (for leak scans in tests). */
  values(): string[] {
    return [...this.pinned, ...this.known];
  }

  redact(text: string): string {
    let out = text;
    for (const value of this.values()) {
      if (out.includes(value)) out = out.split(value).join(previewToken(value));
    }
    return out;
  }
}

/** Wraps a sink so every line is redacted against the registry (and prefixed, when given). */
export function redactingLog(sink: LogFn, secrets: SecretRegistry, prefix = '[qb-token-desk]'): LogFn {
  return (line) => sink(secrets.redact(prefix ? `${prefix} ${line}` : line));
}
