import { Logger } from '@nestjs/common';
import { Client } from 'pg';
import { TENANT_MIGRATIONS } from './tenant-migrations/index';

/** Names of one project's schema and roles on a cluster (as libs/tenancy's tenantNames derives them from the ref). */
export interface TenantSchemaNames {
  ref: string;
  schema: string;
  ownerRole: string;
  dataRole: string;
  authRole: string;
  storageRole: string;
}

/**
 * A change to every project's schema, applied once per cluster by {@link runTenantMigrations} (at boot: the default
 * cluster after the control migrations, every other cluster when it is prepared). `up` gives the SQL for one schema;
 * it must be idempotent (IF NOT EXISTS, guarded DO blocks): a batch may run again after a crash, and a project
 * provisioned meanwhile already has the newest shape from the provisioning hooks. Frozen once landed, like control
 * migrations; append new ones to TENANT_MIGRATIONS.
 */
export interface TenantMigration {
  /** Unique; `<Name><timestamp>`, the timestamp in the author's migration range. */
  name: string;
  /**
   * Run as the schema's owner role (`SET LOCAL ROLE`), so what it creates is the owner's, as at provisioning.
   * False for what only the cluster's admin user may do (creating roles, granting them to the tenant login role).
   */
  asOwner: boolean;
  /**
   * The control migration that already made this change on the default cluster's schemas (before tenant migrations
   * existed, control migrations looped over `control.projects` in the control database only): there this one is
   * recorded without running.
   */
  coveredOnDefaultBy?: string;
  up(s: TenantSchemaNames): string;
}

/** Schemas per transaction: one migration over 10,000 schemas in one transaction would exhaust the lock table. */
const BATCH = 100;
const TENANT_MIGRATION_LOCK = 727_100_002;
const SCHEMA = /^t_[a-z][a-z0-9]{11}$/;

/** A project's names from its schema's name (`t_<ref>`). */
export function tenantSchemaNames(schema: string): TenantSchemaNames {
  if (!SCHEMA.test(schema)) throw new Error(`not a tenant schema: ${JSON.stringify(schema)}`);
  return { ref: schema.slice(2), schema, ownerRole: `${schema}_owner`, dataRole: `${schema}_data`, authRole: `${schema}_auth`, storageRole: `${schema}_storage` };
}

/**
 * Runs SQL in every project schema on the cluster `client` is connected to, in transactions of {@link BATCH}
 * schemas (one round trip each), each schema's SQL as its owner role when `asOwner`. The schemas are the cluster's
 * own (`t_<ref>` with an owner role), not the control plane's list: the cluster needs nothing but itself, and a
 * schema being moved in or provisioned concurrently is either seen or already has the newest shape. Returns how many
 * schemas it ran in.
 */
export async function forEachTenantSchema(client: Client, sql: (s: TenantSchemaNames) => string, asOwner: boolean): Promise<number> {
  const { rows } = await client.query<{ schema: string }>(
    `SELECT n.nspname AS schema FROM pg_namespace n
      WHERE n.nspname ~ '^t_[a-z][a-z0-9]{11}$' AND EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = n.nspname || '_owner')
      ORDER BY n.nspname`,
  );
  for (let i = 0; i < rows.length; i += BATCH) {
    const text = rows.slice(i, i + BATCH).map(({ schema }) => {
      const s = tenantSchemaNames(schema);
      return asOwner ? `SET LOCAL ROLE "${s.ownerRole}";\n${sql(s)};\nRESET ROLE;` : `${sql(s)};`;
    }).join('\n');
    await client.query('BEGIN');
    try {
      await client.query(text);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }
  return rows.length;
}

/**
 * Applies the tenant migrations a cluster hasn't had yet, recorded in the cluster's own
 * `plinth_cluster.tenant_migrations` (so each applies once per cluster, and a cluster that joins later, or missed a
 * release while it was out of the config, catches up the next time Plinth boots with it). An advisory lock on the
 * cluster makes concurrent boots run them once. Returns the names applied.
 */
export async function runTenantMigrations(url: string, opts: { isDefault: boolean; migrations?: TenantMigration[] }): Promise<string[]> {
  const migrations = opts.migrations ?? TENANT_MIGRATIONS;
  const client = new Client({ connectionString: url, application_name: 'plinth-tenant-migrations' });
  await client.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [TENANT_MIGRATION_LOCK]);
    await client.query(`
      CREATE SCHEMA IF NOT EXISTS plinth_cluster;
      REVOKE ALL ON SCHEMA plinth_cluster FROM PUBLIC;
      CREATE TABLE IF NOT EXISTS plinth_cluster.tenant_migrations (
        name text PRIMARY KEY,
        schemas int NOT NULL,
        -- the control migration whose loop did it, when it wasn't run here (default cluster only)
        covered_by text,
        applied_at timestamptz NOT NULL DEFAULT now()
      );
    `);
    const done = new Set((await client.query<{ name: string }>('SELECT name FROM plinth_cluster.tenant_migrations')).rows.map((r) => r.name));
    for (const m of migrations) {
      if (done.has(m.name)) continue;
      if (opts.isDefault && m.coveredOnDefaultBy) {
        await client.query('INSERT INTO plinth_cluster.tenant_migrations (name, schemas, covered_by) VALUES ($1, 0, $2)', [m.name, m.coveredOnDefaultBy]);
        continue;
      }
      const schemas = await forEachTenantSchema(client, (s) => m.up(s), m.asOwner);
      await client.query('INSERT INTO plinth_cluster.tenant_migrations (name, schemas) VALUES ($1, $2)', [m.name, schemas]);
      applied.push(m.name);
    }
    if (applied.length) new Logger('TenantMigrations').log(`Applied ${applied.join(', ')} on ${new URL(url).host}${new URL(url).pathname}`);
    return applied;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [TENANT_MIGRATION_LOCK]).catch(() => undefined);
    await client.end();
  }
}
