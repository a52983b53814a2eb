import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { Client, Pool, PoolClient } from 'pg';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { DATABASE_URL } from './database.tokens';
import { ensureDatabase } from './embedded-postgres';
import { ensureTenantLoginRole } from './tenant-login';
import { runTenantMigrations } from './tenant-migrator';

/**
 * What every cluster holding tenant schemas needs besides them: the tenant login role and `tenant_guard.assert_role`
 * (see migration 1764000200000), which the tenant executor calls in every transaction. The control database gets
 * them from its migrations; a further cluster gets them here, at boot, and then the tenant migrations its project
 * schemas lack (see runTenantMigrations: a cluster that joined later, or was out of the config, catches up). Idempotent.
 */
export async function prepareTenantCluster(url: string, secret: string, connectWaitMs = 0): Promise<void> {
  await ensureDatabase(url, connectWaitMs);
  await ensureTenantLoginRole(url, secret);
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`
      DO $$
      BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'tenant_guard') THEN
          CREATE SCHEMA tenant_guard;
          REVOKE ALL ON SCHEMA tenant_guard FROM PUBLIC;
          GRANT USAGE ON SCHEMA tenant_guard TO PUBLIC;
          CREATE FUNCTION tenant_guard.assert_role(expected text) RETURNS void
            LANGUAGE plpgsql STABLE SECURITY INVOKER
            AS $f$
            BEGIN
              IF current_user::text OPERATOR(pg_catalog.<>) expected THEN
                RAISE EXCEPTION 'tenant transaction left its data role'
                  USING ERRCODE = 'XX000', DETAIL = pg_catalog.format('expected %s, running as %s', expected, current_user);
              END IF;
            END
            $f$;
          REVOKE ALL ON FUNCTION tenant_guard.assert_role(text) FROM PUBLIC;
          GRANT EXECUTE ON FUNCTION tenant_guard.assert_role(text) TO PUBLIC;
        END IF;
      END $$;
    `);
  } finally {
    await client.end();
  }
  await runTenantMigrations(url, { isDefault: false });
}

/**
 * The clusters tenant schemas live on, by name: the default one (DATABASE_CLUSTER_NAME) is the control database,
 * further ones come from DATABASE_CLUSTERS. Gives the operator-level connections that provisioning, DDL and moves
 * need on a cluster (as the URL's user, not the tenant login role); the tenant executor has its own pools.
 */
@Injectable()
export class TenantClusters implements OnModuleDestroy {
  private readonly admin = new Map<string, Pool>();

  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    @Inject(DATABASE_URL) private readonly controlUrl: string,
  ) {}

  /** The default cluster's name (the control database). */
  get defaultName(): string {
    return this.config.database.clusterName;
  }

  /** Every configured cluster's name, the default first. */
  names(): string[] {
    return [this.config.database.clusterName, ...Object.keys(this.config.database.clusters)];
  }

  has(name: string): boolean {
    return name === this.config.database.clusterName || Object.prototype.hasOwnProperty.call(this.config.database.clusters, name);
  }

  /** A cluster's URL (its admin user's); throws for an unknown name. */
  url(name: string): string {
    if (name === this.config.database.clusterName) return this.controlUrl;
    const url = this.config.database.clusters[name];
    if (url === undefined || !Object.prototype.hasOwnProperty.call(this.config.database.clusters, name)) throw new Error(`Unknown database cluster "${name}"`);
    return url;
  }

  /** Runs `fn` in a transaction on a cluster as its admin user (small pool per cluster, opened on first use). */
  async transaction<T>(name: string, fn: (client: PoolClient) => Promise<T>): Promise<T> {
    let pool = this.admin.get(name);
    if (!pool) {
      pool = new Pool({ connectionString: this.url(name), max: 2, idleTimeoutMillis: 10_000, application_name: `plinth-admin-${name}` });
      pool.on('error', () => undefined); // an idle client's error: the next checkout connects again
      this.admin.set(name, pool);
    }
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all([...this.admin.values()].map((p) => p.end()));
    this.admin.clear();
  }
}
