import type { TenantNames, TenantSql } from '@plinth/tenancy';

/**
 * The auth runtime's tables for PKCE flows and multi-factor authentication, in a project's schema beside the
 * ones of auth-schema.ts (same rules: owned by the schema's owner, row access for the project's auth role only,
 * nothing for the data role). Kept apart so projects created before them get them idempotently (the migration,
 * or the repository's backfill), without touching the first tables.
 */
export function authFlowTables(schema: string) {
  const q = (t: string) => `"${schema}"."${t}"`;
  return {
    flowStates: q('_auth_flow_states'),
    factors: q('_auth_mfa_factors'),
    challenges: q('_auth_mfa_challenges'),
  };
}
export type AuthFlowTables = ReturnType<typeof authFlowTables>;

/** DDL for the tables above; every statement is idempotent. `users` is the users table they reference. */
export function authFlowDdl(schema: string, authRole: string): string {
  const t = authFlowTables(schema);
  const users = `"${schema}"."_auth_users"`;
  return `
    CREATE TABLE IF NOT EXISTS ${t.flowStates} (
      id uuid PRIMARY KEY,
      user_id uuid REFERENCES ${users} ON DELETE CASCADE,
      -- the emailed code this flow waits for (null for an OAuth flow, which waits for the provider's callback)
      code_id uuid UNIQUE,
      auth_method text NOT NULL,
      provider text NOT NULL DEFAULT 'email',
      -- S256 challenge of the app's verifier; null for an implicit OAuth flow
      code_challenge text,
      -- keyed hash of the auth code handed to the app, once issued
      auth_code_hash text UNIQUE,
      data jsonb NOT NULL DEFAULT '{}',
      expires_at timestamptz NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX IF NOT EXISTS _auth_flow_states_expires ON ${t.flowStates} (expires_at);
    CREATE TABLE IF NOT EXISTS ${t.factors} (
      id uuid PRIMARY KEY,
      user_id uuid NOT NULL REFERENCES ${users} ON DELETE CASCADE,
      friendly_name text NOT NULL DEFAULT '',
      factor_type text NOT NULL,
      status text NOT NULL,
      secret_enc text NOT NULL,
      -- the last TOTP time step accepted: a code of that step or an earlier one is a replay
      last_used_step bigint NOT NULL DEFAULT 0,
      last_challenged_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX IF NOT EXISTS _auth_mfa_factors_user ON ${t.factors} (user_id);
    CREATE TABLE IF NOT EXISTS ${t.challenges} (
      id uuid PRIMARY KEY,
      factor_id uuid NOT NULL REFERENCES ${t.factors} ON DELETE CASCADE,
      ip text,
      attempts int NOT NULL DEFAULT 0,
      created_at timestamptz NOT NULL,
      expires_at timestamptz NOT NULL,
      verified_at timestamptz
    );
    CREATE INDEX IF NOT EXISTS _auth_mfa_challenges_factor ON ${t.challenges} (factor_id);
    GRANT SELECT, INSERT, UPDATE, DELETE ON ${Object.values(t).join(', ')} TO "${authRole}";
  `;
}

/** Creates the flow and MFA tables (as the schema's owner, in the caller's transaction). */
export async function createAuthFlowTables(m: TenantSql, names: TenantNames): Promise<void> {
  await m.query(authFlowDdl(names.schema, names.authRole));
}
