import type { TenantNames, TenantSql } from '@plinth/tenancy';
import { createAuthFlowTables } from './auth-flow-schema';
import { authColumnAdditions } from './auth-schema-additions';

/**
 * The auth runtime's tables in a project's schema. The leading underscore keeps them apart from tables customers
 * declare; no grant goes to the data role, so the data runtime can't reach them. Created by the provisioning
 * hook as the schema's owner, in one round trip, and granted to the project's auth role (row access only: it
 * can't alter, truncate or own anything), which the auth runtime works as on the tenant pool.
 */
export function authTables(schema: string) {
  const q = (t: string) => `"${schema}"."${t}"`;
  return {
    users: q('_auth_users'),
    identities: q('_auth_identities'),
    sessions: q('_auth_sessions'),
    refreshTokens: q('_auth_refresh_tokens'),
    codes: q('_auth_codes'),
  };
}
export type AuthTables = ReturnType<typeof authTables>;

export async function createAuthTables(m: TenantSql, names: TenantNames): Promise<void> {
  const t = authTables(names.schema);
  await m.query(`
    CREATE TABLE ${t.users} (
      id uuid PRIMARY KEY,
      email text,
      encrypted_password text,
      email_confirmed_at timestamptz,
      confirmation_sent_at timestamptz,
      new_email text,
      is_anonymous boolean NOT NULL DEFAULT false,
      banned_until timestamptz,
      user_metadata jsonb NOT NULL DEFAULT '{}',
      app_metadata jsonb NOT NULL DEFAULT '{}',
      last_sign_in_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX ON ${t.users} (email);
    CREATE TABLE ${t.identities} (
      id uuid PRIMARY KEY,
      user_id uuid NOT NULL REFERENCES ${t.users} ON DELETE CASCADE,
      provider text NOT NULL,
      provider_id text NOT NULL,
      identity_data jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (provider, provider_id)
    );
    CREATE INDEX ON ${t.identities} (user_id);
    CREATE TABLE ${t.sessions} (
      id uuid PRIMARY KEY,
      user_id uuid NOT NULL REFERENCES ${t.users} ON DELETE CASCADE,
      amr jsonb NOT NULL,
      user_agent text,
      ip text,
      created_at timestamptz NOT NULL DEFAULT now(),
      refreshed_at timestamptz
    );
    CREATE INDEX ON ${t.sessions} (user_id);
    CREATE TABLE ${t.refreshTokens} (
      token_hash text PRIMARY KEY,
      session_id uuid NOT NULL REFERENCES ${t.sessions} ON DELETE CASCADE,
      revoked boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX ON ${t.refreshTokens} (session_id);
    CREATE TABLE ${t.codes} (
      id uuid PRIMARY KEY,
      kind text NOT NULL,
      email text NOT NULL,
      user_id uuid REFERENCES ${t.users} ON DELETE CASCADE,
      code_hash text NOT NULL,
      link_hash text NOT NULL UNIQUE,
      attempts int NOT NULL DEFAULT 0,
      expires_at timestamptz NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX ON ${t.codes} (email, kind);
    ${authColumnAdditions(names.schema)}
    GRANT SELECT, INSERT, UPDATE, DELETE ON ${Object.values(t).join(', ')} TO "${names.authRole}";
  `);
  await createAuthFlowTables(m, names);
}
