import { canonicalCast } from './column-type';
import { Cursor, FieldRef } from './cursor';
import { Errors } from './postgrest.error';
import { PostgrestLimits } from './limits';

export type SelectItem = StarItem | FieldItem | EmbedItem;
export interface StarItem {
  kind: 'star';
}
export type AggregateFn = 'count' | 'sum' | 'avg' | 'min' | 'max';
export interface FieldItem {
  kind: 'field';
  alias?: string;
  /** `*` (name '*') only with aggregate count: `count()`. */
  field: FieldRef;
  /** Canonical cast name from the allow-list (never the caller's spelling). */
  cast?: string;
  /** `col.sum()`, `count()`: the rows of this level are grouped by its other fields. */
  aggregate?: AggregateFn;
  /** `col.sum()::int`: a cast of the aggregate's result. */
  aggregateCast?: string;
}
export interface EmbedItem {
  kind: 'embed';
  alias?: string;
  /** The related table's name as written; resolved against the catalog later. */
  relation: string;
  /** `!fk_name` or `!column` to pick one of several foreign keys. */
  hint?: string;
  /** `!inner`: keep only parent rows that have a matching embedded row. */
  inner: boolean;
  /** `...rel(a,b)`: the related row's fields are the parent's own. */
  spread?: boolean;
  select: SelectItem[];
}

/**
 * Parses `select=` in PostgREST's grammar: `*`, `alias:col`, `col::cast`, `col->a->>b`, `alias:table!hint!inner(...)`.
 * Whitespace outside quotes is ignored (postgrest-js strips it anyway).
 */
export function parseSelect(raw: string, limits: PostgrestLimits): SelectItem[] {
  if (raw.length > limits.maxSelectLength) throw Errors.limit(`select parameter is longer than ${limits.maxSelectLength} characters`);
  const c = new Cursor(raw, 'select parameter');
  const counter: Counter = { items: 0, embeds: 0 };
  const items = list(c, 1, limits, counter);
  c.skipSpaces();
  if (!c.done) c.fail('"," or end of input');
  return items;
}

/** Running totals over the whole select, so width can't be traded for depth or the other way round. */
interface Counter {
  items: number;
  embeds: number;
}

function list(c: Cursor, depth: number, limits: PostgrestLimits, counter: Counter): SelectItem[] {
  const items: SelectItem[] = [];
  let embeds = 0;
  c.skipSpaces();
  // `users()` is legal: an embed used only to filter (with !inner) contributes no fields.
  if (c.peek() === ')' && depth > 1) return items;
  do {
    if (++counter.items > limits.maxSelectItems) throw Errors.limit(`select has more than ${limits.maxSelectItems} items`);
    const it = item(c, depth, limits, counter);
    if (it.kind === 'embed' && ++embeds > limits.maxEmbedsPerLevel) {
      throw Errors.limit(`select embeds more than ${limits.maxEmbedsPerLevel} resources in one list`);
    }
    items.push(it);
    c.skipSpaces();
  } while (c.eat(','));
  return items;
}

function item(c: Cursor, depth: number, limits: PostgrestLimits, counter: Counter): SelectItem {
  c.skipSpaces();
  if (c.eat('*')) return { kind: 'star' };
  if (c.peek(3) === '...') {
    c.i += 3;
    const relation = c.name();
    c.skipSpaces();
    if (c.peek() !== '!' && c.peek() !== '(') c.fail('"(" (only embedded resources can be spread)');
    return { ...embed(c, undefined, relation, depth, limits, counter), spread: true };
  }
  const start = c.i;
  let alias: string | undefined;
  const first = c.name();
  c.skipSpaces();
  // `alias:` — but not `col::cast`.
  if (c.peek() === ':' && c.peek(2) !== '::') {
    c.i++;
    alias = first;
  } else {
    c.i = start;
  }
  // `count()` (optionally `alias:count()` and `count()::int`): the number of rows.
  if (/^count\s*\(\s*\)/.test(c.s.slice(c.i, c.i + 12))) {
    c.i = c.s.indexOf(')', c.i) + 1;
    return { kind: 'field', alias, field: { name: '*', path: [] }, aggregate: 'count', aggregateCast: castAfter(c) };
  }
  const field = c.field();
  c.skipSpaces();
  if (c.peek() === '!' || c.peek() === '(') {
    if (field.path.length > 0) c.fail('"," or ")"');
    return embed(c, alias, field.name, depth, limits, counter);
  }
  const cast = castAfter(c);
  const agg = /^\.(sum|avg|count|min|max)\(\)/.exec(c.s.slice(c.i, c.i + 8));
  if (!agg) return { kind: 'field', alias, field, cast };
  c.i += agg[0].length;
  return { kind: 'field', alias, field, cast, aggregate: agg[1] as AggregateFn, aggregateCast: castAfter(c) };
}

/** An optional `::type` from the cast allow-list. */
function castAfter(c: Cursor): string | undefined {
  if (!c.eat('::')) return undefined;
  const start = c.i;
  while (!c.done && /[A-Za-z0-9_ ]/.test(c.s[c.i])) c.i++;
  const name = c.s.slice(start, c.i).trim();
  const cast = canonicalCast(name);
  if (!cast) throw Errors.parse('select parameter', c.s, `unsupported cast "${name}"`);
  return cast;
}

function embed(c: Cursor, alias: string | undefined, relation: string, depth: number, limits: PostgrestLimits, counter: Counter): EmbedItem {
  // Each level multiplies the rows a statement can produce (every to-many embed returns up to maxRows per parent).
  if (depth > limits.maxEmbedDepth) throw Errors.limit(`embedding is nested deeper than ${limits.maxEmbedDepth} levels`);
  if (++counter.embeds > limits.maxEmbeds) throw Errors.limit(`select embeds more than ${limits.maxEmbeds} resources`);
  let hint: string | undefined;
  let inner = false;
  while (c.eat('!')) {
    const h = c.name();
    if (h === 'inner') inner = true;
    else if (h === 'left') inner = false;
    else if (hint === undefined) hint = h;
    else c.fail('"("');
  }
  c.expect('(');
  const select = list(c, depth + 1, limits, counter);
  c.skipSpaces();
  c.expect(')');
  return { kind: 'embed', alias, relation, hint, inner, select };
}
