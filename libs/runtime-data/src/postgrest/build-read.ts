import { CountMode, MediaChoice, ParsedRequest, preferenceApplied } from './parse-request';
import { BuildContext, Resolver, Scope } from './resolver';
import { SqlQuery, and } from './sql';

/**
 * A read statement. It returns exactly one row `{ body, n, total }`: `body` is the JSON text of the rows (or of the
 * first row when `single`), `n` the number of rows in it, `total` the count asked for with `Prefer: count=…`
 * (exact, or for `estimated` exact up to maxRows + 1; null for `planned`, which comes from `estimate`).
 */
export interface ReadPlan extends SqlQuery {
  kind: 'read';
  table: string;
  single: boolean;
  media: MediaChoice;
  count?: CountMode;
  offset: number;
  limit: number;
  preferenceApplied: string[];
  /**
   * For `count=planned|estimated`: `EXPLAIN (FORMAT JSON)` of the same rows (rules, filters, `!inner` embeds; no
   * page), whose top node's row estimate is the planned count. Run as the caller's role, like the read.
   */
  estimate?: SqlQuery;
  /** The threshold of `count=estimated`: a total above it is replaced by the planned count (when larger). */
  maxRows: number;
}

/** The page after intersecting limit/offset with the Range header and clamping to maxRows. */
export function page(req: ParsedRequest, maxRows: number): { offset: number; limit: number } {
  let offset = req.offset.get('') ?? 0;
  let end = req.limit.has('') ? offset + (req.limit.get('') as number) : Infinity;
  if (req.range) {
    const rEnd = req.range.limit === undefined ? Infinity : req.range.offset + req.range.limit;
    offset = Math.max(offset, req.range.offset);
    end = Math.min(end, rEnd);
  }
  const limit = Math.max(0, Math.min(end - offset, maxRows));
  return { offset, limit };
}

/** `coalesce(json_agg(j), '[]')` or, for a single object, the first element; `nulls=stripped` drops null keys. */
export function aggregateBody(rowsAlias: string, single: boolean, stripNulls = false): string {
  const j = stripNulls ? `json_strip_nulls(${rowsAlias}.j)` : `${rowsAlias}.j`;
  return single ? `(json_agg(${j}) -> 0)::text` : `coalesce(json_agg(${j}), '[]'::json)::text`;
}

/** The projection of the root table's rows from `source` (a table or a CTE of written rows). */
export function projectRows(r: Resolver, scope: Scope, source: string, extraWhere: string[], tail: string): string {
  const items = r.req.select ?? [{ kind: 'star' as const }];
  const { json, inner, groupBy } = r.projection(scope, items, '');
  const where = and([...extraWhere, ...inner]);
  r.checkEmbedPaths();
  return `SELECT ${json} AS j FROM ${source} AS ${scope.alias} WHERE ${where}${groupBy}${tail}`;
}

/** Builds the read of `tableName`: select, filters, order, page, embeds, policy and count in one statement. */
export function buildRead(ctx: BuildContext, tableName: string, req: ParsedRequest): ReadPlan {
  const r = new Resolver(ctx, req);
  const table = r.table(tableName);
  const scope = r.scope(table);
  const { offset, limit } = page(req, r.limits.maxRows);
  const source = r.qualified(table);
  const where = r.conditions(scope, '');
  const items = req.select ?? [{ kind: 'star' as const }];
  const { json, inner, groupBy, aggregated } = r.projection(scope, items, '');
  r.checkEmbedPaths();
  const filtered = `FROM ${source} AS ${scope.alias} WHERE ${and([...where, ...inner])}`;
  // Every parameter so far appears in the projection or the WHERE, so the EXPLAIN text binds exactly these values.
  const estimate =
    req.prefer.count === 'planned' || req.prefer.count === 'estimated'
      ? { text: `EXPLAIN (FORMAT JSON) SELECT ${json} AS j ${filtered}${groupBy}`, values: [...r.params.values] }
      : undefined;
  const tail = `${r.order(scope, req.order.get(''))} LIMIT ${r.params.add(String(limit), 'int8')} OFFSET ${r.params.add(String(offset), 'int8')}`;
  const rows = `SELECT ${json} AS j ${filtered}${groupBy}${tail}`;
  // With aggregates the answer's rows are groups: counted as such.
  const total = countSql(r, req.prefer.count, aggregated ? `FROM (SELECT 1 ${filtered}${groupBy || " HAVING TRUE"}) AS _g` : filtered);
  const text = `SELECT ${aggregateBody('_p', req.single, req.media.stripNulls)} AS body, count(_p.j)::int AS n, ${total} AS total FROM (${rows}) AS _p`;
  return {
    kind: 'read',
    table: table.name,
    text,
    values: r.params.values,
    single: req.single,
    media: req.media,
    count: req.prefer.count,
    offset,
    limit,
    preferenceApplied: preferenceApplied(req.prefer, 'read', { txAllowed: ctx.txAllowed ?? false }),
    estimate,
    maxRows: r.limits.maxRows,
  };
}

/**
 * exact: count(*) of the filtered rows. planned: none here, the EXPLAIN of {@link ReadPlan.estimate} gives it.
 * estimated: exact up to maxRows + 1; beyond that the planned count replaces it (see estimatedTotal), like PostgREST.
 * Never the table's own statistics (pg_class.reltuples): they count rows the caller's rules hide.
 */
export function countSql(r: Resolver, mode: CountMode | undefined, filtered: string): string {
  if (!mode || mode === 'planned') return 'NULL::int8';
  if (mode === 'exact') return `(SELECT count(*) ${filtered})`;
  const max = r.params.add(String(r.limits.maxRows), 'int8');
  return `(SELECT count(*) FROM (SELECT 1 ${filtered} LIMIT ${max} + 1) AS _c)`;
}

/** Whether the read's total still needs the planner's estimate: always for planned, above maxRows for estimated. */
export function needsEstimate(plan: ReadPlan, total: number | null): boolean {
  if (!plan.estimate) return false;
  return plan.count === 'planned' || (total !== null && total > plan.maxRows);
}

/**
 * The total from the EXPLAIN's answer (one row, column "QUERY PLAN", a JSON array of one plan): the top node's
 * "Plan Rows". For estimated, never below the capped exact count (which proved there are more than maxRows).
 */
export function estimatedTotal(plan: ReadPlan, explain: unknown, total: number | null): number {
  const doc = typeof explain === 'string' ? (JSON.parse(explain) as unknown) : explain;
  const rows = Array.isArray(doc) ? (doc[0] as { Plan?: { 'Plan Rows'?: unknown } } | undefined)?.Plan?.['Plan Rows'] : undefined;
  const planned = typeof rows === 'number' && Number.isFinite(rows) ? Math.max(0, Math.round(rows)) : 0;
  return plan.count === 'estimated' && total !== null ? Math.max(planned, total) : planned;
}
