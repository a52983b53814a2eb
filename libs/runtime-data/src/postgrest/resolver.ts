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
  /** Aggregates in `select` (on unless the project switched them off: PGRST123). */
  aggregates?: boolean;
}

/** A table as it appears in one FROM clause of the statement. */
export interface Scope {
  table: TableDef;
  alias: string;
  /** The caller's read policy for this table (never 'none' here). */
  read: TablePolicy;
}

export interface Relationship {
  fk: ForeignKeyDef;
  /** true when the parent holds the foreign key (many-to-one) or the child's key is unique (one-to-one). */
  toOne: boolean;
  /** true when the parent's columns are `fk.columns`. */
  parentHoldsKey: boolean;
  /**
   * Many-to-many through a junction table whose primary key holds both foreign keys: `fk` is the junction's key to
   * the parent, `toChild` its key to the child.
   */
  junction?: { table: TableDef; toChild: ForeignKeyDef };
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
  projection(scope: Scope, items: SelectItem[], pathKey: string): { json: string; inner: string[]; groupBy: string; aggregated: boolean } {
    const { pairs, inner, groupBy, aggregated } = this.projectionPairs(scope, items, pathKey);
    return { json: jsonObject(pairs), inner, groupBy, aggregated };
  }

  /** The (key, value) SQL pairs of {@link projection}; two embeds with one output name are refused. */
  private projectionPairs(scope: Scope, items: SelectItem[], pathKey: string): { pairs: Array<[string, string]>; inner: string[]; groupBy: string; aggregated: boolean } {
    const pairs: Array<[string, string]> = [];
    const inner: string[] = [];
    const key = (k: string): string => this.params.add(k, 'text');
    const embedNames = new Set<string>();
    // In an embed, a bare `count` that is no column of the table is the row count (`todos(count)`), as supabase-js uses it.
    items = items.map((it) =>
      it.kind === 'field' && pathKey !== '' && !it.aggregate && it.field.name === 'count' && it.field.path.length === 0 && !findColumn(scope.table, 'count')
        ? { ...it, field: { name: '*', path: [] }, aggregate: 'count' as const }
        : it,
    );
    const aggregated = items.some((it) => it.kind === 'field' && it.aggregate);
    if (aggregated && this.ctx.aggregates === false) throw Errors.aggregatesDisabled();
    const groups: string[] = [];
    for (const item of items) {
      if (item.kind === 'star') {
        for (const col of this.readableColumns(scope)) {
          pairs.push([key(col.name), this.column(scope, col)]);
          groups.push(this.column(scope, col));
        }
      } else if (item.kind === 'field' && item.aggregate) {
        const input = item.field.name === '*' ? '*' : this.field(scope, item.field).sql;
        const arg = item.cast && input !== '*' ? `(${input})::${item.cast}` : input;
        const value = `${item.aggregate}(${arg})`;
        pairs.push([key(item.alias ?? item.aggregate), item.aggregateCast ? `(${value})::${item.aggregateCast}` : value]);
      } else if (item.kind === 'field') {
        const { sql } = this.field(scope, item.field);
        const last = item.field.path[item.field.path.length - 1];
        const name = item.alias ?? (last && typeof last.key === 'string' ? last.key : item.field.name);
        pairs.push([key(name), item.cast ? `(${sql})::${item.cast}` : sql]);
        groups.push(sql);
      } else {
        // A related row or array per group has no meaning; PostgREST groups by it, we ask for an aggregate inside it.
        if (aggregated && item.select.length > 0) throw Errors.embedWithAggregate(item.alias ?? item.relation);
        const name = item.alias ?? item.relation;
        if (!item.spread && embedNames.has(name)) throw Errors.duplicateEmbed(name);
        embedNames.add(name);
        const e = this.embed(scope, item, pathKey);
        if (e.inner) inner.push(e.inner);
        if (e.pairs) pairs.push(...e.pairs);
        else if (item.select.length > 0) pairs.push([key(name), e.sql]);
      }
    }
    return { pairs, inner, groupBy: aggregated && groups.length > 0 ? ` GROUP BY ${groups.join(', ')}` : '', aggregated };
  }

  private embed(parent: Scope, item: EmbedItem, parentPath: string): { sql: string; inner?: string; pairs?: Array<[string, string]> } {
    const name = item.alias ?? item.relation;
    const pathKey = parentPath ? `${parentPath}.${name}` : name;
    this.embedPaths.add(pathKey);
    const { child, rel } = this.target(parent.table, item);
    const scope = this.scope(child);
    const join = rel.junction ? [this.junctionJoin(parent, scope, rel)] : rel.fk.columns.map((col, i) => {
      const [childCol, parentCol] = rel.parentHoldsKey ? [rel.fk.refColumns[i], col] : [col, rel.fk.refColumns[i]];
      return `${scope.alias}.${ident(childCol)} = ${parent.alias}.${ident(parentCol)}`;
    });
    const { pairs, inner, groupBy, aggregated } = this.projectionPairs(scope, item.select, pathKey);
    const json = jsonObject(pairs);
    const where = and([...join, ...this.conditions(scope, pathKey), ...inner]);
    const from = `${this.qualified(child)} AS ${scope.alias}`;
    const exists = item.inner ? `EXISTS (SELECT 1 FROM ${from} WHERE ${where})` : undefined;
    // An empty select (`users!inner()`) only filters: build nothing more, so no parameter is left unused.
    if (item.select.length === 0) return { sql: '', inner: exists };
    if (item.spread) {
      // `...rel(a,b)`: the related row's fields become the parent's own. Over a to-many relationship each field is
      // the array of its values, in the embed's order (PostgREST 13); every array is paged and ordered alike.
      if (aggregated) throw Errors.embedWithAggregate(name);
      if (rel.toOne) return { sql: '', inner: exists, pairs: pairs.map(([k, v]) => [k, `(SELECT ${v} FROM ${from} WHERE ${where})`]) };
      const tail = `${this.order(scope, this.req.order.get(pathKey))}${this.embedPage(pathKey)}`;
      const sub = `_${scope.alias}`;
      return {
        sql: '',
        inner: exists,
        pairs: pairs.map(([k, v]) => [k, `(SELECT coalesce(json_agg(${sub}.v), '[]'::json) FROM (SELECT ${v} AS v FROM ${from} WHERE ${where}${tail}) AS ${sub})`]),
      };
    }
    if (rel.toOne && aggregated) throw Errors.aggregateOnToOne(item.alias ?? item.relation);
    if (rel.toOne) return { sql: `(SELECT ${json} FROM ${from} WHERE ${where})`, inner: exists };
    const sub = `_${scope.alias}`;
    const rows = `SELECT ${json} AS j FROM ${from} WHERE ${where}${groupBy}${this.order(scope, this.req.order.get(pathKey))}${this.embedPage(pathKey)}`;
    return { sql: `(SELECT coalesce(json_agg(${sub}.j), '[]'::json) FROM (${rows}) AS ${sub})`, inner: exists };
  }

  /**
   * The junction rows linking a parent and a child row, as far as the caller may read the junction table (its read
   * rule applies like any embedded table's; no read access is 42501).
   */
  private junctionJoin(parent: Scope, child: Scope, rel: Relationship): string {
    const j = rel.junction!;
    const jScope = this.scope(j.table);
    const toParent = rel.fk.columns.map((c, i) => `${jScope.alias}.${ident(c)} = ${parent.alias}.${ident(rel.fk.refColumns[i])}`);
    const toChild = j.toChild.columns.map((c, i) => `${jScope.alias}.${ident(c)} = ${child.alias}.${ident(j.toChild.refColumns[i])}`);
    const rows = policyRowsSql(j.table, jScope.alias, jScope.read.rows, this.params);
    return `EXISTS (SELECT 1 FROM ${this.qualified(j.table)} AS ${jScope.alias} WHERE ${and([...toParent, ...toChild, ...(rows ? [rows] : [])])})`;
  }

  /**
   * The embedded table and the relationship to it, by PostgREST's rules: the name is a table (`users(*)`), or a
   * foreign key's name or column (`author:author_id(*)`, `posts_author_id_fkey(*)`), from either side.
   */
  private target(parent: TableDef, item: EmbedItem): { child: TableDef; rel: Relationship } {
    const child = this.ctx.catalog.tables.get(item.relation);
    if (child) return { child, rel: relationship(this.ctx.catalog, parent, child, item.hint) };
    if (item.hint !== undefined) throw Errors.noRelationship(parent.name, item.relation);
    const found: Array<{ child: TableDef; rel: Relationship }> = [];
    for (const fk of parent.foreignKeys) {
      const ref = this.ctx.catalog.tables.get(fk.refTable);
      if (ref && (fk.name === item.relation || (fk.columns.length === 1 && fk.columns[0] === item.relation))) {
        found.push({ child: ref, rel: { fk, toOne: true, parentHoldsKey: true } });
      }
    }
    // A foreign key of another table pointing here, named from the referenced side: the referencing rows.
    for (const other of this.ctx.catalog.tables.values()) {
      for (const fk of other.foreignKeys) {
        if (fk.refTable !== parent.name || fk.name !== item.relation || found.some((f) => f.rel.fk === fk)) continue;
        found.push({ child: other, rel: { fk, toOne: isUniqueKey(other, fk.columns), parentHoldsKey: false } });
      }
    }
    if (found.length === 0) throw Errors.noRelationship(parent.name, item.relation);
    if (found.length > 1) throw Errors.ambiguousRelationship(parent.name, item.relation, found.map((f) => describe(parent, f.child, f.rel)));
    return found[0];
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

function isUniqueKey(table: TableDef, columns: string[]): boolean {
  return sameSet(columns, table.primaryKey) || table.uniques.some((u) => sameSet(u, columns));
}

/** One candidate relationship as PostgREST's PGRST201 details and hint describe it. */
export interface RelationshipDescription {
  cardinality: string;
  embedding: string;
  relationship: string;
  /** `child!hint`, for the error's hint. */
  hint: string;
}

function describe(parent: TableDef, child: TableDef, rel: Relationship): RelationshipDescription {
  const cols = (c: string[]) => `(${c.join(', ')})`;
  const embedding = `${parent.name} with ${child.name}`;
  if (rel.junction) {
    const j = rel.junction;
    return {
      cardinality: 'many-to-many',
      embedding,
      relationship: `${j.table.name} using ${rel.fk.name}${cols(rel.fk.columns)} and ${j.toChild.name}${cols(j.toChild.columns)}`,
      hint: `${child.name}!${j.table.name}`,
    };
  }
  const [pc, cc] = rel.parentHoldsKey ? [rel.fk.columns, rel.fk.refColumns] : [rel.fk.refColumns, rel.fk.columns];
  const cardinality = rel.parentHoldsKey ? 'many-to-one' : rel.toOne ? 'one-to-one' : 'one-to-many';
  return { cardinality, embedding, relationship: `${rel.fk.name} using ${parent.name}${cols(pc)} and ${child.name}${cols(cc)}`, hint: `${child.name}!${rel.fk.name}` };
}

/**
 * Many-to-many candidates: tables other than parent and child whose primary key holds a foreign key to each (the
 * junction rule PostgREST applies).
 */
function junctions(catalog: Catalog, parent: TableDef, child: TableDef): Relationship[] {
  const out: Relationship[] = [];
  for (const j of catalog.tables.values()) {
    if (j.name === parent.name || j.name === child.name) continue;
    for (const toParent of j.foreignKeys) {
      if (toParent.refTable !== parent.name) continue;
      for (const toChild of j.foreignKeys) {
        if (toChild === toParent || toChild.refTable !== child.name) continue;
        if (![...toParent.columns, ...toChild.columns].every((c) => j.primaryKey.includes(c))) continue;
        out.push({ fk: toParent, toOne: false, parentHoldsKey: false, junction: { table: j, toChild } });
      }
    }
  }
  return out;
}

/**
 * Finds the relationship between parent and child by PostgREST's rules, optionally narrowed by a hint (a foreign
 * key's name, a column on either side, or a junction table). On a self-reference the table's name means the children
 * (one-to-many) and a hint names the children's key. None → PGRST200, several → PGRST201 (details: each candidate).
 */
export function relationship(catalog: Catalog, parent: TableDef, child: TableDef, hint: string | undefined): Relationship {
  let found: Relationship[] = [];
  if (parent.name === child.name) {
    for (const fk of parent.foreignKeys) {
      if (fk.refTable !== parent.name) continue;
      if (hint === undefined || fk.name === hint || (fk.columns.length === 1 && fk.columns[0] === hint)) {
        found.push({ fk, toOne: isUniqueKey(parent, fk.columns), parentHoldsKey: false });
      }
    }
  } else {
    for (const fk of parent.foreignKeys) {
      if (fk.refTable === child.name) found.push({ fk, toOne: true, parentHoldsKey: true });
    }
    for (const fk of child.foreignKeys) {
      if (fk.refTable === parent.name) found.push({ fk, toOne: isUniqueKey(child, fk.columns), parentHoldsKey: false });
    }
    found.push(...junctions(catalog, parent, child));
    if (hint !== undefined) {
      const single = (c: string[]) => c.length === 1 && c[0] === hint;
      found = found.filter((r) => (r.junction ? r.junction.table.name === hint : r.fk.name === hint || single(r.fk.columns) || single(r.fk.refColumns)));
    }
  }
  if (found.length === 0) throw Errors.noRelationship(parent.name, hint ? `${child.name}!${hint}` : child.name);
  if (found.length > 1) throw Errors.ambiguousRelationship(parent.name, child.name, found.map((r) => describe(parent, child, r)));
  return found[0];
}
