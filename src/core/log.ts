// One log function is injected everywhere in the core. Every line passes through a redactor that
// replaces any known token value with its preview: belt and braces, since messages are already
// built without token values. A line may carry a few structured fields; the human sink ignores
// them, the JSON sink (json-log.ts, QB_LOG_FORMAT=json) writes them as keys of their own.
import type { ConnectionId, RefreshTrigger } from '../shared/contract';
import { previewToken } from '../shared/preview';

type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** What a log pipeline may filter on. Never a token value: only ids, kinds and Intuit's tid. */
interface LogFields {
  /** Default 'info'. */
  level?: LogLevel;
  connection?: ConnectionId;
  trigger?: RefreshTrigger;
  intuitTid?: string | null;
}

export type LogFn = (line: string, fields?: LogFields) => void;

export const defaultLog: LogFn = (line) => console.error(line);

/**
 * Sinks that keep fields apart and name the program themselves: the redacting wrapper adds no
 * "[qb-token-desk]" prefix in front of their messages (a JSON pipeline would only have to strip it).
 */
const structuredSinks = new WeakSet<LogFn>();

/** Marks a sink as structured (see structuredSinks). Returns it. */
export function structuredSink(sink: LogFn): LogFn {
  structuredSinks.add(sink);
  return sink;
}

/** A log whose lines all carry `bound` (e.g. the connection), unless a line sets the field itself. */
export function withLogFields(log: LogFn, bound: LogFields): LogFn {
  return (line, fields) => log(line, { ...bound, ...fields });
}

/**
 * Tokens kept beyond what the connections in use reserve: enough for every token still alive in one
 * connection (and many dead ones). More would only slow every log line.
 */
const BASE_KNOWN_SECRETS = 64;
/** However many connections reserve room, the registry never holds more than this many tokens. */
const MAX_KNOWN_SECRETS = 8192;

/**
 * Keeps the secret values seen so far (tokens issued, configured secrets), bounded for long runs. Each
 * connection in use reserves room for its live tokens (TokenManager does), so with many connections
 * the newest tokens of every one are still known: the bound is BASE_KNOWN_SECRETS plus what is
 * reserved, never more than MAX_KNOWN_SECRETS.
 */
export class SecretRegistry {
  /** Configuration secrets (client secret, environment tokens): never forgotten. */
  private readonly pinned = new Set<string>();
  /** Tokens issued while running. Insertion-ordered: the least recently added is forgotten first. */
  private readonly known = new Set<string>();
  private reserved = 0;

  /** How many issued tokens are kept now. */
  get capacity(): number {
    return Math.min(MAX_KNOWN_SECRETS, BASE_KNOWN_SECRETS + this.reserved);
  }

  pin(...values: Array<string | null | undefined>): void {
    for (const value of values) if (value && value.length >= 8) this.pinned.add(value);
  }

  /**
   * Keeps room for `count` more tokens until the returned function is called (once; later calls do
   * nothing). A connection reserves room for its live tokens while it is in use.
   */
  reserve(count: number): () => void {
    const room = Math.max(0, Math.floor(count));
    this.reserved += room;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.reserved -= room;
      this.trim();
    };
  }

  add(...values: Array<string | null | undefined>): void {
    for (const value of values) {
      // Very short values would make the redactor rewrite ordinary words; tokens are long.
      if (!value || value.length < 8) continue;
      this.known.delete(value);
      this.known.add(value);
    }
    this.trim();
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

  /** Forgets the least recently added tokens beyond the capacity. */
  private trim(): void {
    const capacity = this.capacity;
    for (const value of this.known) {
      if (this.known.size <= capacity) break;
      this.known.delete(value);
    }
  }
}

/**
 * Wraps a sink so every line, and every text field, is redacted against the registry (and
 * prefixed, when given and the sink is a human one).
 */
export function redactingLog(sink: LogFn, secrets: SecretRegistry, prefix = '[qb-token-desk]'): LogFn {
  const prefixed = prefix !== '' && !structuredSinks.has(sink);
  return (line, fields) => {
    const text = secrets.redact(prefixed ? `${prefix} ${line}` : line);
    if (fields === undefined) {
      sink(text);
      return;
    }
    const clean: LogFields = { ...fields };
    if (clean.intuitTid) clean.intuitTid = secrets.redact(clean.intuitTid);
    if (clean.connection) clean.connection = secrets.redact(clean.connection);
    sink(text, clean);
  };
}
