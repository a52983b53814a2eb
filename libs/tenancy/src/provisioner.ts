import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { TENANT_LOGIN_ROLE } from '@plinth/database';
import { OrgsRepository } from '@plinth/identity';
import { tenantNames } from './project-ref';
import { ProvisioningHooks } from './provisioning-hooks';

/**
 * Raw, templated DDL for a tenant: a schema owned by a NOLOGIN owner role, and two weaker NOLOGIN roles with
 * USAGE on the schema only: the data role (table grants come when tables are declared), the auth role and the
 * storage role (grants on their runtime's tables come from its hook). Only the tenant login role may switch into them. One round trip, in the
 * caller's transaction, so a failure leaves nothing behind. Names come from {@link tenantNames}, which
 * only accepts validated refs, so interpolation is safe.
 */
@Injectable()
export class Provisioner {
  constructor(
    private readonly hooks: ProvisioningHooks,
    private readonly orgs: OrgsRepository,
  ) {}

  /** Locks the org row for the rest of the transaction and runs the registered admission checks. */
  async admit(m: EntityManager, orgId: string): Promise<void> {
    await this.orgs.lock(m, orgId);
    await this.hooks.admit(m, orgId);
  }

  async provision(m: EntityManager, ref: string): Promise<void> {
    const { schema, ownerRole, dataRole, authRole, storageRole } = tenantNames(ref);
    await m.query(`
      CREATE ROLE "${ownerRole}" NOLOGIN NOINHERIT;
      CREATE ROLE "${dataRole}" NOLOGIN NOINHERIT;
      CREATE ROLE "${authRole}" NOLOGIN NOINHERIT;
      CREATE ROLE "${storageRole}" NOLOGIN NOINHERIT;
      GRANT "${ownerRole}" TO CURRENT_USER;
      GRANT "${dataRole}" TO ${TENANT_LOGIN_ROLE};
      GRANT "${authRole}" TO ${TENANT_LOGIN_ROLE};
      GRANT "${storageRole}" TO ${TENANT_LOGIN_ROLE};
      CREATE SCHEMA "${schema}" AUTHORIZATION "${ownerRole}";
      GRANT USAGE ON SCHEMA "${schema}" TO "${dataRole}", "${authRole}", "${storageRole}";
    `);
    // Runtime tables are created as the owner role, so the owner owns everything in its schema.
    await m.query(`SET LOCAL ROLE "${ownerRole}"`);
    await this.hooks.run(m, { ref, schema, ownerRole, dataRole, authRole, storageRole });
    await m.query('SET LOCAL ROLE NONE');
  }

  /** Runs the teardown hooks, then drops the schema and its roles; safe to repeat. */
  async deprovision(m: EntityManager, ref: string): Promise<void> {
    const names = tenantNames(ref);
    const { schema, ownerRole, dataRole, authRole, storageRole } = names;
    await this.hooks.teardown(m, { ref, ...names });
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
