import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 18: the auth tables' new columns (runtime-auth's auth-schema-additions.ts, which new projects get at
 * provisioning) in every existing project: `_auth_users.invited_at`, `_auth_refresh_tokens.revoked_at`,
 * `_auth_sessions.refresh_token_sealed`. Altered as the schema's owner role (which owns the tables); the auth
 * role's table-level grants already cover new columns. Projects whose schema or auth tables don't exist yet are
 * skipped (the auth runtime's backfill creates the tables with the columns). Idempotent.
 */
export class AuthSessionRecovery1765000600000 implements MigrationInterface {
  name = 'AuthSessionRecovery1765000600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      DO $$
      DECLARE
        p record;
      BEGIN
        FOR p IN
          SELECT n.nspname AS schema FROM control.projects pr JOIN pg_namespace n ON n.nspname = 't_' || pr.ref
           WHERE pr.ref ~ '^[a-z][a-z0-9]{11}$'
             AND to_regclass(format('%I.%I', n.nspname, '_auth_users')) IS NOT NULL
             AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = n.nspname || '_owner')
        LOOP
          EXECUTE format('SET LOCAL ROLE %I', p.schema || '_owner');
          EXECUTE format('ALTER TABLE %I._auth_users ADD COLUMN IF NOT EXISTS invited_at timestamptz', p.schema);
          EXECUTE format('ALTER TABLE %I._auth_refresh_tokens ADD COLUMN IF NOT EXISTS revoked_at timestamptz', p.schema);
          EXECUTE format('ALTER TABLE %I._auth_sessions ADD COLUMN IF NOT EXISTS refresh_token_sealed text', p.schema);
          RESET ROLE;
        END LOOP;
      END $$;
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DO $$
      DECLARE
        p record;
      BEGIN
        FOR p IN
          SELECT n.nspname AS schema FROM control.projects pr JOIN pg_namespace n ON n.nspname = 't_' || pr.ref
           WHERE to_regclass(format('%I.%I', n.nspname, '_auth_users')) IS NOT NULL
        LOOP
          EXECUTE format('ALTER TABLE %I._auth_users DROP COLUMN IF EXISTS invited_at', p.schema);
          EXECUTE format('ALTER TABLE %I._auth_refresh_tokens DROP COLUMN IF EXISTS revoked_at', p.schema);
          EXECUTE format('ALTER TABLE %I._auth_sessions DROP COLUMN IF EXISTS refresh_token_sealed', p.schema);
        END LOOP;
      END $$;
    `);
  }
}
