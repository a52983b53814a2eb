import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { TENANT_LOGIN_ROLE, TenantClusters } from '@plinth/database';
import { OrgsRepository } from '@plinth/identity';
import { tenantNames } from './project-ref';
import { Placement } from './placement';
import { ProvisioningHooks, TenantSql } from './provisioning-hooks';

/**
 * Raw, templated DDL for a tenant: a schema owned by a NOLOGIN owner role, and two weaker NOLOGIN roles with
 * USAGE on the schema only: the data role (table grants come when tables are declared), the auth role and the
 * storage role (grants on their runtime's tables come from its hook). Only the tenant login
 * role may switch into them. One round trip, in the caller's transaction, so a failure leaves nothing behind. Names come from {@link tenantNames}, which
 * only accepts validated refs, so interpolation is safe.
 */
@Injectable()
export class Provisioner {
  constructor(
    private readonly hooks: ProvisioningHooks,
    private readonly orgs: OrgsRepository,
    private readonly clusters: TenantClusters,
    private readonly placement: Placement,
  ) {}

  /** The cluster a new project of the org goes to (see {@link Placement}). */
  place(orgId: string): Promise<string> {
    return this.placement.choose(orgId);
  }

  /**
   * {@link provision} on the project's cluster: in the control transaction `m` on the default cluster (all or
   * nothing), else in a transaction of that cluster committed just before the control one (should the control
   * transaction fail after it, an unused schema is left on that cluster, under a ref nobody holds).
   */
  async provisionOn(m: EntityManager, cluster: string, ref: string): Promise<void> {
    if (cluster === this.clusters.defaultName) return this.provision(m, ref);
    await this.clusters.transaction(cluster, (c) => this.provision(sqlOn(c), ref));
  }

  /**
   * Runs tenant DDL for a project on its cluster: in `m` (the caller's control transaction) on the default cluster,
   * else in a transaction of the project's cluster, committed before the caller's.
   */
  async onCluster<T>(m: EntityManager, cluster: string, fn: (sql: TenantSql) => Promise<T>): Promise<T> {
    if (cluster === this.clusters.defaultName) return fn(m);
    return this.clusters.transaction(cluster, (c) => fn(sqlOn(c)));
  }

  /**
   * Runs the runtimes' teardown hooks in the control transaction `m` (e.g. the storage runtime enqueues the job that
   * removes the project's files), then {@link deprovision} on the project's cluster (see {@link provisionOn}).
   */
  async deprovisionOn(m: EntityManager, cluster: string, ref: string): Promise<void> {
    await this.hooks.teardown(m, { ref, ...tenantNames(ref) });
    if (cluster === this.clusters.defaultName) return this.deprovision(m, ref);
    await this.clusters.transaction(cluster, (c) => this.deprovision(sqlOn(c), ref));
  }

  /** Locks the org row for the rest of the transaction and runs the registered admission checks. */
  async admit(m: EntityManager, orgId: string): Promise<void> {
    await this.orgs.lock(m, orgId);
    await this.hooks.admit(m, orgId);
  }

  /** Creates the schema and roles in `m`'s transaction on the project's cluster (see {@link sqlOn}), and runtimes' tables. */
  async provision(m: TenantSql, ref: string): Promise<void> {
    const { schema, ownerRole, dataRole, authRole, storageRole } = tenantNames(ref);
    await this.provisionSchema(m, ref);
    // Runtime tables are created as the owner role, so the owner owns everything in its schema.
    await m.query(`SET LOCAL ROLE "${ownerRole}"`);
    await this.hooks.run(m, { ref, schema, ownerRole, dataRole, authRole, storageRole });
    await m.query('SET LOCAL ROLE NONE');
  }

  /** The roles and the empty schema only (a move copies the tables itself). */
  async provisionSchema(m: TenantSql, ref: string): Promise<void> {
    const { schema, ownerRole, dataRole, authRole, storageRole } = tenantNames(ref);
    await m.query(`
      ${this.roles(ref)}
      GRANT "${ownerRole}" TO CURRENT_USER;
      GRANT "${dataRole}" TO ${TENANT_LOGIN_ROLE};
      GRANT "${authRole}" TO ${TENANT_LOGIN_ROLE};
      GRANT "${storageRole}" TO ${TENANT_LOGIN_ROLE};
      CREATE SCHEMA "${schema}" AUTHORIZATION "${ownerRole}";
      GRANT USAGE ON SCHEMA "${schema}" TO "${dataRole}", "${authRole}", "${storageRole}";
    `);
  }

  /**
   * The project's roles, created on a cluster that lacks them: roles belong to a cluster, not to a database, so a
   * project moved back to a cluster it left (or sharing a server with another cluster's database) finds them there.
   */
  private roles(ref: string): string {
    const { ownerRole, dataRole, authRole, storageRole } = tenantNames(ref);
    return [ownerRole, dataRole, authRole, storageRole]
      .map((r) => `DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${r}') THEN CREATE ROLE "${r}" NOLOGIN NOINHERIT; END IF; END $$;`)
      .join('\n');
  }

  /** Drops the schema and its roles; safe to repeat. */
  async deprovision(m: TenantSql, ref: string): Promise<void> {
    const { schema, ownerRole, dataRole, authRole, storageRole } = tenantNames(ref);
    await m.query(`
      DROP SCHEMA IF EXISTS "${schema}" CASCADE;
      DO $$
      BEGIN
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${storageRole}') THEN
          DROP OWNED BY "${storageRole}";
          DROP ROLE "${storageRole}";
        END IF;
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${authRole}') THEN
          DROP OWNED BY "${authRole}";
          DROP ROLE "${authRole}";
        END IF;
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${dataRole}') THEN
          DROP OWNED BY "${dataRole}";
          DROP ROLE "${dataRole}";
        END IF;
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${ownerRole}') THEN
          DROP OWNED BY "${ownerRole}";
          DROP ROLE "${ownerRole}";
        END IF;
      END $$;
    `);
  }
}

/** A connection of another cluster as the {@link TenantSql} provisioning hooks take. */
export function sqlOn(client: { query(sql: string, params?: unknown[]): Promise<{ rows: unknown[] }> }): TenantSql {
  return { query: async (sql, params) => (await client.query(sql, params)).rows };
}
