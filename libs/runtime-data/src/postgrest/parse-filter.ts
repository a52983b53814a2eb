import { Cursor, FieldRef } from './cursor';
import { Errors } from './postgrest.error';
import { PostgrestLimits } from './limits';
import { checkRegexPattern } from './regex-guard';

export const OPERATORS = [
  'eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'like', 'ilike', 'match', 'imatch', 'in', 'is', 'isdistinct', 'cs', 'cd', 'ov',
  'sl', 'sr', 'nxl', 'nxr', 'adj', 'fts', 'plfts', 'phfts', 'wfts',
] as const;
export type Operator = (typeof OPERATORS)[number];
/** Operators that take PostgREST's `(any)`/`(all)` quantifier: `like(any).{a*,b*}`. */
const QUANTIFIABLE = new Set<Operator>(['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'like', 'ilike', 'match', 'imatch']);
/** Full-text operators, which take an optional text search configuration: `fts(english).query`. */
export const FTS_OPERATORS = new Set<Operator>(['fts', 'plfts', 'phfts', 'wfts']);
export type IsValue = 'null' | 'not_null' | 'true' | 'false' | 'unknown';

export interface Condition {
  kind: 'cond';
  field: FieldRef;
  negate: boolean;
  op: Operator;
  /** The value for scalar operators (`*` already turned into `%` for like/ilike). */
  value: string;
  /** The elements of `in.(…)`. */
  list?: string[];
  /** The keyword of `is.…`. */
  is?: IsValue;
  /** `(any)` / `(all)`: `value` is a `{a,b}` array literal compared element-wise. */
  quantifier?: 'any' | 'all';
  /** The text search configuration of `fts(english)`. */
  language?: string;
}
export interface Logic {
  kind: 'logic';
  op: 'and' | 'or';
  negate: boolean;
  children: FilterNode[];
}
export type FilterNode = Condition | Logic;

/** Counts conditions across the whole request so a single request can't carry thousands of them. */
export class FilterBudget {
  private used = 0;
  private regexes = 0;
  constructor(readonly limits: PostgrestLimits) {}
  take(): void {
    if (++this.used > this.limits.maxFilters) throw Errors.limit(`more than ${this.limits.maxFilters} filters in one request`);
  }
  /** A regex runs against every candidate row, so few of them per request, each within the pattern rules. */
  regex(op: Operator, pattern: string): void {
    if (op !== 'match' && op !== 'imatch') return;
    if (++this.regexes > this.limits.maxRegexFilters) throw Errors.limit(`more than ${this.limits.maxRegexFilters} match/imatch filters in one request`);
    checkRegexPattern(op, pattern, this.limits);
  }
}

function isOperator(s: string): s is Operator {
  return (OPERATORS as readonly string[]).includes(s);
}

interface OperatorRef {
  negate: boolean;
  op: Operator;
  quantifier?: 'any' | 'all';
  language?: string;
}

function operator(c: Cursor): OperatorRef {
  let negate = false;
  const start = c.i;
  let word = c.name();
  if (word === 'not') {
    c.expect('.');
    negate = true;
    word = c.name();
  }
  if (!isOperator(word)) {
    c.i = start;
    throw Errors.parse('filter', c.s, `unknown operator "${word}"; expecting one of ${OPERATORS.join(', ')}`);
  }
  const ref: OperatorRef = { negate, op: word };
  if (c.peek() === '(') {
    // `eq(any)`, `like(all)`, `fts(english)`: a word in parentheses right after the operator.
    const close = c.s.indexOf(')', c.i);
    const arg = close > c.i ? c.s.slice(c.i + 1, close) : '';
    if (QUANTIFIABLE.has(word) && (arg === 'any' || arg === 'all')) ref.quantifier = arg;
    else if (FTS_OPERATORS.has(word) && /^[a-z_][a-z0-9_]{0,62}$/.test(arg)) ref.language = arg;
    else c.fail(QUANTIFIABLE.has(word) ? '"(any)" or "(all)"' : FTS_OPERATORS.has(word) ? 'a text search configuration' : '"."');
    c.i = close + 1;
  }
  c.expect('.');
  return ref;
}

function isKeyword(c: Cursor, raw: string): IsValue {
  const v = raw.toLowerCase();
  if (v === 'null' || v === 'not_null' || v === 'true' || v === 'false' || v === 'unknown') return v;
  throw Errors.parse('filter', c.s, `unexpected "${raw}" expecting null, not_null, true, false or unknown`);
}

/** `(a,b,"c,d")`: quoted elements may hold `,` `(` `)`; bare ones end at `,` or `)`. */
function inList(c: Cursor, limits: PostgrestLimits): string[] {
  c.expect('(');
  const out: string[] = [];
  if (c.eat(')')) return out;
  do {
    if (out.length >= limits.maxInList) throw Errors.limit(`in.() lists are limited to ${limits.maxInList} values`);
    if (c.peek() === '"') out.push(c.quoted());
    else {
      const start = c.i;
      while (!c.done && c.peek() !== ',' && c.peek() !== ')') c.i++;
      out.push(c.s.slice(start, c.i));
    }
  } while (c.eat(','));
  c.expect(')');
  return out;
}

function likePattern(op: Operator, v: string): string {
  return op === 'like' || op === 'ilike' ? v.replace(/\*/g, '%') : v;
}

/**
 * The value part of `col=[not.]op.value` at the top level of the query string: everything after the operator is
 * the value, quotes included (PostgREST treats quotes literally here), except for `in` lists and `is` keywords.
 */
export function parseFilterValue(field: FieldRef, raw: string, limits: PostgrestLimits, budget: FilterBudget): Condition {
  budget.take();
  const c = new Cursor(raw, 'filter');
  const { negate, op, quantifier, language } = operator(c);
  if (op === 'in') {
    const list = inList(c, limits);
    if (!c.done) c.fail('end of input');
    return { kind: 'cond', field, negate, op, value: '', list };
  }
  const rest = c.s.slice(c.i);
  if (quantifier) return quantified(field, negate, op, quantifier, rest, limits, budget);
  budget.regex(op, rest);
  if (op === 'is') return { kind: 'cond', field, negate, op, value: rest, is: isKeyword(c, rest) };
  return { kind: 'cond', field, negate, op, value: likePattern(op, rest), language };
}

/** `(a.eq.1,b.gt.2,and(c.eq.3,not.or(d.is.null)))` as the value of `or=` / `and=` / `not.or=` / `not.and=`. */
export function parseLogicValue(op: 'and' | 'or', negate: boolean, raw: string, limits: PostgrestLimits, budget: FilterBudget): Logic {
  const c = new Cursor(raw, 'logic tree');
  const children = logicChildren(c, 1, limits, budget);
  c.skipSpaces();
  if (!c.done) c.fail('end of input');
  return { kind: 'logic', op, negate, children };
}

function logicChildren(c: Cursor, depth: number, limits: PostgrestLimits, budget: FilterBudget): FilterNode[] {
  if (depth > limits.maxLogicDepth) throw Errors.limit(`or/and filters are nested deeper than ${limits.maxLogicDepth} levels`);
  c.skipSpaces();
  c.expect('(');
  const children: FilterNode[] = [];
  do {
    c.skipSpaces();
    children.push(logicItem(c, depth, limits, budget));
    c.skipSpaces();
  } while (c.eat(','));
  c.expect(')');
  return children;
}

function logicItem(c: Cursor, depth: number, limits: PostgrestLimits, budget: FilterBudget): FilterNode {
  // A nested tree is `[not.]and(` / `[not.]or(`; anything else is `field.[not.]op.value`.
  const nested = /^(not\.)?(and|or)\(/.exec(c.s.slice(c.i, c.i + 8));
  if (nested) {
    c.i += nested[0].length - 1;
    const children = logicChildren(c, depth + 1, limits, budget);
    return { kind: 'logic', op: nested[2] as 'and' | 'or', negate: nested[1] !== undefined, children };
  }
  budget.take();
  const field = c.field();
  c.expect('.');
  const { negate, op, quantifier, language } = operator(c);
  if (op === 'in') return { kind: 'cond', field, negate, op, value: '', list: inList(c, limits) };
  const value = logicValue(c);
  if (quantifier) return quantified(field, negate, op, quantifier, value, limits, budget);
  budget.regex(op, value);
  if (op === 'is') return { kind: 'cond', field, negate, op, value, is: isKeyword(c, value) };
  return { kind: 'cond', field, negate, op, value: likePattern(op, value), language };
}

/** Inside a tree a value is quoted, a `{…}` array literal, or runs to the next `,` or `)`. */
function logicValue(c: Cursor): string {
  if (c.peek() === '"') return c.quoted();
  const start = c.i;
  if (c.peek() === '{') {
    const end = c.s.indexOf('}', c.i);
    if (end < 0) c.fail('"}"');
    c.i = end + 1;
    return c.s.slice(start, c.i);
  }
  while (!c.done && c.peek() !== ',' && c.peek() !== ')') c.i++;
  return c.s.slice(start, c.i);
}

/**
 * `op(any).{a,b}` / `op(all).{a,b}`: the elements of the `{…}` literal (quoted elements may hold `,` and `}`), each
 * checked like a single value (like patterns get `*` → `%`, regexes the pattern rules), at most maxInList of them.
 */
function quantified(field: FieldRef, negate: boolean, op: Operator, quantifier: 'any' | 'all', raw: string, limits: PostgrestLimits, budget: FilterBudget): Condition {
  const c = new Cursor(raw, 'filter');
  c.expect('{');
  const list: string[] = [];
  if (!c.eat('}')) {
    do {
      if (list.length >= limits.maxInList) throw Errors.limit(`(any)/(all) lists are limited to ${limits.maxInList} values`);
      if (c.peek() === '"') list.push(c.quoted());
      else {
        const start = c.i;
        while (!c.done && c.peek() !== ',' && c.peek() !== '}') c.i++;
        list.push(c.s.slice(start, c.i).trim());
      }
    } while (c.eat(','));
    c.expect('}');
  }
  if (!c.done) c.fail('end of input');
  for (const v of list) budget.regex(op, v);
  return { kind: 'cond', field, negate, op, value: '', list: list.map((v) => likePattern(op, v)), quantifier };
}

/** Parses a whole filter key (`col`, `col->a->>b`) with no embed prefix. */
export function parseFieldKey(key: string): FieldRef {
  const c = new Cursor(key, 'filter');
  const f = c.field();
  if (!c.done) c.fail('end of input');
  return f;
}
