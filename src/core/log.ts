// One log function is injected everywhere in the core. Every line passes through a redactor that
// replaces any known token value with its preview: belt and braces, since messages are already
// built without token values.
import { previewToken } from '../shared/preview';

export type LogFn = (line: string) => void;

export const defaultLog: LogFn = (line) => console.error(line);

/** Keeps the set of secret values seen so far (tokens issued, configured secrets). */
export class SecretRegistry {
  private readonly known = new Set<string>();

  add(...values: Array<string | null | undefined>): void {
    // Very short values would make the redactor rewrite ordinary words; tokens are long.
    for (const value of values) if (value && value.length >= 8) this.known.add(value);
  }

  /** The values themselves (for leak scans in tests). */
  values(): string[] {
    return [...this.known];
  }

  redact(text: string): string {
    let out = text;
    for (const value of this.known) {
      if (out.includes(value)) out = out.split(value).join(previewToken(value));
    }
    return out;
  }
}

/** Wraps a sink so every line is redacted against the registry (and prefixed, when given). */
export function redactingLog(sink: LogFn, secrets: SecretRegistry, prefix = '[qb-token-desk]'): LogFn {
  return (line) => sink(secrets.redact(prefix ? `${prefix} ${line}` : line));
}
