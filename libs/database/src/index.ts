/** Control data source (TypeORM, migrations) and the tenant executor; registered once by each app. */
export { DatabaseModule } from './database.module';
/** The resolved control database URL. */
export { DATABASE_URL } from './database.tokens';
/** Runs tenant statements as a project's data role in a transaction, on the tenant pool of its cluster. */
export { TenantDatabase } from './tenant-database';
export type { TenantRole, TenantTarget } from './tenant-database';
/** The clusters tenant schemas live on (admin transactions per cluster), and a further cluster's boot set-up. */
export { TenantClusters, prepareTenantCluster } from './tenant-clusters';
/** Names of the prepared statements the tenant executor keeps per connection. */
export { statementName } from './prepared-statements';
/** Boot helpers: the embedded Postgres, database creation, migrations. */
export { startEmbeddedPostgres, ensureDatabase, quoteIdent, EmbeddedPostgresError } from './embedded-postgres';
export type { RunningDatabase } from './embedded-postgres';
export { runMigrations, controlDataSourceOptions, CONTROL_SCHEMA } from './migrate';
/** Changes to every project schema, applied once per cluster (recorded on the cluster), and the loop they run in. */
export { runTenantMigrations, forEachTenantSchema, tenantSchemaNames } from './tenant-migrator';
export type { TenantMigration, TenantSchemaNames } from './tenant-migrator';
export { TENANT_MIGRATIONS } from './tenant-migrations/index';
/** Transactions on the control database for services (their SQL stays in repositories taking the manager). */
export { ControlTransactions } from './control-transactions';
/** The readiness probe's check of the control database (reachable, migrations applied). */
export { ControlHealthRepository } from './control-health.repository';
export type { ControlHealth } from './control-health.repository';
/** Cross-instance cache invalidation (Postgres LISTEN/NOTIFY, delivered on commit). */
export { CacheInvalidation, invalidationNotice } from './cache-invalidation';
/** The login role tenant pools connect as (may only switch into data roles). */
export { ensureTenantLoginRole, TENANT_LOGIN_ROLE } from './tenant-login';
