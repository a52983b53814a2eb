import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 4 (auth runtime): per-project ES256 signing keys (private part AES-256-GCM encrypted), per-project
 * auth settings, and the monthly-active-user ledger that feeds the `mau` meter. End-user data itself lives in
 * each project's schema (created by the auth runtime's provisioning hook).
 */
export class AuthRuntime1763900200000 implements MigrationInterface {
  name = 'AuthRuntime1763900200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE control.auth_signing_keys (
        kid text PRIMARY KEY,
        project_id uuid NOT NULL REFERENCES control.projects(id) ON DELETE CASCADE,
        status text NOT NULL CHECK (status IN ('active', 'previous', 'retired')),
        public_jwk jsonb NOT NULL,
        private_enc text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        rotated_at timestamptz
      );
      CREATE UNIQUE INDEX auth_signing_keys_active ON control.auth_signing_keys (project_id) WHERE status = 'active';
      CREATE INDEX auth_signing_keys_project ON control.auth_signing_keys (project_id) WHERE status <> 'retired';

      CREATE TABLE control.auth_configs (
        project_id uuid PRIMARY KEY REFERENCES control.projects(id) ON DELETE CASCADE,
        settings jsonb NOT NULL,
        smtp_password_enc text,
        updated_at timestamptz NOT NULL DEFAULT now()
      );

      CREATE TABLE control.auth_monthly_users (
        project_id uuid NOT NULL REFERENCES control.projects(id) ON DELETE CASCADE,
        month date NOT NULL,
        user_id uuid NOT NULL,
        PRIMARY KEY (project_id, month, user_id)
      );
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE control.auth_monthly_users, control.auth_configs, control.auth_signing_keys`);
  }
}
