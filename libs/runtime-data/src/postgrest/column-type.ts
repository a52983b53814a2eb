import { Errors } from './postgrest.error';

/** The families of column types we treat differently when validating values and choosing operators. */
export type TypeFamily = 'int2' | 'int4' | 'int8' | 'float' | 'numeric' | 'bool' | 'uuid' | 'json' | 'text' | 'array' | 'range' | 'tsvector' | 'other';

const FAMILY: Record<string, TypeFamily> = {
  int2: 'int2', smallint: 'int2',
  int4: 'int4', int: 'int4', integer: 'int4', serial: 'int4',
  int8: 'int8', bigint: 'int8', bigserial: 'int8',
  float4: 'float', float8: 'float', real: 'float', 'double precision': 'float',
  numeric: 'numeric', decimal: 'numeric',
  bool: 'bool', boolean: 'bool',
  uuid: 'uuid',
  json: 'json', jsonb: 'json',
  text: 'text', varchar: 'text', 'character varying': 'text', char: 'text', character: 'text', citext: 'text', bpchar: 'text',
  int4range: 'range', int8range: 'range', numrange: 'range', tsrange: 'range', tstzrange: 'range', daterange: 'range',
  tsvector: 'tsvector',
};

/**
 * The text search configurations PostgreSQL ships (pg_catalog), the only ones a filter's `fts(lang)` or a declared
 * tsvector column may name: a fixed list, so an unknown name is a clear 400 instead of a database error.
 */
export const TEXT_SEARCH_CONFIGS = [
  'simple', 'arabic', 'armenian', 'basque', 'catalan', 'danish', 'dutch', 'english', 'finnish', 'french', 'german', 'greek',
  'hindi', 'hungarian', 'indonesian', 'irish', 'italian', 'lithuanian', 'nepali', 'norwegian', 'portuguese', 'romanian',
  'russian', 'serbian', 'spanish', 'swedish', 'tamil', 'turkish', 'yiddish',
] as const;

export function typeFamily(type: string): TypeFamily {
  const t = type.trim().toLowerCase();
  if (t.endsWith('[]')) return 'array';
  return FAMILY[t.replace(/\(.*\)$/, '').trim()] ?? 'other';
}

/** The name PostgreSQL uses in its own error messages, so ours read the same. */
function pgName(family: TypeFamily, type: string): string {
  const names: Partial<Record<TypeFamily, string>> = {
    int2: 'smallint', int4: 'integer', int8: 'bigint', float: 'double precision', numeric: 'numeric',
    bool: 'boolean', uuid: 'uuid', json: 'json',
  };
  return names[family] ?? type;
}

const INT_RANGE: Record<'int2' | 'int4' | 'int8', [bigint, bigint]> = {
  int2: [-32768n, 32767n],
  int4: [-2147483648n, 2147483647n],
  int8: [-9223372036854775808n, 9223372036854775807n],
};
const BOOL_WORDS = new Set(['t', 'f', 'true', 'false', 'y', 'n', 'yes', 'no', 'on', 'off', '1', '0']);
const UUID = /^\{?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\}?$/i;
const NUMERIC = /^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$|^[+-]?(nan|infinity|inf)$/i;

/**
 * Checks, where it is cheap, that a text value will be accepted by PostgreSQL as the column's type, so the caller
 * gets PostgreSQL's own 400 without a round trip. Values still go to the database as text parameters with a cast;
 * types we don't check here (dates, timestamps…) are left to PostgreSQL, whose 22xxx errors also map to 400.
 */
export function checkValue(type: string, raw: string): void {
  if (raw.includes('\u0000')) throw Errors.invalidInput(type, raw.replace(/\u0000/g, '\\0'));
  const family = typeFamily(type);
  const v = raw.trim();
  switch (family) {
    case 'int2':
    case 'int4':
    case 'int8': {
      if (!/^[+-]?\d+$/.test(v)) throw Errors.invalidInput(pgName(family, type), raw);
      const n = BigInt(v);
      const [lo, hi] = INT_RANGE[family];
      if (n < lo || n > hi) throw Errors.outOfRange(pgName(family, type), raw);
      return;
    }
    case 'float':
    case 'numeric':
      if (!NUMERIC.test(v)) throw Errors.invalidInput(pgName(family, type), raw);
      return;
    case 'bool':
      if (!BOOL_WORDS.has(v.toLowerCase())) throw Errors.invalidInput(pgName(family, type), raw);
      return;
    case 'uuid':
      if (!UUID.test(v)) throw Errors.invalidInput(pgName(family, type), raw);
      return;
    case 'json':
      try {
        JSON.parse(raw);
      } catch {
        throw Errors.invalidInput('json', raw);
      }
      return;
    default:
      return;
  }
}

/**
 * Casts a caller may ask for in `select=col::type`. The caller's spelling is only a lookup key: the SQL gets the
 * canonical name from this table, never the caller's text.
 */
const CASTS: Record<string, string> = {
  text: 'text', varchar: 'varchar',
  int: 'int4', int4: 'int4', integer: 'int4', int2: 'int2', smallint: 'int2', int8: 'int8', bigint: 'int8',
  float4: 'float4', real: 'float4', float8: 'float8', 'double precision': 'float8', numeric: 'numeric', decimal: 'numeric',
  bool: 'bool', boolean: 'bool', uuid: 'uuid', json: 'json', jsonb: 'jsonb',
  date: 'date', time: 'time', timestamp: 'timestamp', timestamptz: 'timestamptz', interval: 'interval',
};
export function canonicalCast(name: string): string | undefined {
  return Object.prototype.hasOwnProperty.call(CASTS, name.toLowerCase()) ? CASTS[name.toLowerCase()] : undefined;
}
