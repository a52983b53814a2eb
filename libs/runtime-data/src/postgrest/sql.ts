/**
 * The only places SQL text is assembled from anything but constants: identifiers (from the catalog, always quoted)
 * and numbered parameters. Values never become SQL text.
 */

/** A statement ready for `client.query(text, values)`. */
export interface SqlQuery {
  text: string;
  values: unknown[];
}

/** Double-quotes an identifier. Callers pass catalog names only; NUL can't be quoted, so it is refused outright. */
export function ident(name: string): string {
  if (name.length === 0 || name.includes('\u0000')) throw new Error('Refusing to quote an empty or NUL-containing identifier');
  return `"${name.replace(/"/g, '""')}"`;
}

/** `"schema"."table"`. */
export function qualified(schema: string, table: string): string {
  return `${ident(schema)}.${ident(table)}`;
}

/**
 * Column types as they may appear after `::` in generated SQL. The catalog's types are already validated; this is
 * a second line of defence so that a malformed type string can never become SQL.
 */
const SAFE_TYPE = /^[a-z][a-z0-9_ ]{0,40}(\(\d{1,4}(,\s?\d{1,4})?\))?(\[\])?$/;
export function sqlType(type: string): string {
  const t = type.trim().toLowerCase();
  if (!SAFE_TYPE.test(t)) throw new Error(`Refusing unsafe column type in catalog: ${JSON.stringify(type)}`);
  return t;
}

/** Collects bound values and hands out `$n` placeholders, each with an explicit cast so PostgreSQL never guesses. */
export class SqlParams {
  readonly values: unknown[] = [];

  add(value: unknown, cast: string): string {
    this.values.push(value);
    return `$${this.values.length}::${sqlType(cast)}`;
  }
}

/**
 * A JSON object from (key SQL, value SQL) pairs. json_build_object takes at most 100 arguments, so wider objects are
 * built in chunks and merged in order (json has no concatenation operator; jsonb would reorder keys).
 */
export function jsonObject(pairs: Array<[string, string]>): string {
  const CHUNK = 50;
  const build = (ps: Array<[string, string]>): string => `json_build_object(${ps.map(([k, v]) => `${k}, ${v}`).join(', ')})`;
  if (pairs.length <= CHUNK) return build(pairs);
  const parts: string[] = [];
  for (let i = 0; i < pairs.length; i += CHUNK) {
    parts.push(
      `SELECT ${i} AS g, e.key AS k, e.value AS v, e.o FROM json_each(${build(pairs.slice(i, i + CHUNK))}) WITH ORDINALITY AS e(key, value, o)`,
    );
  }
  return `(SELECT json_object_agg(kv.k, kv.v ORDER BY kv.g, kv.o) FROM (${parts.join(' UNION ALL ')}) AS kv)`;
}

/** `(cond1) AND (cond2)`, or TRUE for none. */
export function and(conds: string[]): string {
  if (conds.length === 0) return 'TRUE';
  return conds.length === 1 ? conds[0] : `(${conds.map((c) => `(${c})`).join(' AND ')})`;
}

export function or(conds: string[]): string {
  if (conds.length === 0) return 'FALSE';
  return conds.length === 1 ? conds[0] : `(${conds.map((c) => `(${c})`).join(' OR ')})`;
}
