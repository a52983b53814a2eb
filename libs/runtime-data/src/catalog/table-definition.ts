import { createHash } from 'node:crypto';
import { z } from 'zod';
import { TEXT_SEARCH_CONFIGS } from '../postgrest/column-type';

/**
 * Declared tables: the request shapes of the catalog API (zod, strict) and the normalised definition stored in
 * `control.data_tables.definition`. Everything here is pure; DDL is generated from a {@link TableDefinition} only
 * after {@link validateTable} accepted it.
 */

/** Lowercase identifiers only: no quoting tricks, no case games, at most 63 bytes (PostgreSQL's limit). */
export const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Names a customer may not use. SQL reserved words (confusing even when quoted), PostgREST's own query parameters
 * (a column named `select` or `order` could not be filtered), PostgreSQL system columns, and prefixes kept for
 * the platform and other runtimes' tables in the same schema.
 */
const RESERVED = new Set(
  (
    'all analyse analyze and any array as asc asymmetric authorization between binary both case cast check collate ' +
    'collation column concurrently constraint create cross current_catalog current_date current_role current_schema ' +
    'current_time current_timestamp current_user default deferrable desc distinct do else end except false fetch for ' +
    'foreign freeze from full grant group having ilike in initially inner intersect into is isnull join lateral leading ' +
    'left like limit localtime localtimestamp natural not notnull null offset on only or order outer overlaps placing ' +
    'primary references returning right select session_user similar some symmetric table tablesample then to trailing ' +
    'true union unique user using variadic verbose when where window with ' +
    // PostgREST query parameters
    'on_conflict columns ' +
    // system columns
    'oid tableoid xmin xmax cmin cmax ctid'
  ).split(' '),
);
const RESERVED_PREFIXES = ['pg_', 'pgrst_', 'plinth', 'auth_', 'storage_', 'realtime_', '_'];

export function identifierProblem(name: string): string | null {
  if (!IDENTIFIER.test(name)) return 'must be 1-63 lowercase letters, digits or _, starting with a letter';
  if (RESERVED.has(name)) return `"${name}" is a reserved name`;
  const prefix = RESERVED_PREFIXES.find((p) => name.startsWith(p));
  if (prefix) return `names starting with "${prefix}" are reserved`;
  return null;
}

const identifier = z.string().superRefine((v, ctx) => {
  const problem = identifierProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** Column types: the canonical spelling is stored and used in SQL; a few common aliases are accepted. */
const SCALARS = [
  'text', 'int4', 'int8', 'float8', 'numeric', 'bool', 'uuid', 'timestamptz', 'date', 'jsonb',
  'int4range', 'int8range', 'tstzrange', 'daterange',
] as const;
/**
 * Types that need more than a name: `enum` (with `values`, stored as text under a CHECK constraint) and `tsvector`
 * (with `generated: {from, language}`, a stored generated column with a GIN index, for full-text search).
 */
const SPECIAL_TYPES = ['enum', 'tsvector'] as const;
const ARRAYS = ['text[]', 'int4[]', 'int8[]', 'uuid[]'] as const;
const TYPE_LIST = `${[...SCALARS, ...ARRAYS, ...SPECIAL_TYPES].join(', ')}, varchar(n), numeric(p,s)`;

const ALIASES: Record<string, string> = {
  integer: 'int4', int: 'int4', bigint: 'int8', boolean: 'bool', 'double precision': 'float8', float: 'float8',
  'timestamp with time zone': 'timestamptz', 'integer[]': 'int4[]', 'bigint[]': 'int8[]',
};

/** The canonical type for what a customer wrote, or null when it isn't one we offer. */
export function canonicalType(raw: string): string | null {
  const t = raw.trim().toLowerCase().replace(/\s+/g, ' ');
  const aliased = ALIASES[t] ?? t;
  if ([...SCALARS, ...ARRAYS, ...SPECIAL_TYPES].includes(aliased as never)) return aliased;
  const varchar = /^(?:varchar|character varying) ?\( ?(\d{1,8}) ?\)$/.exec(t);
  if (varchar) {
    const n = Number(varchar[1]);
    return n >= 1 && n <= 10_485_760 ? `varchar(${n})` : null;
  }
  const numeric = /^numeric ?\( ?(\d{1,4}) ?(?:, ?(\d{1,4}) ?)?\)$/.exec(t);
  if (numeric) {
    const p = Number(numeric[1]);
    const s = numeric[2] === undefined ? 0 : Number(numeric[2]);
    return p >= 1 && p <= 1000 && s <= p ? `numeric(${p},${s})` : null;
  }
  return null;
}

/** The type without modifiers: `varchar(40)` → `varchar`, `numeric(10,2)` → `numeric`. */
export function baseType(type: string): string {
  return type.replace(/\(.*\)$/, '');
}

export type DefaultDefinition =
  | { kind: 'now' }
  | { kind: 'gen_random_uuid' }
  | { kind: 'auth_uid' }
  | { kind: 'identity' }
  | { kind: 'literal'; value: unknown };

const SPECIAL_DEFAULTS: Record<string, DefaultDefinition['kind']> = {
  'now()': 'now',
  'gen_random_uuid()': 'gen_random_uuid',
  'auth.uid': 'auth_uid',
  'auth.uid()': 'auth_uid',
  identity: 'identity',
};

const literalValue = z.union([z.string().max(10_000), z.number(), z.boolean(), z.null()]);
/**
 * `default`: `"now()"`, `"gen_random_uuid()"`, `"auth.uid"` (the calling end user's id), `"identity"` (an
 * auto-incrementing integer), any other JSON scalar as a literal, or `{"value": …}` for a literal that would
 * otherwise read as one of those words (and for jsonb/array literals).
 */
const defaultSchema = z.union([literalValue, z.object({ value: z.json() }).strict()]);

export function parseDefault(raw: z.infer<typeof defaultSchema>): DefaultDefinition {
  if (typeof raw === 'string' && raw in SPECIAL_DEFAULTS) return { kind: SPECIAL_DEFAULTS[raw] } as DefaultDefinition;
  if (raw !== null && typeof raw === 'object') return { kind: 'literal', value: raw.value };
  return { kind: 'literal', value: raw };
}

/** The API spelling of a stored default (inverse of {@link parseDefault}). */
export function defaultView(d: DefaultDefinition): unknown {
  switch (d.kind) {
    case 'now':
      return 'now()';
    case 'gen_random_uuid':
      return 'gen_random_uuid()';
    case 'auth_uid':
      return 'auth.uid';
    case 'identity':
      return 'identity';
    case 'literal':
      return typeof d.value === 'string' && d.value in SPECIAL_DEFAULTS ? { value: d.value } : typeof d.value === 'object' && d.value !== null ? { value: d.value } : d.value;
  }
}

export const ON_DELETE = ['no action', 'restrict', 'cascade', 'set null'] as const;

export const columnSchema = z
  .object({
    name: identifier,
    // Checked here too (not only in validateTable), so a bad type is reported with a bad name in the same answer.
    type: z
      .string()
      .min(1)
      .max(60)
      .refine((t) => canonicalType(t) !== null, { error: (i) => `unsupported type "${String(i.input)}"; use one of ${TYPE_LIST}` }),
    nullable: z.boolean().optional(),
    default: defaultSchema.optional(),
    primary_key: z.boolean().optional(),
    unique: z.boolean().optional(),
    references: z
      .object({ table: identifier, column: identifier, on_delete: z.enum(ON_DELETE).optional() })
      .strict()
      .optional(),
    /** type enum: the allowed values, in order. */
    values: z.array(z.string().min(1).max(63)).min(1).max(100).optional(),
    /** type tsvector: the text columns it is generated from, and the text search configuration. */
    generated: z
      .object({ from: z.array(identifier).min(1).max(8), language: z.string().max(40).optional() })
      .strict()
      .optional(),
  })
  .strict();
export type ColumnInput = z.infer<typeof columnSchema>;

export const indexSchema = z
  .object({ name: identifier.optional(), columns: z.array(identifier).min(1).max(32), unique: z.boolean().optional() })
  .strict();
export type IndexInput = z.infer<typeof indexSchema>;

export const createTableSchema = z
  .object({
    name: identifier,
    columns: z.array(columnSchema).min(1).max(1600),
    indexes: z.array(indexSchema).max(64).optional(),
  })
  .strict();
export type CreateTableInput = z.infer<typeof createTableSchema>;

/**
 * One change to an existing column: `type` (cast `USING col::type`), `nullable`, `default` (as `add_columns` takes
 * it, or `null` to drop it) and `unique`. A field left out stays as it is.
 */
export const alterColumnSchema = z
  .object({
    name: identifier,
    type: columnSchema.shape.type.optional(),
    nullable: z.boolean().optional(),
    // null drops the default here (a literal null default is the same as none).
    default: defaultSchema.optional(),
    unique: z.boolean().optional(),
  })
  .strict()
  .refine((v) => v.type !== undefined || v.nullable !== undefined || v.default !== undefined || v.unique !== undefined, {
    message: 'give at least one of type, nullable, default, unique',
  });
export type AlterColumnInput = z.infer<typeof alterColumnSchema>;

export const patchTableSchema = z
  .object({
    add_columns: z.array(columnSchema).max(1600).optional(),
    drop_columns: z.array(identifier).max(1600).optional(),
    rename_columns: z.array(z.object({ from: identifier, to: identifier }).strict()).max(1600).optional(),
    add_indexes: z.array(indexSchema).max(64).optional(),
    drop_indexes: z.array(identifier).max(64).optional(),
    alter_columns: z.array(alterColumnSchema).max(1600).optional(),
  })
  .strict()
  .refine((v) => Object.values(v).some((x) => Array.isArray(x) && x.length > 0), { message: 'nothing to change' });
export type PatchTableInput = z.infer<typeof patchTableSchema>;

/** A column as stored. */
export interface ColumnDefinition {
  name: string;
  type: string;
  nullable: boolean;
  default?: DefaultDefinition;
  primary_key: boolean;
  unique: boolean;
  references?: { table: string; column: string; on_delete: (typeof ON_DELETE)[number]; constraint: string };
  /** type enum */
  values?: string[];
  /** type tsvector */
  generated?: { from: string[]; language: string };
}
export interface IndexDefinition {
  name: string;
  columns: string[];
  unique: boolean;
}
/** A declared table as stored in the control schema. */
export interface TableDefinition {
  name: string;
  columns: ColumnDefinition[];
  indexes: IndexDefinition[];
}

/**
 * A PostgreSQL object name from parts, kept under 63 bytes: past that a short hash replaces the tail, so two long
 * names never truncate to the same thing.
 */
export function objectName(parts: string[], suffix: string): string {
  const full = `${parts.join('_')}_${suffix}`;
  if (full.length <= 63) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 10);
  return `${full.slice(0, 63 - suffix.length - 12)}_${hash}_${suffix}`;
}

/** The stored form of a column from the request (names and type not yet checked against the table). */
export function columnDefinition(table: string, input: ColumnInput): ColumnDefinition {
  const col: ColumnDefinition = {
    name: input.name,
    type: canonicalType(input.type) ?? input.type,
    nullable: input.primary_key ? false : (input.nullable ?? true),
    primary_key: input.primary_key ?? false,
    unique: input.unique ?? false,
  };
  if (input.default !== undefined) col.default = parseDefault(input.default);
  if (input.values !== undefined) col.values = [...input.values];
  if (input.generated !== undefined) col.generated = { from: [...input.generated.from], language: input.generated.language ?? 'simple' };
  if (col.default?.kind === 'identity') col.nullable = false;
  if (input.references) {
    col.references = {
      table: input.references.table,
      column: input.references.column,
      on_delete: input.references.on_delete ?? 'no action',
      constraint: objectName([table, input.name], 'fkey'),
    };
  }
  return col;
}

export function indexDefinition(table: string, input: IndexInput): IndexDefinition {
  return { name: input.name ?? objectName([table, ...input.columns], 'idx'), columns: input.columns, unique: input.unique ?? false };
}

export function tableDefinition(input: CreateTableInput): TableDefinition {
  return {
    name: input.name,
    columns: input.columns.map((c) => columnDefinition(input.name, c)),
    indexes: (input.indexes ?? []).map((i) => indexDefinition(input.name, i)),
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Why a literal default can't be stored in a column of `type`, or null when it can. */
function literalProblem(type: string, value: unknown): string | null {
  if (value === null) return null;
  const base = baseType(type);
  if (type.endsWith('[]')) {
    if (!Array.isArray(value)) return 'must be an array for an array column';
    for (const v of value) {
      const p = literalProblem(type.slice(0, -2), v);
      if (p || v === null) return p ?? 'array defaults may not hold null';
    }
    return null;
  }
  switch (base) {
    case 'jsonb':
      return null;
    case 'int4':
    case 'int8':
      return typeof value === 'number' && Number.isSafeInteger(value) ? null : 'must be an integer';
    case 'float8':
      return typeof value === 'number' && Number.isFinite(value) ? null : 'must be a number';
    case 'numeric':
      return (typeof value === 'number' && Number.isFinite(value)) || (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value)) ? null : 'must be a number';
    case 'bool':
      return typeof value === 'boolean' ? null : 'must be true or false';
    case 'uuid':
      return typeof value === 'string' && UUID.test(value) ? null : 'must be a UUID';
    case 'varchar': {
      const n = Number(/\((\d+)\)/.exec(type)?.[1]);
      if (typeof value !== 'string') return 'must be a string';
      return value.length <= n ? null : `is longer than ${n} characters`;
    }
    default:
      // text, date, timestamptz: strings; PostgreSQL checks dates when the table is created.
      if (typeof value !== 'string') return 'must be a string';
      return value.includes('\u0000') ? 'may not contain NUL' : null;
  }
}

function defaultProblem(col: ColumnDefinition): string | null {
  const d = col.default;
  if (!d) return null;
  const base = baseType(col.type);
  switch (d.kind) {
    case 'now':
      return base === 'timestamptz' || base === 'date' ? null : 'now() needs a timestamptz or date column';
    case 'gen_random_uuid':
      return base === 'uuid' ? null : 'gen_random_uuid() needs a uuid column';
    case 'auth_uid':
      return base === 'uuid' || base === 'text' ? null : 'auth.uid needs a uuid or text column';
    case 'identity':
      return base === 'int4' || base === 'int8' ? null : 'identity needs an int4 or int8 column';
    case 'literal':
      return literalProblem(col.type, d.value);
  }
}

/** What enum and tsvector columns need, and that `values`/`generated` appear only on them. */
function specialTypeProblems(def: TableDefinition, col: ColumnDefinition, at: string, add: (path: string, message: string) => void): void {
  if (col.type === 'enum') {
    const values = col.values ?? [];
    if (values.length === 0) add(`${at}.values`, 'an enum column needs its values');
    if (new Set(values).size !== values.length) add(`${at}.values`, 'a value is listed twice');
    if (values.some((v) => v.includes('\u0000'))) add(`${at}.values`, 'values may not contain NUL');
    if (col.default?.kind === 'literal' && col.default.value !== null && !values.includes(col.default.value as string)) {
      add(`${at}.default`, 'must be one of the values');
    }
  } else if (col.values !== undefined) add(`${at}.values`, 'values are only for enum columns');
  if (col.type === 'tsvector') {
    const g = col.generated;
    if (!g) add(`${at}.generated`, 'a tsvector column is generated: give generated.from (text columns) and optionally generated.language');
    else {
      if (!(TEXT_SEARCH_CONFIGS as readonly string[]).includes(g.language)) add(`${at}.generated.language`, `unknown text search configuration "${g.language}"; use one of ${TEXT_SEARCH_CONFIGS.join(', ')}`);
      for (const f of g.from) {
        const source = def.columns.find((c) => c.name === f);
        if (!source) add(`${at}.generated.from`, `no column "${f}"`);
        else if (!['text', 'varchar', 'enum'].includes(baseType(source.type))) add(`${at}.generated.from`, `"${f}" is not a text column`);
      }
    }
    if (col.default) add(`${at}.default`, 'a generated column has no default');
    if (col.primary_key || col.unique) add(`${at}.type`, 'a tsvector column cannot be a key');
    if (col.references) add(`${at}.references`, 'a tsvector column cannot reference another table');
  } else if (col.generated !== undefined) add(`${at}.generated`, 'generated is only for tsvector columns');
  if (col.type === 'enum' && col.references) add(`${at}.references`, 'an enum column cannot reference another table');
}

export interface ValidationContext {
  /** The project's other declared tables (for references). */
  tables: ReadonlyMap<string, TableDefinition>;
  maxColumns: number;
}

/** Every problem with a definition, as `{path, message}` (empty when it is fine). */
export function validateTable(def: TableDefinition, ctx: ValidationContext): Array<{ path: string; message: string }> {
  const problems: Array<{ path: string; message: string }> = [];
  const add = (path: string, message: string) => problems.push({ path, message });
  if (def.columns.length > ctx.maxColumns) add('columns', `a table may have at most ${ctx.maxColumns} columns`);
  if (def.columns.length === 0) add('columns', 'a table needs at least one column');
  const names = new Set<string>();
  def.columns.forEach((col, i) => {
    const at = `columns.${i}`;
    if (names.has(col.name)) add(`${at}.name`, `duplicate column "${col.name}"`);
    names.add(col.name);
    if (!canonicalType(col.type)) add(`${at}.type`, `unsupported type "${col.type}"; use one of ${TYPE_LIST}`);
    else {
      const dp = defaultProblem(col);
      if (dp) add(`${at}.default`, dp);
    }
    specialTypeProblems(def, col, at, add);
    if (col.primary_key && col.type.endsWith('[]')) add(`${at}.primary_key`, 'an array column cannot be a primary key');
    if (col.references) {
      const ref = col.references;
      const target = ref.table === def.name ? def : ctx.tables.get(ref.table);
      const targetCol = target?.columns.find((c) => c.name === ref.column);
      if (!target) add(`${at}.references.table`, `no declared table "${ref.table}"`);
      else if (!targetCol) add(`${at}.references.column`, `table "${ref.table}" has no column "${ref.column}"`);
      else {
        const pk = target.columns.filter((c) => c.primary_key).map((c) => c.name);
        const unique = targetCol.unique || (pk.length === 1 && pk[0] === ref.column) || target.indexes.some((x) => x.unique && x.columns.length === 1 && x.columns[0] === ref.column);
        if (!unique) add(`${at}.references.column`, `"${ref.table}.${ref.column}" must be a primary key or unique to be referenced`);
        const family = (t: string) => (baseType(t) === 'varchar' ? 'text' : baseType(t));
        if (family(targetCol.type) !== family(col.type)) add(`${at}.type`, `must match the type of "${ref.table}.${ref.column}" (${targetCol.type})`);
      }
      if (ref.on_delete === 'set null' && !col.nullable) add(`${at}.references.on_delete`, '"set null" needs a nullable column');
    }
  });
  const indexNames = new Set<string>();
  def.indexes.forEach((idx, i) => {
    if (indexNames.has(idx.name)) add(`indexes.${i}.name`, `duplicate index "${idx.name}"`);
    indexNames.add(idx.name);
    if (/_(pkey|key|fkey)$/.test(idx.name)) add(`indexes.${i}.name`, 'index names may not end in _pkey, _key or _fkey');
    if (new Set(idx.columns).size !== idx.columns.length) add(`indexes.${i}.columns`, 'a column is listed twice');
    for (const c of idx.columns) if (!names.has(c)) add(`indexes.${i}.columns`, `no column "${c}"`);
  });
  return problems;
}

/** The columns of the primary key, in declaration order. */
export function primaryKeyOf(def: TableDefinition): string[] {
  return def.columns.filter((c) => c.primary_key).map((c) => c.name);
}

/** One column before and after `alter_columns`, for {@link alterColumnSql} and error paths. */
export interface ColumnAlteration {
  /** Index in `alter_columns`. */
  index: number;
  before: ColumnDefinition;
  /** The column object inside the definition (so its final position can be found after other changes). */
  after: ColumnDefinition;
}

/**
 * Applies `alter_columns` to `def` (in place) and lists what can't be altered. What only the whole definition can
 * tell (a default that doesn't fit the new type, a reference whose types no longer match) is left to
 * {@link validateTable}; PostgreSQL judges the existing rows.
 */
export function alterColumns(
  def: TableDefinition,
  inputs: AlterColumnInput[],
  /** Other tables' columns that reference a column of this one. */
  referencedBy: (column: string) => string[],
): { alterations: ColumnAlteration[]; problems: Array<{ path: string; message: string }> } {
  const problems: Array<{ path: string; message: string }> = [];
  const alterations: ColumnAlteration[] = [];
  const seen = new Set<string>();
  inputs.forEach((input, index) => {
    const at = `alter_columns.${index}`;
    const add = (field: string, message: string) => problems.push({ path: `${at}.${field}`, message });
    const col = def.columns.find((c) => c.name === input.name);
    if (seen.has(input.name)) return add('name', `column "${input.name}" is listed twice`);
    seen.add(input.name);
    if (!col) return add('name', `no column "${input.name}"`);
    if (col.generated) return add('name', 'a generated column cannot be altered; drop it and add another');
    const before = structuredClone(col);
    const users = referencedBy(col.name);
    if (input.type !== undefined) {
      const type = canonicalType(input.type) ?? input.type;
      if (type !== col.type) {
        if (col.type === 'enum' || type === 'enum') add('type', 'enum columns keep their type; add a new column instead');
        else if (type === 'tsvector') add('type', 'a tsvector column is generated; add one instead');
        else if (users.length) add('type', `referenced by ${users.join(', ')}; its type can't change`);
        else {
          const generatedBy = def.columns.filter((c) => c.generated?.from.includes(col.name)).map((c) => `"${c.name}"`);
          if (generatedBy.length) add('type', `used by the generated column ${generatedBy.join(', ')}; its type can't change`);
        }
        col.type = type;
      }
    }
    if (input.nullable !== undefined && input.nullable !== col.nullable) {
      if (col.primary_key) add('nullable', 'a primary key column is never null');
      else if (col.default?.kind === 'identity') add('nullable', 'an identity column is never null');
      col.nullable = input.nullable;
    }
    if (input.default !== undefined) {
      const next = input.default === null ? undefined : parseDefault(input.default);
      if ((next?.kind === 'identity') !== (col.default?.kind === 'identity')) {
        add('default', 'identity is set when a column is added and stays');
      } else if (next?.kind === 'identity') {
        // Unchanged.
      } else if (next === undefined) delete col.default;
      else col.default = next;
    }
    if (input.unique !== undefined && input.unique !== col.unique) {
      if (col.primary_key) add('unique', 'a primary key column is unique already');
      else if (!input.unique && users.length && !def.indexes.some((x) => x.unique && x.columns.length === 1 && x.columns[0] === col.name)) {
        add('unique', `referenced by ${users.join(', ')}; it must stay unique`);
      }
      col.unique = input.unique;
    }
    alterations.push({ index, before, after: col });
  });
  return { alterations, problems };
}

/**
 * {@link validateTable}'s paths (`columns.3.default`) of an altered column, as the request named them
 * (`alter_columns.0.default`), so a form can show each problem beside its field.
 */
export function alterationPaths(def: TableDefinition, alterations: ColumnAlteration[], problems: Array<{ path: string; message: string }>): Array<{ path: string; message: string }> {
  const byPosition = new Map<number, number>();
  for (const a of alterations) {
    const i = def.columns.indexOf(a.after);
    if (i >= 0) byPosition.set(i, a.index);
  }
  return problems.map((p) => {
    const m = /^columns\.(\d+)(\..*)?$/.exec(p.path);
    const index = m ? byPosition.get(Number(m[1])) : undefined;
    return index === undefined ? p : { path: `alter_columns.${index}${m![2] ?? ''}`, message: p.message };
  });
}
