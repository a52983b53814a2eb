import { CountMode, ParsedRequest } from './parse-request';
import { BuildContext, Resolver, Scope } from './resolver';
import { SqlQuery, and, ident } from './sql';

/**
 * A read statement. It returns exactly one row `{ body, n, total }`: `body` is the JSON text of the rows (or of the
 * first row when `single`), `n` the number of rows in it, `total` the count asked for with `Prefer: count=…`.
 */
export interface ReadPlan extends SqlQuery {
  kind: 'read';
  table: string;
  single: boolean;
  count?: CountMode;
  offset: number;
  limit: number;
  preferenceApplied: string[];
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

/** `coalesce(json_agg(j), '[]')` or, for a single object, the first element. */
export function aggregateBody(rowsAlias: string, single: boolean): string {
  return single ? `(json_agg(${rowsAlias}.j) -> 0)::text` : `coalesce(json_agg(${rowsAlias}.j), '[]'::json)::text`;
}

/** The projection of the root table's rows from `source` (a table or a CTE of written rows). */
export function projectRows(r: Resolver, scope: Scope, source: string, extraWhere: string[], tail: string): string {
  const items = r.req.select ?? [{ kind: 'star' as const }];
  const { json, inner } = r.projection(scope, items, '');
  const where = and([...extraWhere, ...inner]);
  r.checkEmbedPaths();
  return `SELECT ${json} AS j FROM ${source} AS ${scope.alias} WHERE ${where}${tail}`;
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
  const { json, inner } = r.projection(scope, items, '');
  r.checkEmbedPaths();
  const filtered = `FROM ${source} AS ${scope.alias} WHERE ${and([...where, ...inner])}`;
  const tail = `${r.order(scope, req.order.get(''))} LIMIT ${r.params.add(String(limit), 'int8')} OFFSET ${r.params.add(String(offset), 'int8')}`;
  const rows = `SELECT ${json} AS j ${filtered}${tail}`;
  const total = countSql(r, req.prefer.count, filtered, table.name);
  const text = `SELECT ${aggregateBody('_p', req.single)} AS body, count(_p.j)::int AS n, ${total} AS total FROM (${rows}) AS _p`;
  return {
    kind: 'read',
    table: table.name,
    text,
    values: r.params.values,
    single: req.single,
    count: req.prefer.count,
    offset,
    limit,
    preferenceApplied: req.prefer.applied,
  };
}

/**
 * exact: count(*) of the filtered rows. planned: the planner's row estimate for the table (ignores filters; cheap).
 * estimated: exact up to maxRows, the planner's estimate beyond, like PostgREST.
 */
export function countSql(r: Resolver, mode: CountMode | undefined, filtered: string, tableName: string): string {
  if (!mode) return 'NULL::int8';
  const exact = `(SELECT count(*) ${filtered})`;
  if (mode === 'exact') return exact;
  // The relation name is a bound value resolved by to_regclass, so it never becomes SQL text.
  const reg = r.params.add(`${ident(r.ctx.catalog.schema)}.${ident(tableName)}`, 'text');
  const planned = `(SELECT greatest(reltuples, 0)::int8 FROM pg_catalog.pg_class WHERE oid = to_regclass(${reg}))`;
  if (mode === 'planned') return `coalesce(${planned}, 0)`;
  const max = r.params.add(String(r.limits.maxRows), 'int8');
  const capped = `(SELECT count(*) FROM (SELECT 1 ${filtered} LIMIT ${max} + 1) AS _c)`;
  return `(CASE WHEN ${capped} > ${max} THEN greatest(coalesce(${planned}, 0), ${capped}) ELSE ${capped} END)`;
}
