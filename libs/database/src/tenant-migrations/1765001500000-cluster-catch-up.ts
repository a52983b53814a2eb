import type { TenantMigration } from '../tenant-migrator';

/**
 * The per-schema effects of the control migrations that looped over `control.projects` in the control database
 * (so reached the default cluster only), re-expressed per schema for every other cluster. Same statements as the
 * frozen migrations named in `coveredOnDefaultBy` (they are frozen too, so the copies can't drift), made
 * idempotent; on the default cluster these are only recorded.
 */

const AUTH_TABLES = `'_auth_users', '_auth_identities', '_auth_sessions', '_auth_refresh_tokens', '_auth_codes'`;

/** 1764000700000: the project's auth role, switchable into by the tenant login role, with row access to the auth tables. */
export const TenantAuthRole1765001500000: TenantMigration = {
  name: 'TenantAuthRole1765001500000',
  asOwner: false,
  coveredOnDefaultBy: 'TenantAuthRole1764000700000',
  up: (s) => `
    DO $$
    DECLARE tbl text;
    BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${s.authRole}') THEN
        CREATE ROLE "${s.authRole}" NOLOGIN NOINHERIT;
      END IF;
      GRANT "${s.authRole}" TO plinth_tenant;
      GRANT USAGE ON SCHEMA "${s.schema}" TO "${s.authRole}";
      FOR tbl IN
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = '${s.schema}' AND c.relkind = 'r' AND c.relname IN (${AUTH_TABLES})
      LOOP
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I.%I TO %I', '${s.schema}', tbl, '${s.authRole}');
      END LOOP;
    END $$`,
};

/** 1765000100000's DDL (runtime-storage's storage-schema.ts as it was then), `%1$I` the schema, `%2$I` the storage role. */
const STORAGE_DDL = `
  CREATE TABLE %1$I._storage_buckets (
    id text PRIMARY KEY,
    name text NOT NULL,
    public boolean NOT NULL DEFAULT false,
    file_size_limit bigint,
    allowed_mime_types text[],
    owner_id text,
    rules jsonb NOT NULL DEFAULT '[]',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
  );
  CREATE TABLE %1$I._storage_objects (
    id uuid PRIMARY KEY,
    bucket_id text NOT NULL REFERENCES %1$I._storage_buckets ON UPDATE CASCADE,
    name text NOT NULL COLLATE "C",
    owner_id text,
    key text NOT NULL,
    version uuid NOT NULL,
    size bigint NOT NULL,
    mime_type text NOT NULL,
    etag text NOT NULL,
    cache_control text NOT NULL,
    user_metadata jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    last_accessed_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (bucket_id, name)
  );
  CREATE INDEX ON %1$I._storage_objects (key);
  CREATE TABLE %1$I._storage_upload_tokens (
    id uuid PRIMARY KEY,
    expires_at timestamptz NOT NULL
  );
  CREATE TABLE %1$I._storage_uploads (
    id uuid PRIMARY KEY,
    bucket_id text NOT NULL,
    name text NOT NULL,
    owner_id text,
    creator text NOT NULL,
    upsert boolean NOT NULL,
    length bigint NOT NULL,
    "offset" bigint NOT NULL DEFAULT 0,
    parts text[] NOT NULL DEFAULT '{}',
    content_type text NOT NULL,
    cache_control text,
    user_metadata jsonb,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
  );
  GRANT SELECT, INSERT, UPDATE, DELETE ON %1$I._storage_buckets, %1$I._storage_objects, %1$I._storage_upload_tokens, %1$I._storage_uploads TO %2$I;
`;

/** 1765000100000: the project's storage role, and the storage tables (owned by the owner role) when missing. */
export const StorageRuntime1765001500100: TenantMigration = {
  name: 'StorageRuntime1765001500100',
  asOwner: false,
  coveredOnDefaultBy: 'StorageRuntime1765000100000',
  up: (s) => `
    DO $do$
    BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${s.storageRole}') THEN
        CREATE ROLE "${s.storageRole}" NOLOGIN NOINHERIT;
      END IF;
      GRANT "${s.storageRole}" TO plinth_tenant;
      GRANT USAGE ON SCHEMA "${s.schema}" TO "${s.storageRole}";
      IF to_regclass('"${s.schema}"._storage_buckets') IS NULL THEN
        SET LOCAL ROLE "${s.ownerRole}";
        EXECUTE format($ddl$${STORAGE_DDL}$ddl$, '${s.schema}', '${s.storageRole}');
        RESET ROLE;
      END IF;
    END $do$`,
};

/** 1765000400000: the data role may use the identity sequences of the tables it may insert into. */
export const DataSequenceGrants1765001500200: TenantMigration = {
  name: 'DataSequenceGrants1765001500200',
  asOwner: false,
  coveredOnDefaultBy: 'DataSettings1765000400000',
  up: (s) => `
    DO $$
    DECLARE q record;
    BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${s.dataRole}') THEN RETURN; END IF;
      FOR q IN
        SELECT seq.relname AS seq
          FROM pg_class seq
          JOIN pg_namespace n ON n.oid = seq.relnamespace
          JOIN pg_depend d ON d.objid = seq.oid AND d.classid = 'pg_class'::regclass AND d.deptype = 'i'
          JOIN pg_class tbl ON tbl.oid = d.refobjid
         WHERE n.nspname = '${s.schema}' AND seq.relkind = 'S' AND has_table_privilege('${s.dataRole}', tbl.oid, 'INSERT')
      LOOP
        EXECUTE format('GRANT USAGE ON SEQUENCE %I.%I TO %I', '${s.schema}', q.seq, '${s.dataRole}');
      END LOOP;
    END $$`,
};

/** 1765000500000: PKCE flow and MFA tables, in a schema that has the auth tables, granted to the auth role only. */
export const AuthFlowsMfa1765001500300: TenantMigration = {
  name: 'AuthFlowsMfa1765001500300',
  asOwner: true,
  coveredOnDefaultBy: 'AuthFlowsMfa1765000500000',
  up: (s) => `
    DO $do$
    BEGIN
      IF to_regclass('"${s.schema}"._auth_users') IS NULL THEN RETURN; END IF;
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
      $f$, '${s.schema}', '${s.authRole}');
    END $do$`,
};

/** 1765000600000: the auth tables' columns added by issue 18. */
export const AuthSessionRecovery1765001500400: TenantMigration = {
  name: 'AuthSessionRecovery1765001500400',
  asOwner: true,
  coveredOnDefaultBy: 'AuthSessionRecovery1765000600000',
  up: (s) => `
    ALTER TABLE IF EXISTS "${s.schema}"._auth_users ADD COLUMN IF NOT EXISTS invited_at timestamptz;
    ALTER TABLE IF EXISTS "${s.schema}"._auth_refresh_tokens ADD COLUMN IF NOT EXISTS revoked_at timestamptz;
    ALTER TABLE IF EXISTS "${s.schema}"._auth_sessions ADD COLUMN IF NOT EXISTS refresh_token_sealed text`,
};
