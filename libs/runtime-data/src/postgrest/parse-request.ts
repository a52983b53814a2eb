import { FilterBudget, FilterNode, parseFieldKey, parseFilterValue, parseLogicValue } from './parse-filter';
import { OrderTerm, parseOrder } from './parse-order';
import { SelectItem, parseSelect } from './parse-select';
import { Errors } from './postgrest.error';
import { PostgrestLimits } from './limits';

/** Query parameters as Express gives them (`req.query` with the simple parser) or as URLSearchParams. */
export type QueryInput = URLSearchParams | Record<string, string | string[] | undefined>;
/** Request headers; names are matched case-insensitively. */
export type HeaderInput = Record<string, string | string[] | undefined>;

export interface RequestInput {
  query: QueryInput;
  headers?: HeaderInput;
}

export type CountMode = 'exact' | 'planned' | 'estimated';
export type ReturnMode = 'minimal' | 'representation' | 'headers-only';

export interface Preferences {
  count?: CountMode;
  return?: ReturnMode;
  resolution?: 'merge-duplicates' | 'ignore-duplicates';
  missing?: 'default' | 'null';
  /** What to echo in `Preference-Applied`. */
  applied: string[];
}

/** A filter, scoped to the root table (path []) or to an embedded resource by its alias/name path. */
export interface ScopedFilter {
  path: string[];
  node: FilterNode;
}

/** Everything the request says, before it is checked against the catalog and the policy. */
export interface ParsedRequest {
  /** null when `select` is absent (means `*`). */
  select: SelectItem[] | null;
  filters: ScopedFilter[];
  /** Keyed by embed path joined with '.', '' for the root. */
  order: Map<string, OrderTerm[]>;
  limit: Map<string, number>;
  offset: Map<string, number>;
  onConflict?: string[];
  columns?: string[];
  prefer: Preferences;
  /** `Accept: application/vnd.pgrst.object+json`. */
  single: boolean;
  /** From the `Range` header. */
  range?: { offset: number; limit?: number };
}

function entries(query: QueryInput): Array<[string, string]> {
  if (query instanceof URLSearchParams) return [...query.entries()];
  const out: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(query)) {
    if (Array.isArray(v)) for (const x of v) out.push([k, String(x)]);
    else if (typeof v === 'string') out.push([k, v]);
    // Nested objects (from a qs-style parser) are not PostgREST syntax.
    else if (v !== undefined) throw Errors.parse('query', k, 'unexpected nested parameter');
  }
  return out;
}

export function header(headers: HeaderInput | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  // On the request path: no entries array, and only same-length names are lower-cased.
  for (const k in headers) {
    if (k.length === name.length && (k === name || k.toLowerCase() === name)) {
      const v = headers[k];
      return Array.isArray(v) ? v.join(', ') : v;
    }
  }
  return undefined;
}

function nonNegativeInt(what: string, raw: string): number {
  if (!/^\d{1,15}$/.test(raw.trim())) throw Errors.parse(what, raw, 'expecting a non-negative integer');
  return Number(raw.trim());
}

/** `Prefer: return=representation, count=exact` (several headers are joined with ','). */
export function parsePrefer(raw: string | undefined): Preferences {
  const prefer: Preferences = { applied: [] };
  for (const part of (raw ?? '').split(',')) {
    const [k, v] = part.split('=').map((s) => s.trim());
    if (k === 'count' && (v === 'exact' || v === 'planned' || v === 'estimated')) prefer.count = v;
    else if (k === 'return' && (v === 'minimal' || v === 'representation' || v === 'headers-only')) prefer.return = v;
    else if (k === 'resolution' && (v === 'merge-duplicates' || v === 'ignore-duplicates')) prefer.resolution = v;
    else if (k === 'missing' && (v === 'default' || v === 'null')) prefer.missing = v;
    else continue; // PostgREST ignores unknown preferences by default (handling=lenient).
    prefer.applied.push(`${k}=${v}`);
  }
  return prefer;
}

/** True for the single-object media type; throws PGRST107 for an Accept we can't produce at all. */
export function parseAccept(raw: string | undefined): boolean {
  if (!raw || !raw.trim()) return false;
  const types = raw.split(',').map((t) => t.split(';')[0].trim().toLowerCase());
  if (types.some((t) => t === 'application/vnd.pgrst.object+json' || t === 'application/vnd.pgrst.object')) return true;
  if (types.some((t) => t === 'application/json' || t === '*/*' || t === 'application/*' || t === '')) return false;
  throw Errors.mediaType(raw);
}

/** `Range: 0-9` / `Range: 10-` (items). Unparseable ranges are ignored, as PostgREST does. */
export function parseRange(raw: string | undefined): { offset: number; limit?: number } | undefined {
  if (!raw) return undefined;
  const m = /^\s*(?:items=)?(\d{1,15})-(\d{0,15})\s*$/.exec(raw);
  if (!m) return undefined;
  const lower = Number(m[1]);
  if (m[2] === '') return { offset: lower };
  const upper = Number(m[2]);
  if (upper < lower) throw Errors.range(`The lower boundary (${lower}) is greater than the upper boundary (${upper}).`);
  return { offset: lower, limit: upper - lower + 1 };
}

// `or`, `not.or`, `embed.or`, `a.b.not.and`. The prefix group is lazy-optional so `not.or` isn't read as embed "not".
const LOGIC_KEY = /^(?:(.*?)\.)??(not\.)?(and|or)$/;

/** Parses query parameters and headers into a ParsedRequest. Pure: no catalog, no policy. */
export function parseRequest(input: RequestInput, limits: PostgrestLimits): ParsedRequest {
  const params = entries(input.query);
  const size = params.reduce((n, [k, v]) => n + k.length + v.length + 2, 0);
  if (size > limits.maxQueryLength) throw Errors.limit(`query string is longer than ${limits.maxQueryLength} characters`);

  const budget = new FilterBudget(limits);
  const req: ParsedRequest = {
    select: null,
    filters: [],
    order: new Map(),
    limit: new Map(),
    offset: new Map(),
    prefer: parsePrefer(header(input.headers, 'prefer')),
    single: parseAccept(header(input.headers, 'accept')),
    range: parseRange(header(input.headers, 'range')),
  };

  for (const [key, value] of params) {
    if (key === 'select') req.select = parseSelect(value, limits);
    else if (key === 'on_conflict') req.onConflict = columnList('on_conflict', value);
    else if (key === 'columns') req.columns = columnList('columns', value);
    else {
      const logic = LOGIC_KEY.exec(key);
      if (logic) {
        const path = logic[1] ? logic[1].split('.') : [];
        req.filters.push({ path, node: parseLogicValue(logic[3] as 'and' | 'or', logic[2] !== undefined, value, limits, budget) });
        continue;
      }
      const segments = key.split('.');
      const last = segments.pop() as string;
      const scope = segments.join('.');
      if (last === 'order') req.order.set(scope, parseOrder(value, limits.maxSelectItems));
      else if (last === 'limit') req.limit.set(scope, nonNegativeInt('limit', value));
      else if (last === 'offset') req.offset.set(scope, nonNegativeInt('offset', value));
      else req.filters.push({ path: segments, node: parseFilterValue(parseFieldKey(last), value, limits, budget) });
    }
  }
  return req;
}

/** `a,b,"c d"` for on_conflict and columns. */
function columnList(what: string, raw: string): string[] {
  const out: string[] = [];
  for (const part of raw.split(',')) {
    const name = part.trim().replace(/^"(.*)"$/, '$1');
    if (!name) throw Errors.parse(what, raw, 'empty column name');
    out.push(name);
  }
  return out;
}
