import { MigrationInterface, QueryRunner } from 'typeorm';

/** The control schema: accounts, orgs, projects, API keys and the audit log. */
export class ControlSchema1763900000000 implements MigrationInterface {
  name = 'ControlSchema1763900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE control.users (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        email text NOT NULL,
        name text,
        password_hash text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE UNIQUE INDEX users_email_key ON control.users (lower(email));

      CREATE TABLE control.refresh_tokens (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL REFERENCES control.users(id) ON DELETE CASCADE,
        family_id uuid NOT NULL,
        token_hash text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        used_at timestamptz,
        revoked_at timestamptz
      );
      CREATE INDEX refresh_tokens_family_idx ON control.refresh_tokens (family_id);

      CREATE TABLE control.personal_access_tokens (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL REFERENCES control.users(id) ON DELETE CASCADE,
        name text NOT NULL,
        token_hash text NOT NULL UNIQUE,
        last4 text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz,
        last_used_at timestamptz,
        revoked_at timestamptz
      );
      CREATE INDEX personal_access_tokens_user_idx ON control.personal_access_tokens (user_id);

      CREATE TABLE control.orgs (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL,
        personal boolean NOT NULL DEFAULT false,
        created_by uuid REFERENCES control.users(id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );

      CREATE TABLE control.org_members (
        org_id uuid NOT NULL REFERENCES control.orgs(id) ON DELETE CASCADE,
        user_id uuid NOT NULL REFERENCES control.users(id) ON DELETE CASCADE,
        role text NOT NULL CHECK (role IN ('owner', 'admin', 'developer', 'billing', 'viewer')),
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (org_id, user_id)
      );
      CREATE INDEX org_members_user_idx ON control.org_members (user_id);

      CREATE TABLE control.org_invitations (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        org_id uuid NOT NULL REFERENCES control.orgs(id) ON DELETE CASCADE,
        email text NOT NULL,
        role text NOT NULL CHECK (role IN ('owner', 'admin', 'developer', 'billing', 'viewer')),
        invited_by uuid REFERENCES control.users(id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        accepted_at timestamptz,
        revoked_at timestamptz
      );
      CREATE UNIQUE INDEX org_invitations_pending_key ON control.org_invitations (org_id, lower(email))
        WHERE accepted_at IS NULL AND revoked_at IS NULL;

      CREATE TABLE control.projects (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        ref text NOT NULL UNIQUE,
        org_id uuid NOT NULL REFERENCES control.orgs(id),
        name text NOT NULL,
        status text NOT NULL CHECK (status IN ('active', 'deleted')),
        cluster text NOT NULL,
        schema_name text NOT NULL,
        owner_role text NOT NULL,
        data_role text NOT NULL,
        created_by uuid REFERENCES control.users(id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        deleted_at timestamptz
      );
      CREATE INDEX projects_org_idx ON control.projects (org_id) WHERE deleted_at IS NULL;

      CREATE TABLE control.api_keys (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        project_id uuid NOT NULL REFERENCES control.projects(id) ON DELETE CASCADE,
        type text NOT NULL CHECK (type IN ('publishable', 'secret', 'restricted')),
        name text NOT NULL,
        key_hash text NOT NULL UNIQUE,
        last4 text NOT NULL,
        scopes jsonb,
        allowed_origins text[],
        allowed_ips cidr[],
        allow_browser boolean NOT NULL DEFAULT false,
        expires_at timestamptz,
        revoked_at timestamptz,
        rotated_from uuid REFERENCES control.api_keys(id) ON DELETE SET NULL,
        created_by uuid REFERENCES control.users(id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz
      );
      CREATE INDEX api_keys_project_idx ON control.api_keys (project_id);

      CREATE TABLE control.audit_log (
        id bigserial PRIMARY KEY,
        org_id uuid,
        actor_id uuid,
        actor_type text NOT NULL,
        action text NOT NULL,
        target_type text,
        target_id text,
        ip text,
        user_agent text,
        request_id text,
        details jsonb,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX audit_log_org_idx ON control.audit_log (org_id, id DESC);
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DROP TABLE control.audit_log, control.api_keys, control.projects, control.org_invitations,
        control.org_members, control.orgs, control.personal_access_tokens, control.refresh_tokens, control.users;
    `);
  }
}
