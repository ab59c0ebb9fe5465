// Test helper: collects every secret value a test could leak (tokens the emulator issued, client
// secrets, values the engine saw) and every string the test produced (statuses, events, history,
// log lines, error messages, HTTP bodies), then asserts no secret appears in any of them. Failures
// name where the leak was and show only a preview, so the report itself leaks nothing.
import type { EmulatorHandle } from '../../emulator/types';
import { previewToken } from '../../shared/preview';

interface Sample {
  label: string;
  text: string;
}

/** Secrets shorter than this are not scanned for (they would match ordinary text). */
const MIN_SECRET_LENGTH = 8;

export class LeakScan {
  private readonly secrets = new Set<string>();
  private readonly samples: Sample[] = [];
  private readonly sources: Array<() => Iterable<string>> = [];

  /** Known secret values (tokens, client secrets, authorization codes). */
  addSecrets(...values: Array<string | null | undefined>): this {
    for (const value of values) if (value && value.length >= MIN_SECRET_LENGTH) this.secrets.add(value);
    return this;
  }

  /** A live source of secrets, read at assertion time (e.g. the engine's SecretRegistry, a store file). */
  addSecretSource(source: () => Iterable<string>): this {
    this.sources.push(source);
    return this;
  }

  /** The emulator's demo credentials and every token and code it has issued (read at assertion time). */
  addEmulator(emulator: EmulatorHandle): this {
    this.addSecrets(emulator.clientSecret, emulator.refreshToken);
    this.addSecretSource(() => emulator.control.issuedTokenValues());
    return this;
  }

  /** Something the test produced that must not contain a secret. Objects are JSON-serialised; errors give name + message. */
  collect(label: string, value: unknown): this {
    this.samples.push({ label, text: textOf(value) });
    return this;
  }

  /** Every secret known now. */
  knownSecrets(): string[] {
    const all = new Set(this.secrets);
    for (const source of this.sources) {
      for (const value of source()) if (value && value.length >= MIN_SECRET_LENGTH) all.add(value);
    }
    return [...all];
  }

  /** The leaks found, described without the values. */
  findLeaks(): string[] {
    return findLeaks(this.samples, this.knownSecrets());
  }

  /** Throws when any collected text contains a known secret. */
  assertClean(): void {
    const leaks = this.findLeaks();
    if (leaks.length > 0) throw new Error(`Token values leaked:\n${leaks.join('\n')}`);
  }

  get sampleCount(): number {
    return this.samples.length;
  }

  get secretCount(): number {
    return this.knownSecrets().length;
  }
}

export function findLeaks(samples: ReadonlyArray<Sample>, secrets: Iterable<string>): string[] {
  const leaks: string[] = [];
  const values = [...secrets];
  for (const sample of samples) {
    for (const secret of values) {
      if (sample.text.includes(secret))
        leaks.push(`${sample.label}: contains the value ending ${previewToken(secret)}`);
    }
  }
  return leaks;
}

function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Error) {
    const extra = Object.entries(value as unknown as Record<string, unknown>)
      .map(([key, field]) => `${key}=${textOfSafe(field)}`)
      .join(' ');
    return `${value.name}: ${value.message} ${extra}`;
  }
  return textOfSafe(value);
}

function textOfSafe(value: unknown): string {
  try {
    return typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    return String(value);
  }
}
