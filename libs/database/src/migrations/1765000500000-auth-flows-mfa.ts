import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 20, PKCE flows and multi-factor authentication: every existing project whose schema has the auth tables
 * gets `_auth_flow_states`, `_auth_mfa_factors` and `_auth_mfa_challenges` (the same DDL as runtime-auth's
 * auth-flow-schema.ts, which new projects run at provisioning), owned by the project's owner role and granted
 * to its auth role only. Idempotent (IF NOT EXISTS); a schema missed here gets them from the auth runtime's
 * backfill on first use.
 */
export class AuthFlowsMfa1765000500000 implements MigrationInterface {
  name = 'AuthFlowsMfa1765000500000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      DO $$
      DECLARE
        p record;
        s text;
      BEGIN
        FOR p IN
          SELECT n.nspname AS schema FROM control.projects pr JOIN pg_namespace n ON n.nspname = 't_' || pr.ref
           WHERE pr.ref ~ '^[a-z][a-z0-9]{11}$' AND to_regclass(format('%I._auth_users', 't_' || pr.ref)) IS NOT NULL
        LOOP
          s := p.schema;
          EXECUTE format('SET LOCAL ROLE %I', s || '_owner');
          EXECUTE format($f$
            CREATE TABLE IF NOT EXISTS %1$I._auth_flow_states (
              id uuid PRIMARY KEY,
              user_id uuid REFERENCES %1$I._auth_users ON DELETE CASCADE,
              code_id uuid UNIQUE,
              auth_method text NOT NULL,
              provider text NOT NULL DEFAULT 'email',
              code_challenge text,
              auth_code_hash text UNIQUE,
              data jsonb NOT NULL DEFAULT '{}',
              expires_at timestamptz NOT NULL,
              created_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX IF NOT EXISTS _auth_flow_states_expires ON %1$I._auth_flow_states (expires_at);
            CREATE TABLE IF NOT EXISTS %1$I._auth_mfa_factors (
              id uuid PRIMARY KEY,
              user_id uuid NOT NULL REFERENCES %1$I._auth_users ON DELETE CASCADE,
              friendly_name text NOT NULL DEFAULT '',
              factor_type text NOT NULL,
              status text NOT NULL,
              secret_enc text NOT NULL,
              last_used_step bigint NOT NULL DEFAULT 0,
              last_challenged_at timestamptz,
              created_at timestamptz NOT NULL DEFAULT now(),
              updated_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX IF NOT EXISTS _auth_mfa_factors_user ON %1$I._auth_mfa_factors (user_id);
            CREATE TABLE IF NOT EXISTS %1$I._auth_mfa_challenges (
              id uuid PRIMARY KEY,
              factor_id uuid NOT NULL REFERENCES %1$I._auth_mfa_factors ON DELETE CASCADE,
              ip text,
              attempts int NOT NULL DEFAULT 0,
              created_at timestamptz NOT NULL,
              expires_at timestamptz NOT NULL,
              verified_at timestamptz
            );
            CREATE INDEX IF NOT EXISTS _auth_mfa_challenges_factor ON %1$I._auth_mfa_challenges (factor_id);
            GRANT SELECT, INSERT, UPDATE, DELETE ON %1$I._auth_flow_states, %1$I._auth_mfa_factors, %1$I._auth_mfa_challenges TO %2$I;
          $f$, s, s || '_auth');
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
        FOR p IN SELECT n.nspname AS schema FROM control.projects pr JOIN pg_namespace n ON n.nspname = 't_' || pr.ref LOOP
          EXECUTE format('DROP TABLE IF EXISTS %1$I._auth_mfa_challenges, %1$I._auth_mfa_factors, %1$I._auth_flow_states', p.schema);
        END LOOP;
      END $$;
    `);
  }
}
