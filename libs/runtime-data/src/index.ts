/** The data runtime module: table catalog API + PostgREST-compatible REST at /p/:ref/rest/v1. */
export { DataRuntimeModule } from './data-runtime.module';
/** Declared tables: catalog changes (DDL in one transaction, exact grants, audit) and the caller type they take. */
export { TablesService } from './catalog/tables.service';
export type { TableAdmin, TableView } from './catalog/tables.service';
/** Where other runtimes hang DDL of their own on a newly declared table, in the declaring transaction. */
export { TableHooks } from './catalog/table-hooks';
export type { DeclaredTable, TableHook } from './catalog/table-hooks';
/** Reports projects' declared tables to tenancy (for plan limits); the worker imports it without the runtime. */
export { CatalogStructureModule } from './catalog/catalog-structure.module';
/** Compiled, cached catalogs per project, invalidated across instances on change. */
export { DataCatalog, DATA_CATALOG_TOPIC } from './catalog/data-catalog';
/** Request shapes and validation of table definitions (zod), and the stored definition types. */
export { createTableSchema, patchTableSchema, columnSchema, indexSchema, validateTable, identifierProblem, canonicalType } from './catalog/table-definition';
export type { CreateTableInput, PatchTableInput, TableDefinition, ColumnDefinition, IndexDefinition } from './catalog/table-definition';
/** DDL generation for declared tables (quoted identifiers, escaped literals, grants to the data role). */
export { createTableSql, AUTH_UID_SETTING } from './catalog/table-ddl';
/** Table rules (CASL): schema, validation, and the per-caller ability → SQL policy. */
export { rulesSchema, ruleSchema, validateRules, buildAbility, policyFromAbility, resolveWhere } from './rules/table-rules';
export type { StoredRule, RuleInput, Caller } from './rules/table-rules';
/** The REST request path: catalog + policy → one statement in the tenant transaction → PostgREST response. */
export { RestService } from './rest/rest.service';
export type { RestRequest, RestMethod } from './rest/rest.service';
/** The REST runtime's routes and PostgREST error dialect on the tenant edge. */
export { RestEdge, POSTGREST_DIALECT } from './rest/rest-edge';
/** The per-project OpenAPI document. */
export { openApiDocument } from './rest/openapi';
/** The caller's policy from the tenant context (secret, restricted, anon, authenticated). */
export { policyFor, restrictedPolicy } from './rest/tenant-policy';
/** The pure PostgREST parser and SQL generator the runtime is built on. */
export * from './postgrest';
/** Where the functions runtime binds `rpc()` (`/rest/v1/rpc/:name`) without the data runtime depending on it. */
export { RpcRegistry } from './rest/rpc-registry';
export type { RpcCall, RpcHandler } from './rest/rpc-registry';
