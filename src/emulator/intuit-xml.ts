// The Accounting API's XML, which Intuit answers unless the client asks for JSON: the same
// IntuitResponse as the JSON bodies, with Intuit's XML conventions (entity `domain`/`sparse`, the
// QueryResponse paging numbers, Fault `type` and Error `code`/`element` are attributes; a reference
// such as CurrencyRef is its value as text with `name` as an attribute; a list is repeated elements).
// Hand-written rather than a builder library: those conventions are the whole job, escaping is one line.

const NAMESPACE = 'http://schema.intuit.com/finance/v3';

/** Keys written as attributes, per element name; `domain` and `sparse` are attributes of every entity. */
const ATTRIBUTES: Record<string, readonly string[]> = {
  QueryResponse: ['startPosition', 'maxResults', 'totalCount'],
  Fault: ['type'],
  Error: ['code', 'element'],
};
const ENTITY_ATTRIBUTES = ['domain', 'sparse'];
const REFERENCE_KEYS = new Set(['value', 'name', 'type']);

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function scalar(value: unknown): string {
  return escapeXml(String(value));
}

function isReference(value: Record<string, unknown>): boolean {
  const keys = Object.keys(value);
  return 'value' in value && keys.every((key) => REFERENCE_KEYS.has(key));
}

function element(name: string, value: unknown, indent: string): string {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.map((item) => element(name, item, indent)).join('');
  if (!isRecord(value)) return `${indent}<${name}>${scalar(value)}</${name}>\n`;
  if (isReference(value)) {
    const attrs = ['name', 'type']
      .filter((key) => value[key] !== undefined && value[key] !== null)
      .map((key) => ` ${key}="${scalar(value[key])}"`)
      .join('');
    return `${indent}<${name}${attrs}>${scalar(value.value)}</${name}>\n`;
  }
  const attributeKeys = new Set(ATTRIBUTES[name] ?? ('domain' in value ? ENTITY_ATTRIBUTES : []));
  const attrs = Object.entries(value)
    .filter(([key, v]) => attributeKeys.has(key) && v !== null && v !== undefined)
    .map(([key, v]) => ` ${key}="${scalar(v)}"`)
    .join('');
  const children = Object.entries(value)
    .filter(([key]) => !attributeKeys.has(key))
    .map(([key, v]) => element(key, v, `${indent}  `))
    .join('');
  return children === ''
    ? `${indent}<${name}${attrs}/>\n`
    : `${indent}<${name}${attrs}>\n${children}${indent}</${name}>\n`;
}

/** `<IntuitResponse time="...">` around the body's top-level elements (an entity, QueryResponse or Fault). */
export function intuitResponseXml(body: Record<string, unknown>, time: string): string {
  const children = Object.entries(body)
    .map(([key, value]) => element(key, value, '  '))
    .join('');
  return (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' +
    `<IntuitResponse xmlns="${NAMESPACE}" time="${escapeXml(time)}">\n${children}</IntuitResponse>\n`
  );
}
