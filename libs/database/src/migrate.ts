import { Logger } from '@nestjs/common';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { CONTROL_MIGRATIONS } from './migrations';
import { runTenantMigrations } from './tenant-migrator';

export const CONTROL_SCHEMA = 'control';
const MIGRATION_LOCK = 727_100_001;

/** Options shared by every control-plane DataSource: the schema, migrations, and never `synchronize`. */
export function controlDataSourceOptions(url: string) {
  return {
    type: 'postgres' as const,
    url,
    schema: CONTROL_SCHEMA,
    migrations: CONTROL_MIGRATIONS,
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'all' as const,
    synchronize: false,
  };
}

/**
 * Applies pending control-schema migrations, then the tenant migrations the default cluster's schemas lack (see
 * runTenantMigrations). An advisory lock makes concurrent starts (several api instances, parallel test workers) run
 * them once.
 */
export async function runMigrations(url: string): Promise<string[]> {
  const lock = new Client({ connectionString: url });
  await lock.connect();
  const ds = new DataSource({ ...controlDataSourceOptions(url), poolSize: 2 });
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await lock.query(`CREATE SCHEMA IF NOT EXISTS ${CONTROL_SCHEMA}`);
    await lock.query(`REVOKE ALL ON SCHEMA ${CONTROL_SCHEMA} FROM PUBLIC`);
    await ds.initialize();
    const applied = await ds.runMigrations({ transaction: 'all' });
    if (applied.length) new Logger('Migrations').log(`Applied ${applied.map((m) => m.name).join(', ')}`);
    // The control database is the default cluster: its project schemas get the tenant migrations they lack.
    const tenant = await runTenantMigrations(url, { isDefault: true });
    return [...applied.map((m) => m.name), ...tenant];
  } finally {
    if (ds.isInitialized) await ds.destroy();
    await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await lock.end();
  }
}
