// Enough of Intuit's query language for the seeded company:
//   SELECT * | COUNT(*) | Field, ... FROM Entity
//     [WHERE Field op value [AND ...]]   op: = != < > <= >= LIKE ('%' wildcards) IN ('a', 'b')
//     [ORDERBY Field [ASC|DESC]] [STARTPOSITION n] [MAXRESULTS n]
// Keywords and property names are case-insensitive; string comparisons too. A reference property
// (CustomerRef) compares by its value; `MetaData.LastUpdatedTime` reaches into an object.
import { type FaultSpec, VALIDATION_FAULT } from './fault-bodies';
import { type Row, SEEDED_ENTITIES } from './intuit-bodies';

type Token = { kind: 'word' | 'string' | 'number' | 'symbol'; text: string; column: number };
type Value = string | number | boolean;
type Condition = { field: string; op: string; values: Value[] };

type QueryOutcome = { response: Record<string, unknown> } | { fault: FaultSpec };

const MAX_RESULTS_LIMIT = 1000;
const DEFAULT_MAX_RESULTS = 100;
const OPERATORS = ['<=', '>=', '!=', '=', '<', '>'];

class QueryParseError extends Error {}

function tokenize(statement: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < statement.length) {
    const c = statement.charAt(i);
    if (/\s/.test(c)) {
      i += 1;
    } else if (c === "'") {
      let text = '';
      let j = i + 1;
      for (; j < statement.length && statement.charAt(j) !== "'"; j += 1) {
        if (statement.charAt(j) === '\\' && j + 1 < statement.length) j += 1;
        text += statement.charAt(j);
      }
      if (j >= statement.length)
        throw new QueryParseError(`Lexical error at line 1, column ${i + 1}: unterminated string`);
      tokens.push({ kind: 'string', text, column: i + 1 });
      i = j + 1;
    } else if (/[0-9]/.test(c) || (c === '-' && /[0-9]/.test(statement.charAt(i + 1)))) {
      const match = /^-?\d+(\.\d+)?/.exec(statement.slice(i))?.[0] ?? c;
      tokens.push({ kind: 'number', text: match, column: i + 1 });
      i += match.length;
    } else if (/[A-Za-z_]/.test(c)) {
      const match = /^[A-Za-z_][\w.]*/.exec(statement.slice(i))?.[0] ?? c;
      tokens.push({ kind: 'word', text: match, column: i + 1 });
      i += match.length;
    } else {
      const op = OPERATORS.find((o) => statement.startsWith(o, i)) ?? (/[(),*;]/.test(c) ? c : null);
      if (!op) throw new QueryParseError(`Lexical error at line 1, column ${i + 1}. Encountered: "${c}"`);
      tokens.push({ kind: 'symbol', text: op, column: i + 1 });
      i += op.length;
    }
  }
  return tokens;
}

class Parser {
  private index = 0;
  constructor(private readonly tokens: Token[]) {}

  peek(): Token | undefined {
    return this.tokens[this.index];
  }

  next(): Token {
    const token = this.tokens[this.index];
    if (!token) throw new QueryParseError('Encountered "<EOF>" at line 1: the statement ends too early.');
    this.index += 1;
    return token;
  }

  isKeyword(word: string): boolean {
    const token = this.peek();
    return token?.kind === 'word' && token.text.toLowerCase() === word;
  }

  keyword(word: string): void {
    const token = this.next();
    if (token.kind !== 'word' || token.text.toLowerCase() !== word)
      this.unexpected(token, word.toUpperCase());
  }

  symbol(text: string): void {
    const token = this.next();
    if (token.kind !== 'symbol' || token.text !== text) this.unexpected(token, `"${text}"`);
  }

  word(): string {
    const token = this.next();
    if (token.kind !== 'word') this.unexpected(token, 'a name');
    return token.text;
  }

  integer(): number {
    const token = this.next();
    if (token.kind !== 'number' || !/^\d+$/.test(token.text)) this.unexpected(token, 'a whole number');
    return Number(token.text);
  }

  value(): Value {
    const token = this.next();
    if (token.kind === 'string') return token.text;
    if (token.kind === 'number') return Number(token.text);
    if (token.kind === 'word' && /^(true|false)$/i.test(token.text))
      return token.text.toLowerCase() === 'true';
    return this.unexpected(token, 'a value');
  }

  done(): boolean {
    if (this.peek()?.text === ';') this.index += 1;
    return this.index >= this.tokens.length;
  }

  unexpected(token: Token, expected: string): never {
    throw new QueryParseError(
      `Encountered " ${token.text} " at line 1, column ${token.column}.\nWas expecting: ${expected}`,
    );
  }
}

interface Query {
  fields: '*' | 'count' | string[];
  entity: string;
  where: Condition[];
  order: { field: string; desc: boolean } | null;
  start: number;
  max: number;
}

function parse(statement: string): Query {
  const p = new Parser(tokenize(statement));
  p.keyword('select');
  let fields: Query['fields'];
  if (p.peek()?.text === '*') {
    p.next();
    fields = '*';
  } else if (p.isKeyword('count')) {
    p.next();
    p.symbol('(');
    p.symbol('*');
    p.symbol(')');
    fields = 'count';
  } else {
    fields = [p.word()];
    while (p.peek()?.text === ',') {
      p.next();
      fields.push(p.word());
    }
  }
  p.keyword('from');
  const query: Query = {
    fields,
    entity: p.word(),
    where: [],
    order: null,
    start: 1,
    max: DEFAULT_MAX_RESULTS,
  };
  if (p.isKeyword('where')) {
    p.next();
    do {
      if (query.where.length > 0) p.next(); // AND
      const field = p.word();
      const opToken = p.next();
      const op = opToken.text.toLowerCase();
      if (op === 'in') {
        p.symbol('(');
        const values = [p.value()];
        while (p.peek()?.text === ',') {
          p.next();
          values.push(p.value());
        }
        p.symbol(')');
        query.where.push({ field, op, values });
      } else if (op === 'like' || OPERATORS.includes(op)) {
        query.where.push({ field, op, values: [p.value()] });
      } else {
        p.unexpected(opToken, 'an operator (=, <, >, <=, >=, !=, LIKE, IN)');
      }
    } while (p.isKeyword('and'));
  }
  if (p.isKeyword('orderby')) {
    p.next();
    const field = p.word();
    let desc = false;
    if (p.isKeyword('asc') || p.isKeyword('desc')) desc = p.next().text.toLowerCase() === 'desc';
    query.order = { field, desc };
  }
  if (p.isKeyword('startposition')) {
    p.next();
    query.start = Math.max(1, p.integer());
  }
  if (p.isKeyword('maxresults')) {
    p.next();
    query.max = Math.min(MAX_RESULTS_LIMIT, p.integer());
  }
  if (!p.done()) {
    const token = p.next();
    p.unexpected(token, 'WHERE, ORDERBY, STARTPOSITION, MAXRESULTS or the end of the statement');
  }
  return query;
}

/** A row's property by case-insensitive (dotted) name; undefined when the entity has no such property. */
function property(row: Row, path: string): unknown {
  let current: unknown = row;
  for (const part of path.split('.')) {
    if (typeof current !== 'object' || current === null) return undefined;
    const record = current as Row;
    const key = Object.keys(record).find((k) => k.toLowerCase() === part.toLowerCase());
    if (key === undefined) return undefined;
    current = record[key];
  }
  return current;
}

function comparable(value: unknown): Value | undefined {
  if (typeof value === 'object' && value !== null && 'value' in value)
    return comparable((value as Row).value);
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  return undefined;
}

function compare(actual: Value, expected: Value): number {
  if (typeof actual === 'number' && typeof expected === 'number') return actual - expected;
  if (
    typeof actual === 'number' &&
    typeof expected === 'string' &&
    expected.trim() !== '' &&
    !Number.isNaN(Number(expected))
  )
    return actual - Number(expected);
  const a = String(actual).toLowerCase();
  const b = String(expected).toLowerCase();
  return a < b ? -1 : a > b ? 1 : 0;
}

function likePattern(pattern: string): RegExp {
  const body = pattern
    .split('%')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`, 'is');
}

function matches(row: Row, condition: Condition): boolean {
  const actual = comparable(property(row, condition.field));
  if (actual === undefined) return false;
  const [first = ''] = condition.values;
  switch (condition.op) {
    case 'in':
      return condition.values.some((value) => compare(actual, value) === 0);
    case 'like':
      return likePattern(String(first)).test(String(actual));
    case '=':
      return compare(actual, first) === 0;
    case '!=':
      return compare(actual, first) !== 0;
    case '<':
      return compare(actual, first) < 0;
    case '>':
      return compare(actual, first) > 0;
    case '<=':
      return compare(actual, first) <= 0;
    default:
      return compare(actual, first) >= 0;
  }
}

function notQueryable(field: string): QueryOutcome {
  return {
    fault: VALIDATION_FAULT(
      'Invalid query',
      '4001',
      `QueryValidationError: property '${field}' is not queryable`,
    ),
  };
}

/** Runs a statement against the seeded company; a fault in Intuit's words when it cannot. */
export function runQuery(statement: string, realmId: string, companyName: string): QueryOutcome {
  let query: Query;
  try {
    query = parse(statement);
  } catch (error) {
    if (!(error instanceof QueryParseError)) throw error;
    return { fault: VALIDATION_FAULT('Error parsing query', '4000', `QueryParserError: ${error.message}`) };
  }
  const entity = SEEDED_ENTITIES[query.entity.toLowerCase()];
  if (!entity) {
    return {
      fault: VALIDATION_FAULT(
        'Error parsing query',
        '4000',
        `QueryParserError: Invalid context declaration : ${query.entity}`,
      ),
    };
  }
  let rows = entity.rows(realmId, companyName);
  const sample = rows[0] ?? {};
  const named = [
    ...query.where.map((c) => c.field),
    ...(query.order ? [query.order.field] : []),
    ...(Array.isArray(query.fields) ? query.fields : []),
  ];
  const unknown = named.find((field) => property(sample, field) === undefined);
  if (unknown !== undefined) return notQueryable(unknown);

  rows = rows.filter((row) => query.where.every((condition) => matches(row, condition)));
  if (query.fields === 'count') return { response: { totalCount: rows.length } };
  const order = query.order;
  if (order) {
    rows = [...rows].sort((a, b) => {
      const x = comparable(property(a, order.field)) ?? '';
      const y = comparable(property(b, order.field)) ?? '';
      return (order.desc ? -1 : 1) * compare(x, y);
    });
  }
  const fields = query.fields;
  let page = rows.slice(query.start - 1, query.start - 1 + query.max);
  if (Array.isArray(fields)) {
    page = page.map((row) => {
      const sparse: Row = {};
      for (const field of fields) {
        const key = Object.keys(row).find((k) => k.toLowerCase() === field.split('.')[0]?.toLowerCase());
        if (key !== undefined) sparse[key] = row[key];
      }
      return {
        ...sparse,
        domain: row.domain,
        sparse: true,
        Id: row.Id,
        SyncToken: row.SyncToken,
        MetaData: row.MetaData,
      };
    });
  }
  if (page.length === 0) return { response: {} };
  return { response: { [entity.name]: page, startPosition: query.start, maxResults: page.length } };
}
