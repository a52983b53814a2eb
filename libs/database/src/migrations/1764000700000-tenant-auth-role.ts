import { MigrationInterface, QueryRunner } from 'typeorm';

/** The auth runtime's tables in every project's schema (see runtime-auth's auth-schema.ts). */
const AUTH_TABLES = `'_auth_users', '_auth_identities', '_auth_sessions', '_auth_refresh_tokens', '_auth_codes'`;

/**
 * Issue 14, the auth runtime on the tenant pool: every existing project gets its NOLOGIN auth role `t_<ref>_auth`
 * (as provisioning now creates it), which the tenant login role may switch into, with USAGE on the project's schema
 * and row access to the project's auth tables only. Projects whose schema is gone (deleted, or never provisioned)
 * are skipped; a schema still without auth tables gets them, and their grant, from the auth runtime's backfill.
 * Idempotent: roles that exist are kept, grants repeated. The tenant login role is created (without LOGIN) if this
 * runs before the first boot made it; boot gives it LOGIN and its password.
 */
export class TenantAuthRole1764000700000 implements MigrationInterface {
  name = 'TenantAuthRole1764000700000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      DO $$
      DECLARE
        p record;
        auth_role text;
        tbl text;
      BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'plinth_tenant') THEN
          CREATE ROLE plinth_tenant NOLOGIN NOINHERIT;
        END IF;
        FOR p IN
          SELECT n.nspname AS schema FROM control.projects pr JOIN pg_namespace n ON n.nspname = 't_' || pr.ref
           WHERE pr.ref ~ '^[a-z][a-z0-9]{11}$'
        LOOP
          auth_role := p.schema || '_auth';
          IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = auth_role) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN NOINHERIT', auth_role);
          END IF;
          EXECUTE format('GRANT %I TO plinth_tenant', auth_role);
          EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', p.schema, auth_role);
          FOR tbl IN
            SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = p.schema AND c.relkind = 'r' AND c.relname IN (${AUTH_TABLES})
          LOOP
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I.%I TO %I', p.schema, tbl, auth_role);
          END LOOP;
        END LOOP;
      END $$;
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DO $$
      DECLARE
        r text;
      BEGIN
        FOR r IN SELECT 't_' || ref || '_auth' FROM control.projects LOOP
          IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('DROP OWNED BY %I', r);
            EXECUTE format('DROP ROLE %I', r);
          END IF;
        END LOOP;
      END $$;
    `);
  }
}
