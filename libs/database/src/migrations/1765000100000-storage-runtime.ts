import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The storage runtime's tables as runtime-storage's storage-schema.ts defines them (keep the two in step), with
 * `%1$I` for the schema and `%2$I` for the storage role.
 */
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

/**
 * Issue 15, the storage runtime: every existing project gets its NOLOGIN storage role `t_<ref>_storage` (as
 * provisioning now creates it), which the tenant login role may switch into, with USAGE on the project's schema, and
 * the storage tables owned by the project's owner role and granted (rows only) to that role alone — never to the
 * data role. Projects whose schema is gone are skipped. Idempotent: roles that exist are kept, tables that exist
 * are left alone.
 */
export class StorageRuntime1765000100000 implements MigrationInterface {
  name = 'StorageRuntime1765000100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      DO $do$
      DECLARE
        p record;
        storage_role text;
        owner_role text;
      BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'plinth_tenant') THEN
          CREATE ROLE plinth_tenant NOLOGIN NOINHERIT;
        END IF;
        FOR p IN
          SELECT n.nspname AS schema FROM control.projects pr JOIN pg_namespace n ON n.nspname = 't_' || pr.ref
           WHERE pr.ref ~ '^[a-z][a-z0-9]{11}$'
        LOOP
          storage_role := p.schema || '_storage';
          owner_role := p.schema || '_owner';
          IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = storage_role) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN NOINHERIT', storage_role);
          END IF;
          EXECUTE format('GRANT %I TO plinth_tenant', storage_role);
          EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', p.schema, storage_role);
          IF to_regclass(format('%I._storage_buckets', p.schema)) IS NULL THEN
            EXECUTE format('SET LOCAL ROLE %I', owner_role);
            EXECUTE format(${"$ddl$"}${STORAGE_DDL}${"$ddl$"}, p.schema, storage_role);
            RESET ROLE;
          END IF;
        END LOOP;
      END $do$;
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DO $do$
      DECLARE
        pr record;
      BEGIN
        FOR pr IN SELECT 't_' || ref AS schema FROM control.projects LOOP
          EXECUTE format('DROP TABLE IF EXISTS %1$I._storage_objects, %1$I._storage_buckets, %1$I._storage_upload_tokens, %1$I._storage_uploads', pr.schema);
          IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = pr.schema || '_storage') THEN
            EXECUTE format('DROP OWNED BY %I', pr.schema || '_storage');
            EXECUTE format('DROP ROLE %I', pr.schema || '_storage');
          END IF;
        END LOOP;
      END $do$;
    `);
  }
}
