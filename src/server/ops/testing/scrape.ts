// Reads a /metrics answer the way Prometheus would: through the official Prometheus client's
// text-format parser (Python, from Debian's python3-prometheus-client; see parse-metrics.py for
// why not an npm one), then lets tests look samples up by name and labels.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const PYTHON = '/usr/bin/python3';
const PARSER = fileURLToPath(new URL('./parse-metrics.py', import.meta.url));

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  /** counter, gauge, histogram, summary, unknown */
  type: string;
  help: string;
  samples: Sample[];
}

export interface Scrape {
  /** The raw text, for leak scans. */
  text: string;
  families: Map<string, Family>;
  /** Every sample named `name` (e.g. `x_bucket`, `x_count`) whose labels include `labels`. */
  samples(name: string, labels?: Record<string, string>): Sample[];
  /** The one such sample's value; throws when there is none or several. */
  value(name: string, labels?: Record<string, string>): number;
  /** Like value(), but 0 when no such sample exists yet (a labelled counter before its first event). */
  valueOr0(name: string, labels?: Record<string, string>): number;
}

export function parseScrape(text: string): Scrape {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run scripts/install-test-deps.sh`);
  let json: string;
  try {
    json = execFileSync(PYTHON, [PARSER], { input: text, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '');
    if (stderr.includes("No module named 'prometheus_client'")) {
      throw new Error('python3-prometheus-client is not installed: run scripts/install-test-deps.sh', {
        cause: err,
      });
    }
    throw new Error(`The Prometheus parser refused the scrape:\n${stderr.slice(-2000)}`, { cause: err });
  }
  const raw = JSON.parse(json) as Array<
    Omit<Family, 'samples'> & { samples: Array<Omit<Sample, 'value'> & { value: number | string }> }
  >;
  const families = new Map<string, Family>();
  for (const family of raw) {
    families.set(family.name, {
      ...family,
      samples: family.samples.map((sample) => ({ ...sample, value: Number(sample.value) })),
    });
  }
  const all = [...families.values()].flatMap((family) => family.samples);
  const scrape: Scrape = {
    text,
    families,
    samples: (name, labels = {}) =>
      all.filter(
        (sample) =>
          sample.name === name &&
          Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
      ),
    value(name, labels = {}) {
      const found = scrape.samples(name, labels);
      if (found.length !== 1) {
        throw new Error(`expected one sample ${name}${JSON.stringify(labels)}, found ${found.length}`);
      }
      return found[0].value;
    },
    valueOr0: (name, labels = {}) =>
      scrape.samples(name, labels).length === 0 ? 0 : scrape.value(name, labels),
  };
  return scrape;
}
