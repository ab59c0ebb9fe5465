// A few lines of input checking for options, control bodies and flags. Hand-rolled rather than zod
// so `npm run emulator` starts fast (zod alone costs a few hundred ms of start-up on a busy machine).

export class ValidationError extends Error {}

export type Rule =
  | { type: 'int'; min: number; max?: number; optional?: boolean }
  | { type: 'number'; optional?: boolean }
  | { type: 'enum'; values: readonly (string | number)[]; optional?: boolean }
  | { type: 'bool'; optional?: boolean }
  | { type: 'object'; optional?: boolean }
  | { type: 'string'; pattern?: RegExp; maxLength?: number; optional?: boolean }
  | { type: 'strings'; check: (value: string) => string | null; maxItems: number; optional?: boolean }
  | {
      type: 'objects';
      fields: Record<string, Rule>;
      minItems: number;
      maxItems: number;
      /** A problem of the list as a whole (a duplicate, say), or null. */
      check?: (items: Record<string, unknown>[]) => string | null;
      optional?: boolean;
    };

function describe(rule: Rule): string {
  switch (rule.type) {
    case 'int':
      return `an integer >= ${rule.min}${rule.max !== undefined ? ` and <= ${rule.max}` : ''}`;
    case 'number':
      return 'a finite number';
    case 'enum':
      return `one of ${rule.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'bool':
      return 'true or false';
    case 'object':
      return 'a JSON object';
    case 'string':
      return rule.pattern ? `a string matching ${String(rule.pattern)}` : 'a non-empty string';
    case 'strings':
      return `an array of at most ${rule.maxItems} strings`;
    case 'objects':
      return `an array of ${rule.minItems} to ${rule.maxItems} objects {${Object.keys(rule.fields).join(', ')}}`;
  }
}

function accepts(rule: Rule, value: unknown): boolean {
  switch (rule.type) {
    case 'int':
      return (
        typeof value === 'number' &&
        Number.isInteger(value) &&
        value >= rule.min &&
        (rule.max === undefined || value <= rule.max)
      );
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'enum':
      return (typeof value === 'string' || typeof value === 'number') && rule.values.includes(value);
    case 'bool':
      return typeof value === 'boolean';
    case 'object':
      return value !== null && typeof value === 'object' && !Array.isArray(value);
    case 'string':
      return (
        typeof value === 'string' &&
        value.length > 0 &&
        value.length <= (rule.maxLength ?? 10_000) &&
        (rule.pattern === undefined || rule.pattern.test(value))
      );
    case 'strings':
      return (
        Array.isArray(value) &&
        value.length <= rule.maxItems &&
        value.every((item) => typeof item === 'string')
      );
    case 'objects':
      return Array.isArray(value) && value.length >= rule.minItems && value.length <= rule.maxItems;
  }
}

/** Checks an object against its rules; unknown keys are refused so a typo is not silently ignored. */
export function checkObject(
  input: unknown,
  rules: Record<string, Rule>,
  where: string,
  allowUnknown = false,
): Record<string, unknown> {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ValidationError(`${where}: expected a JSON object`);
  }
  const record = input as Record<string, unknown>;
  for (const key of allowUnknown ? [] : Object.keys(record)) {
    if (!(key in rules))
      throw new ValidationError(`${where}.${key}: unknown field (known: ${Object.keys(rules).join(', ')})`);
  }
  for (const [key, rule] of Object.entries(rules)) {
    const value = record[key];
    if (value === undefined) {
      if (rule.optional) continue;
      throw new ValidationError(`${where}.${key}: required, expected ${describe(rule)}`);
    }
    if (!accepts(rule, value)) {
      throw new ValidationError(`${where}.${key}: expected ${describe(rule)}, got ${JSON.stringify(value)}`);
    }
    if (rule.type === 'strings') {
      (value as string[]).forEach((item, index) => {
        const problem = rule.check(item);
        if (problem) throw new ValidationError(`${where}.${key}[${index}]: ${problem}`);
      });
    }
    if (rule.type === 'objects') {
      const items = (value as unknown[]).map((item, index) =>
        checkObject(item, rule.fields, `${where}.${key}[${index}]`),
      );
      const problem = rule.check?.(items);
      if (problem) throw new ValidationError(`${where}.${key}: ${problem}`);
    }
  }
  return record;
}
