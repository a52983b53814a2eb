import { ColumnTest, RowCondition, Scalar, TableDef, TablePolicy, findColumn } from './catalog';
import { typeFamily } from './column-type';
import { SqlParams, and, ident, or } from './sql';

/**
 * The type a bound value is cast to. Type modifiers are dropped so a filter value is never silently truncated or
 * rounded by the cast (`'abcd'::varchar(2)` is 'ab'); text-like types compare as text.
 */
export function paramType(type: string): string {
  if (typeFamily(type) === 'text') return 'text';
  return type.replace(/\(.*?\)/g, '').trim();
}

/** Scalars travel as text and are cast by PostgreSQL, the same path as query-string values. */
function scalarText(v: Exclude<Scalar, null>): string {
  return typeof v === 'string' ? v : String(v);
}

const TEST_KEYS = new Set(['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin']);
const COMPARE: Record<string, string> = { $gt: '>', $gte: '>=', $lt: '<', $lte: '<=' };

/**
 * One column test in CASL's query language as SQL over `lhs`. Null semantics follow CASL: `$ne: x` and `$nin`
 * match a NULL column, `$eq: null` matches only NULL. A malformed rule is a server bug, so it throws (500).
 */
function columnTest(lhs: string, type: string, test: ColumnTest, params: SqlParams): string {
  const t = paramType(type);
  if (test === null) return `${lhs} IS NULL`;
  if (typeof test !== 'object') return `${lhs} = ${params.add(scalarText(test), t)}`;
  const parts: string[] = [];
  for (const [key, v] of Object.entries(test)) {
    if (!TEST_KEYS.has(key)) throw new Error(`Unsupported operator ${key} in a row policy`);
    if (key === '$eq') parts.push(v === null ? `${lhs} IS NULL` : `${lhs} = ${params.add(scalarText(v as Exclude<Scalar, null>), t)}`);
    else if (key === '$ne') parts.push(v === null ? `${lhs} IS NOT NULL` : `${lhs} IS DISTINCT FROM ${params.add(scalarText(v as Exclude<Scalar, null>), t)}`);
    else if (key in COMPARE) parts.push(v === null ? 'FALSE' : `${lhs} ${COMPARE[key]} ${params.add(scalarText(v as Exclude<Scalar, null>), t)}`);
    else {
      if (!Array.isArray(v)) throw new Error(`${key} in a row policy needs an array`);
      const values = v.filter((x): x is Exclude<Scalar, null> => x !== null).map(scalarText);
      const hasNull = values.length !== v.length;
      const arr = params.add(values, `${t}[]`);
      if (key === '$in') parts.push(hasNull ? `(${lhs} = ANY(${arr}) OR ${lhs} IS NULL)` : `${lhs} = ANY(${arr})`);
      else parts.push(hasNull ? `(${lhs} IS NOT NULL AND ${lhs} <> ALL(${arr}))` : `(${lhs} IS NULL OR ${lhs} <> ALL(${arr}))`);
    }
  }
  return and(parts);
}

function rowCondition(table: TableDef, alias: string, cond: RowCondition, params: SqlParams): string {
  const parts = Object.entries(cond).map(([name, test]) => {
    const col = findColumn(table, name);
    if (!col) throw new Error(`Row policy of ${table.name} names unknown column ${name}`);
    return columnTest(`${alias}.${ident(col.name)}`, col.type, test, params);
  });
  return and(parts);
}

/**
 * The WHERE fragment for a policy's rows over the table aliased `alias`, or null when unrestricted.
 * 'none' must be turned into a permission error by the caller before getting here; it is FALSE as a last resort.
 */
export function policyRowsSql(table: TableDef, alias: string, rows: TablePolicy['rows'], params: SqlParams): string | null {
  if (rows === 'all') return null;
  if (rows === 'none') return 'FALSE';
  return or(rows.map((c) => rowCondition(table, alias, c, params)));
}
