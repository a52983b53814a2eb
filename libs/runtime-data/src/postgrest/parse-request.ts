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
  /** `handling=strict`: unknown preferences are refused (PGRST122) and `max-affected` is enforced. */
  handling?: 'strict' | 'lenient';
  /** `max-affected=N`: with handling=strict, a PATCH/DELETE touching more rows fails (PGRST124) and rolls back. */
  maxAffected?: number;
  /** `tx=commit|rollback`; honoured only where the project allows it (see {@link preferenceApplied}). */
  tx?: 'commit' | 'rollback';
  /** Preferences we don't know, as sent (refused with handling=strict, ignored otherwise). */
  invalid: string[];
}

/** What a request does, for the preferences that apply to some requests only. */
export type RequestKind = 'read' | 'insert' | 'update' | 'delete';

/**
 * `Preference-Applied` as PostgREST computes it: resolution on inserts into a table with a conflict target,
 * missing on inserts/updates, return on writes, count always, tx where allowed, handling, and max-affected on
 * updates/deletes under handling=strict; in that order.
 */
export function preferenceApplied(p: Preferences, kind: RequestKind, opts: { txAllowed: boolean; conflictTarget?: boolean }): string[] {
  const out: string[] = [];
  const write = kind !== 'read';
  if (p.resolution && kind === 'insert' && opts.conflictTarget) out.push(`resolution=${p.resolution}`);
  if (p.missing && (kind === 'insert' || kind === 'update')) out.push(`missing=${p.missing}`);
  if (p.return && write) out.push(`return=${p.return}`);
  if (p.count) out.push(`count=${p.count}`);
  if (p.tx && opts.txAllowed) out.push(`tx=${p.tx}`);
  if (p.handling) out.push(`handling=${p.handling}`);
  if (p.handling === 'strict' && p.maxAffected !== undefined && (kind === 'update' || kind === 'delete')) out.push(`max-affected=${p.maxAffected}`);
  return out;
}

/** What the caller asked the answer to be (Accept). */
export interface MediaChoice {
  kind: 'json' | 'object' | 'csv' | 'plan';
  /** `nulls=stripped` on the array or object media type. */
  stripNulls: boolean;
  /** For plan: `application/vnd.pgrst.plan+text` rather than JSON. */
  planText?: boolean;
  /** For plan: `options=analyze|verbose|settings|buffers|wal`, as EXPLAIN options (known words only). */
  planOptions?: PlanOption[];
}

export const PLAN_OPTIONS = ['analyze', 'verbose', 'settings', 'buffers', 'wal'] as const;
export type PlanOption = (typeof PLAN_OPTIONS)[number];

/** The `options=a|b` parameter of a plan media type; unknown words are 406 like an unknown media type. */
function planOptions(params: string[], raw: string): PlanOption[] {
  const opt = params.find((p) => p.startsWith('options='));
  if (!opt) return [];
  const words = opt.slice('options='.length).replace(/^"|"$/g, '').split('|').map((w) => w.trim()).filter(Boolean);
  if (!words.every((w) => (PLAN_OPTIONS as readonly string[]).includes(w))) throw Errors.mediaType(raw);
  return [...new Set(words)] as PlanOption[];
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
  /** The negotiated media type (single is `media.kind === 'object'`). */
  media: MediaChoice;
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

/** A negative limit is PostgREST's 416 (PGRST103); anything else must be a non-negative integer. */
function limitValue(raw: string): number {
  if (/^-\d{1,15}$/.test(raw.trim())) throw Errors.range('Limit should be greater than or equal to zero.');
  return nonNegativeInt('limit', raw);
}

/** A negative offset is a no-op in PostgREST (the page starts at 0): undefined here. */
function offsetValue(raw: string): number | undefined {
  if (/^-\d{1,15}$/.test(raw.trim())) return undefined;
  return nonNegativeInt('offset', raw);
}

/** `Prefer: return=representation, count=exact` (several headers are joined with ','). */
export function parsePrefer(raw: string | undefined): Preferences {
  const prefer: Preferences = { invalid: [] };
  for (const part of (raw ?? '').split(',')) {
    const token = part.trim();
    if (!token) continue;
    const [k, v] = token.split('=').map((s) => s.trim());
    // The first occurrence of each preference wins, as in PostgREST.
    if (k === 'count' && (v === 'exact' || v === 'planned' || v === 'estimated')) prefer.count ??= v;
    else if (k === 'return' && (v === 'minimal' || v === 'representation' || v === 'headers-only')) prefer.return ??= v;
    else if (k === 'resolution' && (v === 'merge-duplicates' || v === 'ignore-duplicates')) prefer.resolution ??= v;
    else if (k === 'missing' && (v === 'default' || v === 'null')) prefer.missing ??= v;
    else if (k === 'handling' && (v === 'strict' || v === 'lenient')) prefer.handling ??= v;
    else if (k === 'tx' && (v === 'commit' || v === 'rollback')) prefer.tx ??= v;
    else if (k === 'max-affected' && /^\d{1,15}$/.test(v ?? '')) prefer.maxAffected ??= Number(v);
    else if (k === 'timezone' && v !== undefined) continue; // accepted, not applied (no per-request time zone here)
    else prefer.invalid.push(token.slice(0, 80));
  }
  return prefer;
}

/** True for the single-object media type; throws PGRST107 for an Accept we can't produce at all. */
export function parseAccept(raw: string | undefined): boolean {
  return parseMedia(raw).kind === 'object';
}

/**
 * The media type of the answer from Accept, the first one we can produce (in the client's order): JSON (also with
 * `nulls=stripped` as `application/vnd.pgrst.array+json`), the single object (optionally stripped), CSV, or the
 * plan (`application/vnd.pgrst.plan[+json|+text]`). Throws PGRST107 when none fits.
 */
export function parseMedia(raw: string | undefined): MediaChoice {
  if (!raw || !raw.trim()) return { kind: 'json', stripNulls: false };
  for (const entry of raw.split(',')) {
    const [type, ...params] = entry.split(';').map((t) => t.trim().toLowerCase());
    const stripped = params.some((p) => p.replace(/\s+/g, '') === 'nulls=stripped');
    if (type === 'application/vnd.pgrst.object+json' || type === 'application/vnd.pgrst.object') return { kind: 'object', stripNulls: stripped };
    if (type === 'application/vnd.pgrst.array+json' || type === 'application/vnd.pgrst.array') return { kind: 'json', stripNulls: stripped };
    if (type === 'application/json' || type === '*/*' || type === 'application/*' || type === '') return { kind: 'json', stripNulls: false };
    if (type === 'text/csv') return { kind: 'csv', stripNulls: false };
    if (type === 'application/vnd.pgrst.plan' || type === 'application/vnd.pgrst.plan+json') return { kind: 'plan', stripNulls: false, planOptions: planOptions(params, raw) };
    if (type === 'application/vnd.pgrst.plan+text') return { kind: 'plan', stripNulls: false, planText: true, planOptions: planOptions(params, raw) };
  }
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
  if (upper < lower) throw Errors.range('The lower boundary must be lower than or equal to the upper boundary in the Range header.');
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
    single: false,
    media: parseMedia(header(input.headers, 'accept')),
    range: parseRange(header(input.headers, 'range')),
  };
  req.single = req.media.kind === 'object';
  if (req.prefer.handling === 'strict' && req.prefer.invalid.length > 0) throw Errors.invalidPreferences(req.prefer.invalid);

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
      else if (last === 'limit') req.limit.set(scope, limitValue(value));
      else if (last === 'offset') {
        const offset = offsetValue(value);
        if (offset !== undefined) req.offset.set(scope, offset);
      }
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
