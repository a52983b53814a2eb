/**
 * The declared catalog of one project and the caller's resolved policy. Both are produced elsewhere (catalog from
 * the management API's table declarations, policy from the CASL rules with the caller's values substituted); this
 * folder only reads them. Identifiers that reach SQL come from here and nowhere else.
 */
export interface ColumnDef {
  name: string;
  /** 'text','varchar(40)','int4','int8','float8','numeric','bool','uuid','timestamptz','date','jsonb','text[]' … */
  type: string;
  nullable: boolean;
  hasDefault: boolean;
  /** The default's SQL expression (trusted: generated from the validated declaration), for `missing=default`. */
  defaultSql?: string;
  /** A generated column (tsvector): readable, never written. */
  generated?: boolean;
}
export interface ForeignKeyDef {
  name: string;
  columns: string[];
  refTable: string;
  refColumns: string[];
}
export interface TableDef {
  name: string;
  columns: ColumnDef[];
  primaryKey: string[];
  uniques: string[][];
  foreignKeys: ForeignKeyDef[];
}
export interface Catalog {
  /** e.g. t_abc123, already validated */
  schema: string;
  tables: ReadonlyMap<string, TableDef>;
}

/**
 * Row-level policy, already resolved for the caller (values substituted). A table's policy for an action is either
 * 'all' (no restriction), 'none' (deny), or a list of conditions OR-ed together, each an AND of its column tests.
 */
export type Scalar = string | number | boolean | null;
export type ColumnTest =
  | Scalar
  | { $eq?: Scalar; $ne?: Scalar; $gt?: Scalar; $gte?: Scalar; $lt?: Scalar; $lte?: Scalar; $in?: Scalar[]; $nin?: Scalar[] };
export type RowCondition = Record<string, ColumnTest>;
export type Action = 'read' | 'create' | 'update' | 'delete';
export interface TablePolicy {
  rows: 'all' | 'none' | RowCondition[];
  /** readable (read) or writable (create/update) columns */
  columns: string[] | 'all';
}
export type PolicyFn = (table: string, action: Action) => TablePolicy;

/** A policy function that allows everything: what a secret key gets. */
export const allowAll: PolicyFn = () => ({ rows: 'all', columns: 'all' });

export function findColumn(table: TableDef, name: string): ColumnDef | undefined {
  return table.columns.find((c) => c.name === name);
}

/** Whether `name` is one of the columns the policy lets the caller use. */
export function policyAllowsColumn(policy: TablePolicy, name: string): boolean {
  return policy.columns === 'all' || policy.columns.includes(name);
}
