import { ColumnDef, TableDef, TablePolicy, findColumn, policyAllowsColumn } from './catalog';
import { aggregateBody, projectRows } from './build-read';
import { POLICY_VIOLATION_MARKER } from './map-pg-error';
import { CountMode, MediaChoice, ParsedRequest, ReturnMode, preferenceApplied } from './parse-request';
import { policyRowsSql } from './policy-sql';
import { Errors, PostgrestError, echo } from './postgrest.error';
import { BuildContext, Resolver, Scope } from './resolver';
import { SqlQuery, and, ident, or, sqlType } from './sql';

/**
 * A write statement. It returns exactly one row `{ body, n, guard, inserted }`: `body` is the JSON text of the written
 * rows the caller may read (null unless return=representation), `n` the number of rows written, `inserted` for an
 * upsert how many of them were new (null otherwise). If any written row breaks
 * the create/update policy the statement itself fails (see POLICY_VIOLATION_MARKER), so nothing is written;
 * `guard` is 0 otherwise.
 */
export interface WritePlan extends SqlQuery {
  kind: 'insert' | 'update' | 'delete';
  table: string;
  upsert: boolean;
  single: boolean;
  media: MediaChoice;
  returning: ReturnMode;
  /** `Prefer: handling=strict, max-affected=N` on a PATCH/DELETE: more rows written is PGRST124 (rolled back). */
  maxAffected?: number;
  count?: CountMode;
  /** Whether the caller sent any filter on the table itself; callers refuse filterless PATCH/DELETE. */
  hasFilters: boolean;
  preferenceApplied: string[];
}

type JsonObject = Record<string, unknown>;

const MUT = 'pgrst_mut';

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A policy for an action, or 42501 when the action is denied outright. */
function actionPolicy(r: Resolver, table: TableDef, action: 'create' | 'update' | 'delete'): TablePolicy {
  const p = r.ctx.policy(table.name, action);
  if (p.rows === 'none') throw Errors.permission(table.name, r.anonymous);
  return p;
}

/**
 * A column the caller may write. Unknown columns (and ones no policy of the caller mentions) are PGRST204, so hidden
 * columns stay hidden; a column the caller may read or write in another action is 42501, as column privileges say.
 */
function writableColumn(r: Resolver, table: TableDef, policy: TablePolicy, name: string): ColumnDef {
  const col = findColumn(table, name);
  if (col?.generated && policyAllowsColumn(r.ctx.policy(table.name, 'read'), name)) {
    throw new PostgrestError(400, '428C9', `cannot insert a non-DEFAULT value into column "${name}"`, `Column "${name}" is a generated column.`);
  }
  if (col && policyAllowsColumn(policy, name)) return col;
  const known = (['read', 'create', 'update'] as const).some((a) => {
    const p = r.ctx.policy(table.name, a);
    return p.rows !== 'none' && policyAllowsColumn(p, name);
  });
  if (col && known) throw Errors.permission(table.name, r.anonymous);
  throw Errors.unknownBodyColumn(name, table.name);
}

/** A name for the "was inserted" flag that can't collide with one of the table's columns. */
function freshName(table: TableDef, base: string): string {
  let name = base;
  while (findColumn(table, name)) name += '_';
  return name;
}

function rootFilterCount(req: ParsedRequest): number {
  return req.filters.filter((f) => f.path.length === 0).length;
}

/**
 * The final SELECT over the written rows: representation body (only rows and columns the caller may read), count,
 * and the guard that raises when `bad` rows exist (or, for merge upserts, when some row was skipped).
 */
function finish(
  r: Resolver,
  table: TableDef,
  ctes: string[],
  check: { alias: string; bad: string | null; expectedRows: string | null; insertedFlag?: string },
  plan: Omit<WritePlan, 'text' | 'values'>,
): WritePlan {
  let body = 'NULL::text';
  if (plan.returning === 'representation') {
    const scope = r.scope(table);
    const readRows = policyRowsSql(table, scope.alias, scope.read.rows, r.params);
    const rows = projectRows(r, scope, MUT, readRows ? [readRows] : [], '');
    body = `(SELECT ${aggregateBody('_p', plan.single, plan.media.stripNulls)} FROM (${rows}) AS _p)`;
  } else {
    r.checkEmbedPaths();
  }
  const badCount = check.bad ? `count(*) FILTER (WHERE ${check.bad})` : '0';
  const tripped = check.expectedRows ? `v.bad > 0 OR v.n <> ${check.expectedRows}` : 'v.bad > 0';
  // A failing cast of a non-constant string aborts the statement, and with it every write in the CTEs above.
  const guard = `CASE WHEN ${tripped} THEN ('${POLICY_VIOLATION_MARKER} ' || v.bad)::int ELSE 0 END`;
  const inserted = check.insertedFlag ? `count(*) FILTER (WHERE ${check.alias}.${ident(check.insertedFlag)})::int` : 'NULL::int';
  const text = `WITH ${ctes.join(', ')} SELECT ${body} AS body, v.n AS n, ${guard} AS guard, v.inserted AS inserted FROM (SELECT count(*)::int AS n, ${badCount} AS bad, ${inserted} AS inserted FROM ${MUT} AS ${check.alias}) AS v`;
  return { ...plan, text, values: r.params.values };
}

/** `(cond) IS NOT TRUE` over the written rows; a NULL (unknown) condition counts as a violation. */
function violation(r: Resolver, table: TableDef, alias: string, rows: TablePolicy['rows']): string | null {
  const cond = policyRowsSql(table, alias, rows, r.params);
  return cond ? `(${cond}) IS NOT TRUE` : null;
}

/** The body as a list of objects (one object is a list of one). */
function bodyRows(body: unknown, maxRows: number, maxDepth: number): JsonObject[] {
  const rows = Array.isArray(body) ? body : [body];
  if (!rows.every(isObject)) throw Errors.body('Empty or invalid json', 'The body must be a JSON object or an array of objects');
  if (rows.length > maxRows) throw Errors.limit(`an insert may hold at most ${maxRows} rows`);
  for (const row of rows) checkDepth(row, maxDepth);
  return rows;
}

/**
 * Refuses a row with a value nested deeper than `maxDepth` (`[[1]]` is 2) before anything serialises it:
 * JSON.stringify recurses and overflows the stack at a few thousand levels, a 500 for a client's mistake. The walk
 * is iterative so that the check can't overflow itself. Every key is checked, listed columns or not.
 */
function checkDepth(row: JsonObject, maxDepth: number): void {
  for (const [key, value] of Object.entries(row)) {
    const stack: Array<{ v: object; depth: number }> = [];
    if (typeof value === 'object' && value !== null) stack.push({ v: value, depth: 1 });
    while (stack.length > 0) {
      const { v, depth } = stack.pop() as { v: object; depth: number };
      if (depth > maxDepth) {
        throw Errors.body(`The value of '${echo(key)}' is nested deeper than ${maxDepth} levels`, 'JSON arrays and objects may be nested at most that deep');
      }
      for (const child of Array.isArray(v) ? v : Object.values(v)) {
        if (typeof child === 'object' && child !== null) stack.push({ v: child as object, depth: depth + 1 });
      }
    }
  }
}

/**
 * INSERT (and upsert with `Prefer: resolution=…`) of one object or an array in one statement. Rows travel as one
 * JSON parameter read with json_to_recordset, typed by the catalog. Keys outside the column set are ignored;
 * columns in the set but missing from a row are NULL, or DEFAULT with `Prefer: missing=default`.
 */
export function buildInsert(ctx: BuildContext, tableName: string, req: ParsedRequest, body: unknown): WritePlan {
  const r = new Resolver(ctx, req);
  const table = r.table(tableName);
  const create = actionPolicy(r, table, 'create');
  const rows = bodyRows(body, r.limits.maxBodyRows, r.limits.maxJsonDepth);
  const names = req.columns ?? keysOf(rows);
  const columns = names.map((n) => writableColumn(r, table, create, n));

  // A plain insert's text depends only on the table, the column names and the create rule: built once per shape.
  const plain = isPlainInsert(req, rows);
  const key = plain ? names.join('\u0000') : '';
  if (plain) {
    const hit = PLAIN_INSERTS.get(table)?.get(key);
    if (hit && hit.schema === ctx.catalog.schema && hit.createRows === create.rows) {
      // What finish() checks for a non-representation write.
      r.checkEmbedPaths();
      return { ...insertFields(ctx, table, false, req), text: hit.text, values: [JSON.stringify(recordsOf(rows, columns)), ...hit.ruleValues] };
    }
  }

  const upsert = req.prefer.resolution !== undefined;
  const merge = req.prefer.resolution === 'merge-duplicates';
  const update = merge ? actionPolicy(r, table, 'update') : null;
  const conflict = upsert ? onConflict(table, req.onConflict) : '';
  const inserted = freshName(table, 'pgrst_inserted');
  let onConflictSql = '';
  if (upsert && !merge) onConflictSql = ` ON CONFLICT (${conflict}) DO NOTHING`;
  if (merge && update) {
    const target = req.onConflict ?? table.primaryKey;
    let set = columns.filter((c) => !target.includes(c.name));
    set.forEach((c) => writableColumn(r, table, update, c.name));
    // Nothing but the key was sent: "update" the key to itself so the row still comes back as upserted.
    if (set.length === 0) set = target.map((n) => findColumn(table, n) as ColumnDef);
    const existing = rows.length ? policyRowsSql(table, 't_conflict', update.rows, r.params) : null;
    onConflictSql = ` ON CONFLICT (${conflict}) DO UPDATE SET ${set.map((c) => `${ident(c.name)} = EXCLUDED.${ident(c.name)}`).join(', ')}${existing ? ` WHERE ${existing}` : ''}`;
  }
  const returning = ` RETURNING t_conflict.*${upsert ? `, (t_conflict.xmax = 0) AS ${ident(inserted)}` : ''}`;
  const into = `INSERT INTO ${r.qualified(table)} AS t_conflict`;

  const ctes: string[] = [];
  if (req.prefer.missing === 'default' && rows.length > 0 && columns.length > 0) {
    ctes.push(`${into} (${columns.map((c) => ident(c.name)).join(', ')}) ${withDefaults(r, rows, columns)}${onConflictSql}${returning}`);
  } else if (rows.length > 0 && columns.length === 0) {
    for (let i = 0; i < rows.length; i++) ctes.push(`${into} DEFAULT VALUES${onConflictSql}${returning}`);
  } else if (rows.length > 0) {
    const cols = columns.map((c) => ident(c.name)).join(', ');
    const recordType = columns.map((c) => `${ident(c.name)} ${sqlType(c.type)}`).join(', ');
    const src = `SELECT ${columns.map((c) => `r.${ident(c.name)}`).join(', ')} FROM json_to_recordset(${r.params.add(JSON.stringify(recordsOf(rows, columns)), 'json')}) AS r(${recordType})`;
    ctes.push(`${into} (${cols}) ${src}${onConflictSql}${returning}`);
  }
  const named = ctes.length === 1 ? [`${MUT} AS (${ctes[0]})`] : [...ctes.map((c, i) => `${MUT}_${i} AS (${c})`), `${MUT} AS (${ctes.map((_, i) => `SELECT * FROM ${MUT}_${i}`).join(' UNION ALL ')})`];
  // An empty body writes nothing; the flag column is still there for the count of inserted rows.
  if (rows.length === 0) named.splice(0, named.length, `${MUT} AS (SELECT *${merge ? `, FALSE AS ${ident(inserted)}` : ''} FROM ${r.qualified(table)} WHERE FALSE)`);

  const alias = r.nextAlias();
  // Nothing to check for an empty body (and no parameter may be left unused: PostgreSQL couldn't type it).
  const createBad = rows.length ? violation(r, table, alias, create.rows) : null;
  const updateBad = update && rows.length ? violation(r, table, alias, update.rows) : null;
  let bad = createBad;
  if (upsert) {
    // Inserted rows answer to the create policy, updated ones to the update policy.
    const flag = `${alias}.${ident(inserted)}`;
    const parts = [createBad && `${flag} AND ${createBad}`, updateBad && `NOT ${flag} AND ${updateBad}`];
    bad = parts.some(Boolean) ? or(parts.filter((p): p is string => !!p)) : null;
  }
  // A merge must write every row; one missing means the existing row failed the update policy.
  const expectedRows = merge && rows.length > 0 ? r.params.add(String(rows.length), 'int4') : null;
  const plan = finish(r, table, named, { alias, bad, expectedRows, insertedFlag: merge ? inserted : undefined }, insertFields(ctx, table, upsert, req));
  // values[0] is the rows (the only parameter added before the rule's).
  if (plain) rememberPlainInsert(table, key, { schema: ctx.catalog.schema, createRows: create.rows, text: plan.text, ruleValues: plan.values.slice(1) });
  return plan;
}

function insertFields(ctx: BuildContext, table: TableDef, upsert: boolean, req: ParsedRequest): Omit<WritePlan, 'text' | 'values'> {
  const conflictTarget = table.primaryKey.length > 0 || req.onConflict !== undefined;
  return {
    kind: 'insert',
    table: table.name,
    upsert,
    single: req.single,
    media: req.media,
    returning: req.prefer.return ?? 'minimal',
    count: req.prefer.count,
    hasFilters: rootFilterCount(req) > 0,
    preferenceApplied: preferenceApplied(req.prefer, 'insert', { txAllowed: ctx.txAllowed ?? false, conflictTarget }),
  };
}

/** The fields of a PATCH/DELETE plan. */
function changeFields(ctx: BuildContext, kind: 'update' | 'delete', table: TableDef, req: ParsedRequest): Omit<WritePlan, 'text' | 'values'> {
  return {
    kind,
    table: table.name,
    upsert: false,
    single: req.single,
    media: req.media,
    returning: req.prefer.return ?? 'minimal',
    maxAffected: req.prefer.handling === 'strict' ? req.prefer.maxAffected : undefined,
    count: req.prefer.count,
    hasFilters: rootFilterCount(req) > 0,
    preferenceApplied: preferenceApplied(req.prefer, kind, { txAllowed: ctx.txAllowed ?? false }),
  };
}

/** A plain insert's text and the create rule's values, with what they were built from. */
interface PlainInsert {
  schema: string;
  createRows: TablePolicy['rows'];
  text: string;
  ruleValues: unknown[];
}

/**
 * Plain inserts per table (a compiled catalog's TableDef, so a catalog change starts afresh) and column names. An
 * entry is used only with the same create rule object: the anonymous policy is kept per catalog, an end user's is
 * built per request (its values may be the user's), so those rebuild.
 */
const PLAIN_INSERTS = new WeakMap<TableDef, Map<string, PlainInsert>>();
const PLAIN_INSERTS_PER_TABLE = 64;

function rememberPlainInsert(table: TableDef, key: string, entry: PlainInsert): void {
  let byKey = PLAIN_INSERTS.get(table);
  if (!byKey) PLAIN_INSERTS.set(table, (byKey = new Map()));
  if (byKey.size >= PLAIN_INSERTS_PER_TABLE && !byKey.has(key)) byKey.clear();
  byKey.set(key, entry);
}

/**
 * No upsert, no per-row DEFAULT grouping, no representation (whose text depends on select and the read rule), and
 * some rows: then the statement's text and its values other than the rows are a function of the table, the column
 * names and the create rule alone.
 */
function isPlainInsert(req: ParsedRequest, rows: JsonObject[]): boolean {
  return rows.length > 0 && req.prefer.resolution === undefined && req.prefer.missing !== 'default' && req.prefer.return !== 'representation';
}

/**
 * `Prefer: missing=default` as PostgREST runs it: one INSERT over the body's elements in order, where every column
 * with a default has its default evaluated for every row (so an identity column's sequence advances once per row,
 * key sent or not, and ids match what the same request gives on PostgREST) and used where the row lacks the key.
 */
function withDefaults(r: Resolver, rows: JsonObject[], columns: ColumnDef[]): string {
  const recordType = columns.map((c) => `${ident(c.name)} ${sqlType(c.type)}`).join(', ');
  const laterals: string[] = [];
  const exprs = columns.map((c, i) => {
    const value = `r.${ident(c.name)}`;
    if (!c.defaultSql) return value;
    // Correlated to the element, so a volatile default (nextval, gen_random_uuid) runs once per row, not once.
    laterals.push(`CROSS JOIN LATERAL (SELECT ${c.defaultSql} AS v WHERE e.i IS NOT NULL) AS d${i}`);
    return `CASE WHEN e.elem ? ${r.params.add(c.name, 'text')} THEN ${value} ELSE d${i}.v END`;
  });
  const data = r.params.add(JSON.stringify(rows.map((row) => Object.fromEntries(columns.filter((c) => Object.prototype.hasOwnProperty.call(row, c.name)).map((c) => [c.name, row[c.name]])))), 'jsonb');
  return `SELECT ${exprs.join(', ')} FROM jsonb_array_elements(${data}) WITH ORDINALITY AS e(elem, i) CROSS JOIN LATERAL jsonb_to_record(e.elem) AS r(${recordType}) ${laterals.join(' ')} ORDER BY e.i`;
}

/** The keys of all rows, in first-seen order. */
function keysOf(rows: JsonObject[]): string[] {
  if (rows.length === 1) return Object.keys(rows[0]);
  const seen = new Set<string>();
  for (const row of rows) for (const k of Object.keys(row)) seen.add(k);
  return [...seen];
}

/** The rows as json_to_recordset reads them: exactly the columns, in order, missing ones null. */
function recordsOf(rows: JsonObject[], columns: ColumnDef[]): JsonObject[] {
  return rows.map((row) => Object.fromEntries(columns.map((c) => [c.name, row[c.name] ?? null])));
}

/** The conflict target: on_conflict or the primary key, and it must be the primary key or a unique key (42P10). */
function onConflict(table: TableDef, requested: string[] | undefined): string {
  const target = requested ?? table.primaryKey;
  for (const n of target) if (!findColumn(table, n)) throw Errors.unknownColumn(table.name, n);
  const same = (k: string[]): boolean => k.length === target.length && k.every((c) => target.includes(c));
  if (target.length === 0 || !(same(table.primaryKey) || table.uniques.some(same))) throw Errors.noConflictTarget();
  return target.map(ident).join(', ');
}

/**
 * The WHERE of an UPDATE/DELETE: the caller's filters and, when filters or a representation could reveal rows,
 * the read policy (as PostgreSQL's RLS applies SELECT policies then), plus the action's own policy on the existing row.
 */
function targetWhere(r: Resolver, table: TableDef, scope: Scope, actionRows: TablePolicy['rows'], req: ParsedRequest): string {
  if (req.limit.has('') || req.offset.has('') || req.order.has('')) {
    throw Errors.limit('limit, offset and order are not supported on PATCH and DELETE');
  }
  const conds = rootFilterCount(req) > 0 || req.prefer.return === 'representation' ? r.conditions(scope, '') : [];
  const own = policyRowsSql(table, scope.alias, actionRows, r.params);
  return and(own ? [...conds, own] : conds);
}

/** A scope for the target table: with the read policy when it will be needed, else one that allows no column. */
function targetScope(r: Resolver, table: TableDef, req: ParsedRequest): Scope {
  if (rootFilterCount(req) > 0 || req.prefer.return === 'representation') return r.scope(table);
  return { table, alias: r.nextAlias(), read: { rows: 'all', columns: [] } };
}

/** PATCH: one object of new values, applied to the rows the filters and the update policy select. */
export function buildUpdate(ctx: BuildContext, tableName: string, req: ParsedRequest, body: unknown): WritePlan {
  const r = new Resolver(ctx, req);
  const table = r.table(tableName);
  const update = actionPolicy(r, table, 'update');
  if (!isObject(body)) throw Errors.body('Empty or invalid json', 'PATCH needs a single JSON object');
  checkDepth(body, r.limits.maxJsonDepth);
  const columns = Object.keys(body).map((n) => writableColumn(r, table, update, n));
  const scope = targetScope(r, table, req);
  const where = targetWhere(r, table, scope, update.rows, req);
  let cte: string;
  if (columns.length === 0) {
    // PostgREST answers an empty PATCH without touching anything. The WHERE stays (under FALSE) so that every
    // parameter it bound is used and typed.
    cte = `${MUT} AS (SELECT ${scope.alias}.* FROM ${r.qualified(table)} AS ${scope.alias} WHERE FALSE AND ${where})`;
  } else {
    const recordType = columns.map((c) => `${ident(c.name)} ${sqlType(c.type)}`).join(', ');
    const set = columns.map((c) => `${ident(c.name)} = r.${ident(c.name)}`).join(', ');
    const src = `json_to_record(${r.params.add(JSON.stringify(body), 'json')}) AS r(${recordType})`;
    cte = `${MUT} AS (UPDATE ${r.qualified(table)} AS ${scope.alias} SET ${set} FROM ${src} WHERE ${where} RETURNING ${scope.alias}.*)`;
  }
  const alias = r.nextAlias();
  return finish(r, table, [cte], { alias, bad: violation(r, table, alias, update.rows), expectedRows: null }, changeFields(ctx, 'update', table, req));
}

/** DELETE of the rows the filters and the delete policy select. */
export function buildDelete(ctx: BuildContext, tableName: string, req: ParsedRequest): WritePlan {
  const r = new Resolver(ctx, req);
  const table = r.table(tableName);
  const del = actionPolicy(r, table, 'delete');
  const scope = targetScope(r, table, req);
  const where = targetWhere(r, table, scope, del.rows, req);
  const cte = `${MUT} AS (DELETE FROM ${r.qualified(table)} AS ${scope.alias} WHERE ${where} RETURNING ${scope.alias}.*)`;
  return finish(r, table, [cte], { alias: r.nextAlias(), bad: null, expectedRows: null }, changeFields(ctx, 'delete', table, req));
}
