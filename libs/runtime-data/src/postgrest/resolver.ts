import { Catalog, ColumnDef, ForeignKeyDef, PolicyFn, TableDef, TablePolicy, findColumn, policyAllowsColumn } from './catalog';
import { TEXT_SEARCH_CONFIGS, checkValue, typeFamily } from './column-type';
import { FieldRef } from './cursor';
import { PostgrestLimits, withDefaults } from './limits';
import { FilterNode, Condition } from './parse-filter';
import { OrderTerm } from './parse-order';
import { ParsedRequest } from './parse-request';
import { EmbedItem, SelectItem } from './parse-select';
import { paramType, policyRowsSql } from './policy-sql';
import { Errors } from './postgrest.error';
import { SqlParams, and, ident, jsonObject, or, qualified } from './sql';

/** What every builder needs: the project's catalog, the caller's policy, and the server's limits. */
export interface BuildContext {
  catalog: Catalog;
  policy: PolicyFn;
  /** The caller has no user session: permission errors are 401 instead of 403 (PostgREST's rule). */
  anonymous?: boolean;
  limits?: Partial<PostgrestLimits>;
  /** The project lets `Prefer: tx=rollback|commit` decide how the transaction ends (off by default). */
  txAllowed?: boolean;
}

/** A table as it appears in one FROM clause of the statement. */
export interface Scope {
  table: TableDef;
  alias: string;
  /** The caller's read policy for this table (never 'none' here). */
  read: TablePolicy;
}

interface Relationship {
  fk: ForeignKeyDef;
  /** true when the parent holds the foreign key (many-to-one) or the child's key is unique (one-to-one). */
  toOne: boolean;
  /** true when the parent's columns are `fk.columns`. */
  parentHoldsKey: boolean;
}

/**
 * Turns parsed request parts into SQL fragments, checking every name against the catalog and the caller's policy.
 * One Resolver serves one statement: it owns the parameter list and hands out table aliases (t0, t1, …).
 */
export class Resolver {
  readonly limits: PostgrestLimits;
  readonly params = new SqlParams();
  private aliasSeq = 0;
  /** Embed paths that exist in `select`, to reject filters on anything else (PGRST108). */
  private readonly embedPaths = new Set<string>(['']);

  constructor(
    readonly ctx: BuildContext,
    readonly req: ParsedRequest,
  ) {
    this.limits = withDefaults(ctx.limits);
  }

  get anonymous(): boolean {
    return this.ctx.anonymous ?? false;
  }

  nextAlias(): string {
    return `t${this.aliasSeq++}`;
  }

  table(name: string): TableDef {
    const t = this.ctx.catalog.tables.get(name);
    if (!t) throw Errors.unknownTable(name);
    return t;
  }

  qualified(table: TableDef): string {
    return qualified(this.ctx.catalog.schema, table.name);
  }

  /** The read policy, or 42501 when the caller may not read the table at all. */
  readPolicy(table: TableDef): TablePolicy {
    const p = this.ctx.policy(table.name, 'read');
    if (p.rows === 'none') throw Errors.permission(table.name, this.anonymous);
    return p;
  }

  scope(table: TableDef): Scope {
    return { table, alias: this.nextAlias(), read: this.readPolicy(table) };
  }

  /** A column the caller may read; unknown and hidden columns get the same 42703 so hidden ones can't be probed. */
  readableColumn(scope: Scope, name: string): ColumnDef {
    const col = findColumn(scope.table, name);
    if (!col || !policyAllowsColumn(scope.read, name)) throw Errors.unknownColumn(scope.table.name, name);
    return col;
  }

  readableColumns(scope: Scope): ColumnDef[] {
    return scope.table.columns.filter((c) => policyAllowsColumn(scope.read, c.name));
  }

  column(scope: Scope, col: ColumnDef): string {
    return `${scope.alias}.${ident(col.name)}`;
  }

  /** SQL for `col` or `col->a->>b`, with the type of the result. JSON keys are bound parameters. */
  field(scope: Scope, f: FieldRef): { sql: string; type: string } {
    const col = this.readableColumn(scope, f.name);
    let sql = this.column(scope, col);
    if (f.path.length === 0) return { sql, type: col.type };
    if (typeFamily(col.type) !== 'json') throw Errors.undefinedOperator(f.path[0].arrow, col.type);
    // Plain json has no equality operator; paths work on jsonb.
    if (col.type.trim().toLowerCase() === 'json') sql = `${sql}::jsonb`;
    f.path.forEach((step, i) => {
      if (step.arrow === '->>' && i < f.path.length - 1) throw Errors.parse('field', f.name, '"->>" must be the last step of a JSON path');
      const key = typeof step.key === 'number' ? this.params.add(String(step.key), 'int4') : this.params.add(step.key, 'text');
      sql = `(${sql} ${step.arrow} ${key})`;
    });
    return { sql, type: f.path[f.path.length - 1].arrow === '->>' ? 'text' : 'jsonb' };
  }

  /** The policy's row condition plus the request's filters for one scope (root: path ''). */
  conditions(scope: Scope, pathKey: string): string[] {
    const out: string[] = [];
    const rows = policyRowsSql(scope.table, scope.alias, scope.read.rows, this.params);
    if (rows) out.push(rows);
    for (const f of this.req.filters) if (f.path.join('.') === pathKey) out.push(this.filter(scope, f.node));
    return out;
  }

  filter(scope: Scope, node: FilterNode): string {
    if (node.kind === 'logic') {
      const parts = node.children.map((c) => this.filter(scope, c));
      const sql = node.op === 'and' ? and(parts) : or(parts);
      return node.negate ? `NOT ${wrap(sql)}` : sql;
    }
    const sql = this.condition(scope, node);
    return node.negate ? `NOT ${wrap(sql)}` : sql;
  }

  private value(type: string, raw: string): string {
    checkValue(type, raw);
    return this.params.add(raw, paramType(type));
  }

  private condition(scope: Scope, c: Condition): string {
    const { sql: lhs, type } = this.field(scope, c.field);
    const family = typeFamily(type);
    if (c.quantifier) return this.quantified(lhs, type, c);
    const cmp: Record<string, string> = { eq: '=', neq: '<>', gt: '>', gte: '>=', lt: '<', lte: '<=' };
    switch (c.op) {
      case 'eq': case 'neq': case 'gt': case 'gte': case 'lt': case 'lte':
        return `${lhs} ${cmp[c.op]} ${this.value(type, c.value)}`;
      case 'isdistinct':
        return `${lhs} IS DISTINCT FROM ${this.value(type, c.value)}`;
      case 'like': case 'ilike': case 'match': case 'imatch': {
        const op = { like: 'LIKE', ilike: 'ILIKE', match: '~', imatch: '~*' }[c.op];
        // Non-text columns are compared through their text form rather than failing (PostgREST would 404 them).
        const text = family === 'text' ? lhs : `${lhs}::text`;
        return `${text} ${op} ${this.value('text', c.value)}`;
      }
      case 'in': {
        if (family === 'array') throw Errors.undefinedOperator('= ANY', type);
        const list = c.list ?? [];
        list.forEach((v) => checkValue(type, v));
        return `${lhs} = ANY(${this.params.add(list, `${paramType(type)}[]`)})`;
      }
      case 'is': {
        if (c.is === 'null') return `${lhs} IS NULL`;
        if (c.is === 'not_null') return `${lhs} IS NOT NULL`;
        if (family !== 'bool') throw Errors.datatypeMismatch(`argument of IS ${String(c.is).toUpperCase()} must be type boolean, not type ${type}`);
        return `${lhs} IS ${c.is === 'true' ? 'TRUE' : c.is === 'false' ? 'FALSE' : 'UNKNOWN'}`;
      }
      case 'cs': case 'cd': case 'ov': {
        const op = { cs: '@>', cd: '<@', ov: '&&' }[c.op];
        if (family !== 'array' && family !== 'range' && !(family === 'json' && c.op !== 'ov')) throw Errors.undefinedOperator(op, type);
        const t = family === 'json' ? 'jsonb' : paramType(type);
        const l = family === 'json' && type === 'json' ? `${lhs}::jsonb` : lhs;
        return `${l} ${op} ${this.value(t, c.value)}`;
      }
      case 'sl': case 'sr': case 'nxl': case 'nxr': case 'adj': {
        const op = { sl: '<<', sr: '>>', nxl: '&<', nxr: '&>', adj: '-|-' }[c.op];
        if (family !== 'range') throw Errors.undefinedOperator(op, type);
        return `${lhs} ${op} ${this.value(paramType(type), c.value)}`;
      }
      case 'fts': case 'plfts': case 'phfts': case 'wfts': {
        const fn = { fts: 'to_tsquery', plfts: 'plainto_tsquery', phfts: 'phraseto_tsquery', wfts: 'websearch_to_tsquery' }[c.op];
        if (family !== 'text' && family !== 'tsvector') throw Errors.undefinedOperator('@@', type);
        let config = '';
        if (c.language !== undefined) {
          if (!(TEXT_SEARCH_CONFIGS as readonly string[]).includes(c.language)) throw Errors.unknownSearchConfig(c.language);
          config = `${this.params.add(c.language, 'regconfig')}, `;
        }
        const doc = family === 'tsvector' ? lhs : `to_tsvector(${config}${lhs})`;
        return `${doc} @@ ${fn}(${config}${this.value('text', c.value)})`;
      }
    }
  }

  /** `op(any).{…}` / `op(all).{…}`: the comparison against every element of a bound array. */
  private quantified(lhs: string, type: string, c: Condition): string {
    const family = typeFamily(type);
    const list = c.list ?? [];
    const q = c.quantifier === 'all' ? 'ALL' : 'ANY';
    const textOps: Record<string, string> = { like: 'LIKE', ilike: 'ILIKE', match: '~', imatch: '~*' };
    if (c.op in textOps) {
      const text = family === 'text' ? lhs : `${lhs}::text`;
      list.forEach((v) => checkValue('text', v));
      return `${text} ${textOps[c.op]} ${q}(${this.params.add(list, 'text[]')})`;
    }
    const cmp: Record<string, string> = { eq: '=', neq: '<>', gt: '>', gte: '>=', lt: '<', lte: '<=' };
    if (family === 'array' || family === 'json') throw Errors.undefinedOperator(`${cmp[c.op]} ${q}`, type);
    list.forEach((v) => checkValue(type, v));
    return `${lhs} ${cmp[c.op]} ${q}(${this.params.add(list, `${paramType(type)}[]`)})`;
  }

  order(scope: Scope, terms: OrderTerm[] | undefined): string {
    if (!terms || terms.length === 0) return '';
    const parts = terms.map((t) => {
      let s = this.field(scope, t.field).sql;
      if (t.direction) s += t.direction === 'asc' ? ' ASC' : ' DESC';
      if (t.nulls) s += t.nulls === 'first' ? ' NULLS FIRST' : ' NULLS LAST';
      return s;
    });
    return ` ORDER BY ${parts.join(', ')}`;
  }

  /** LIMIT/OFFSET for an embedded to-many array, capped at maxRows so no embed can be unbounded. */
  private embedPage(pathKey: string): string {
    const limit = Math.min(this.req.limit.get(pathKey) ?? this.limits.maxRows, this.limits.maxRows);
    const offset = this.req.offset.get(pathKey) ?? 0;
    return ` LIMIT ${this.params.add(String(limit), 'int8')} OFFSET ${this.params.add(String(offset), 'int8')}`;
  }

  /**
   * The JSON object of one row of `scope` for the select list, and the EXISTS conditions of its `!inner` embeds
   * (which belong in the WHERE of that scope). Output keys are bound parameters, so aliases never become SQL.
   */
  projection(scope: Scope, items: SelectItem[], pathKey: string): { json: string; inner: string[] } {
    const pairs: Array<[string, string]> = [];
    const inner: string[] = [];
    const key = (k: string): string => this.params.add(k, 'text');
    for (const item of items) {
      if (item.kind === 'star') {
        for (const col of this.readableColumns(scope)) pairs.push([key(col.name), this.column(scope, col)]);
      } else if (item.kind === 'field') {
        const { sql } = this.field(scope, item.field);
        const last = item.field.path[item.field.path.length - 1];
        const name = item.alias ?? (last && typeof last.key === 'string' ? last.key : item.field.name);
        pairs.push([key(name), item.cast ? `(${sql})::${item.cast}` : sql]);
      } else {
        const e = this.embed(scope, item, pathKey);
        if (e.inner) inner.push(e.inner);
        if (item.select.length > 0) pairs.push([key(item.alias ?? item.relation), e.sql]);
      }
    }
    return { json: jsonObject(pairs), inner };
  }

  private embed(parent: Scope, item: EmbedItem, parentPath: string): { sql: string; inner?: string } {
    const name = item.alias ?? item.relation;
    const pathKey = parentPath ? `${parentPath}.${name}` : name;
    this.embedPaths.add(pathKey);
    const { child, rel } = this.target(parent.table, item);
    const scope = this.scope(child);
    const join = rel.fk.columns.map((col, i) => {
      const [childCol, parentCol] = rel.parentHoldsKey ? [rel.fk.refColumns[i], col] : [col, rel.fk.refColumns[i]];
      return `${scope.alias}.${ident(childCol)} = ${parent.alias}.${ident(parentCol)}`;
    });
    const { json, inner } = this.projection(scope, item.select, pathKey);
    const where = and([...join, ...this.conditions(scope, pathKey), ...inner]);
    const from = `${this.qualified(child)} AS ${scope.alias}`;
    const exists = item.inner ? `EXISTS (SELECT 1 FROM ${from} WHERE ${where})` : undefined;
    // An empty select (`users!inner()`) only filters: build nothing more, so no parameter is left unused.
    if (item.select.length === 0) return { sql: '', inner: exists };
    if (rel.toOne) return { sql: `(SELECT ${json} FROM ${from} WHERE ${where})`, inner: exists };
    const sub = `_${scope.alias}`;
    const rows = `SELECT ${json} AS j FROM ${from} WHERE ${where}${this.order(scope, this.req.order.get(pathKey))}${this.embedPage(pathKey)}`;
    return { sql: `(SELECT coalesce(json_agg(${sub}.j), '[]'::json) FROM (${rows}) AS ${sub})`, inner: exists };
  }

  /**
   * The embedded table and the foreign key to it. The name is a table (`users(*)`), or, as PostgREST also allows,
   * one of the parent's foreign key columns or foreign key names (`author:author_id(*)`), which embeds to-one.
   */
  private target(parent: TableDef, item: EmbedItem): { child: TableDef; rel: Relationship } {
    const child = this.ctx.catalog.tables.get(item.relation);
    if (child) return { child, rel: relationship(parent, child, item.hint) };
    const fk = parent.foreignKeys.find((k) => k.name === item.relation || (k.columns.length === 1 && k.columns[0] === item.relation));
    const ref = fk && this.ctx.catalog.tables.get(fk.refTable);
    if (!fk || !ref || item.hint !== undefined) throw Errors.noRelationship(parent.name, item.relation);
    return { child: ref, rel: { fk, toOne: true, parentHoldsKey: true } };
  }

  /** Filters, order or limits addressed to an embed that isn't in `select` are errors (PGRST108). */
  checkEmbedPaths(): void {
    const paths = [
      ...this.req.filters.map((f) => f.path.join('.')),
      ...this.req.order.keys(),
      ...this.req.limit.keys(),
      ...this.req.offset.keys(),
    ];
    for (const p of paths) if (!this.embedPaths.has(p)) throw Errors.notEmbedded(p);
  }
}

function wrap(sql: string): string {
  return sql.startsWith('(') && sql.endsWith(')') ? sql : `(${sql})`;
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

/**
 * Finds the foreign key between parent and child, in either direction, optionally narrowed by a hint (a foreign
 * key's name or a foreign key column). None → PGRST200, several → PGRST201, like PostgREST.
 */
export function relationship(parent: TableDef, child: TableDef, hint: string | undefined): Relationship {
  let found: Relationship[] = [];
  for (const fk of parent.foreignKeys) {
    if (fk.refTable === child.name) found.push({ fk, toOne: true, parentHoldsKey: true });
  }
  for (const fk of child.foreignKeys) {
    if (fk.refTable !== parent.name) continue;
    // A child key that is also its primary key or a unique key makes the relation one-to-one.
    const unique = sameSet(fk.columns, child.primaryKey) || child.uniques.some((u) => sameSet(u, fk.columns));
    found.push({ fk, toOne: unique, parentHoldsKey: false });
  }
  if (hint !== undefined) {
    found = found.filter((r) => r.fk.name === hint || (r.fk.columns.length === 1 && r.fk.columns[0] === hint));
    // On a self-reference both directions share the key; the hint names the parent's own key, so take many-to-one.
    if (found.length === 2 && found[0].fk === found[1].fk) found = found.filter((r) => r.parentHoldsKey);
  }
  if (found.length === 0) throw Errors.noRelationship(parent.name, hint ? `${child.name}!${hint}` : child.name);
  if (found.length > 1) throw Errors.ambiguousRelationship(parent.name, child.name, found.map((r) => r.fk.name));
  return found[0];
}
