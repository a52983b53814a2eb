import { Logger } from '@nestjs/common';
import { PlinthConfig } from '@plinth/config';
import { ensureDatabase, ensureTenantLoginRole, prepareTenantCluster, RunningDatabase, runMigrations, startEmbeddedPostgres } from '@plinth/database';

/**
 * The database Plinth will use: `DATABASE_URL` when set (the database is created if missing), otherwise
 * the embedded Postgres under EMBEDDED_PG_DIR. Migrations are applied and the tenant login role set up
 * either way.
 */
export async function prepareDatabase(config: PlinthConfig): Promise<RunningDatabase> {
  let db: RunningDatabase;
  if (config.database.url) {
    await ensureDatabase(config.database.url, config.database.connectWaitMs);
    db = { url: config.database.url, embedded: false, stop: async () => undefined };
  } else {
    const { dir, port } = config.database.embedded;
    db = await startEmbeddedPostgres(dir, port, 'plinth');
    new Logger('Database').log(`Embedded Postgres running on 127.0.0.1:${port} (data in ${dir})`);
  }
  await runMigrations(db.url);
  await ensureTenantLoginRole(db.url, config.secret);
  // Further clusters for tenant schemas (DATABASE_CLUSTERS): the tenant login role and the role guard on each.
  for (const url of Object.values(config.database.clusters)) await prepareTenantCluster(url, config.secret, config.database.connectWaitMs);
  return db;
}
