import type { Catalog, ColumnDef, PolicyFn, TableDef } from '../postgrest';
import { StoredRule } from '../rules/table-rules';
import { TableDefinition, primaryKeyOf } from './table-definition';
import { DEFAULT_DATA_SETTINGS, DataSettings } from './data-settings';
import { defaultExpression } from './table-ddl';

/**
 * Everything the REST runtime needs about one project's declared tables, compiled once per catalog change: the
 * generator's {@link Catalog}, the stored definitions (OpenAPI) and rules, and lazily the anonymous policy (the
 * same for every anonymous caller, so it is built once, not per request).
 */
export interface ProjectCatalog {
  projectId: string;
  catalog: Catalog;
  definitions: ReadonlyMap<string, TableDefinition>;
  rules: ReadonlyMap<string, StoredRule[]>;
  /** The project's data settings (transaction end, aggregates). */
  settings: DataSettings;
  /** Tables with a column defaulting to the caller's user id. */
  authUidTables: ReadonlySet<string>;
  anonPolicy?: PolicyFn;
  /**
   * The OpenAPI document for callers whose policy is the same for everyone (anonymous, secret key), built on first
   * use: it depends only on this catalog and that policy, so it goes (and is invalidated) with the catalog.
   */
  openApi?: Partial<Record<'anon' | 'service', OpenApiBody>>;
}

/** A serialised OpenAPI document; `etag` is filled in by whoever sends it first (it depends on the HTTP app). */
export interface OpenApiBody {
  json: Buffer;
  etag?: string;
}

/** The generator's table from a stored definition. */
export function tableDef(def: TableDefinition, schema: string): TableDef {
  const columns: ColumnDef[] = def.columns.map((c) => ({
    name: c.name,
    // The generator sees an enum as what it is stored as.
    type: c.type === 'enum' ? 'text' : c.type,
    nullable: c.nullable,
    hasDefault: c.default !== undefined,
    defaultSql: defaultExpression(schema, def.name, c),
    generated: c.generated !== undefined,
  }));
  const uniques = [
    ...def.columns.filter((c) => c.unique && !c.primary_key).map((c) => [c.name]),
    ...def.indexes.filter((i) => i.unique).map((i) => [...i.columns]),
  ];
  return {
    name: def.name,
    columns,
    primaryKey: primaryKeyOf(def),
    uniques,
    foreignKeys: def.columns
      .filter((c) => c.references)
      .map((c) => ({ name: c.references!.constraint, columns: [c.name], refTable: c.references!.table, refColumns: [c.references!.column] })),
  };
}

export function compileCatalog(
  projectId: string,
  schema: string,
  rows: Array<{ definition: TableDefinition; rules: StoredRule[] }>,
  settings: DataSettings = DEFAULT_DATA_SETTINGS,
): ProjectCatalog {
  const definitions = new Map(rows.map((r) => [r.definition.name, r.definition]));
  return {
    projectId,
    catalog: { schema, tables: new Map(rows.map((r) => [r.definition.name, tableDef(r.definition, schema)])) },
    definitions,
    rules: new Map(rows.map((r) => [r.definition.name, r.rules])),
    settings: { txEnd: settings.txEnd, aggregates: settings.aggregates },
    authUidTables: new Set(rows.filter((r) => r.definition.columns.some((c) => c.default?.kind === 'auth_uid')).map((r) => r.definition.name)),
  };
}
