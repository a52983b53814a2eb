import type { TenantNames, TenantSql } from '@plinth/tenancy';

/**
 * The storage runtime's tables in a project's schema: buckets (with their rules), objects' metadata (the bytes live
 * in the backend under `key`, never under the user's path), spent signed-upload tokens and resumable (TUS)
 * uploads in progress. The leading underscore
 * keeps them apart from declared tables; no grant goes to the data role, so the data runtime can't reach them.
 * Created by the provisioning hook as the schema's owner and granted (rows only) to the project's storage role.
 * The migration 1765000100000 and the tenant migrations 1765001000000 and 1765001000100 create the same tables in projects provisioned before: keep them in step.
 */
export function storageTables(schema: string) {
  const q = (t: string) => `"${schema}"."${t}"`;
  return {
    buckets: q('_storage_buckets'),
    objects: q('_storage_objects'),
    uploadTokens: q('_storage_upload_tokens'),
    uploads: q('_storage_uploads'),
    pending: q('_storage_pending'),
    usage: q('_storage_usage'),
  };
}
export type StorageTables = ReturnType<typeof storageTables>;

/**
 * Byte keys that may have no object row pointing at them, or whose object row is gone: every key is recorded here
 * before its bytes are written (an upload's new key, a copy's, a cached rendering's, a resumable upload's parts as
 * their `prefix`) or in the same statement that stops an object pointing at it (replaced, deleted). A commit claims
 * its key's row in the committing statement; whoever deletes bytes removes the row after them. What a crash left
 * behind is still here: the orphan sweeper reads only the rows due (`sweep_after`), never the whole backend.
 * `reserved`: bytes held against the project's stored-bytes quota while an upload is in flight. `claimed`: the
 * sweeper took the row (a commit can no longer claim it). The tenant migration 1765001000000 adds it to older projects.
 */
const PENDING_DDL = (table: string) => `
    CREATE TABLE ${table} (
      key text PRIMARY KEY,
      prefix boolean NOT NULL DEFAULT false,
      reserved bigint NOT NULL DEFAULT 0,
      claimed boolean NOT NULL DEFAULT false,
      sweep_after timestamptz NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX ON ${table} (sweep_after);`;

/**
 * The project's stored bytes (every object's size), kept in one row so that a reservation reads it instead of
 * summing every object under the project's quota lock. Statement-level triggers on the objects table add the sizes
 * a statement inserted and subtract those it removed (an update: new minus old; a statement that changes no size
 * leaves the row alone, so renames and touches don't lock it). Transition tables need one trigger per event. The
 * function runs as the caller (the storage role, granted SELECT and UPDATE on the row). The tenant migration
 * 1765001000100 adds it to older projects with the total so far: keep the two in step.
 */
export const USAGE_DDL = (schema: string, role: string) => {
  const usage = `"${schema}"._storage_usage`;
  const objects = `"${schema}"._storage_objects`;
  const fn = `"${schema}"._storage_usage_count`;
  return `
    CREATE TABLE ${usage} (
      one boolean PRIMARY KEY DEFAULT true CHECK (one),
      bytes bigint NOT NULL DEFAULT 0
    );
    CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
    DECLARE d bigint;
    BEGIN
      IF TG_OP = 'INSERT' THEN
        SELECT coalesce(sum(size), 0) INTO d FROM new_rows;
      ELSIF TG_OP = 'DELETE' THEN
        SELECT -coalesce(sum(size), 0) INTO d FROM old_rows;
      ELSE
        SELECT coalesce((SELECT sum(size) FROM new_rows), 0) - coalesce((SELECT sum(size) FROM old_rows), 0) INTO d;
      END IF;
      IF d <> 0 THEN
        UPDATE ${usage} SET bytes = bytes + d;
      END IF;
      RETURN NULL;
    END $fn$;
    CREATE TRIGGER storage_usage_insert AFTER INSERT ON ${objects} REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ${fn}();
    CREATE TRIGGER storage_usage_update AFTER UPDATE ON ${objects} REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ${fn}();
    CREATE TRIGGER storage_usage_delete AFTER DELETE ON ${objects} REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ${fn}();
    GRANT SELECT, UPDATE ON ${usage} TO "${role}";`;
};

/** The DDL, as one string for `schema` and `role` (both validated names). */
export function storageDdl(schema: string, role: string): string {
  const t = storageTables(schema);
  return `
    CREATE TABLE ${t.buckets} (
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
    CREATE TABLE ${t.objects} (
      id uuid PRIMARY KEY,
      bucket_id text NOT NULL REFERENCES ${t.buckets} ON UPDATE CASCADE,
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
    CREATE INDEX ON ${t.objects} (key);
    CREATE TABLE ${t.uploadTokens} (
      id uuid PRIMARY KEY,
      expires_at timestamptz NOT NULL
    );
    CREATE TABLE ${t.uploads} (
      id uuid PRIMARY KEY,
      bucket_id text NOT NULL,
      name text NOT NULL,
      owner_id text,
      creator text NOT NULL,
      upsert boolean NOT NULL,
      length bigint,
      "offset" bigint NOT NULL DEFAULT 0,
      parts text[] NOT NULL DEFAULT '{}',
      content_type text NOT NULL,
      cache_control text,
      user_metadata jsonb,
      expires_at timestamptz NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    ${PENDING_DDL(t.pending)}
    GRANT SELECT, INSERT, UPDATE, DELETE ON ${[t.buckets, t.objects, t.uploadTokens, t.uploads, t.pending].join(', ')} TO "${role}";
    ${USAGE_DDL(schema, role)}
    INSERT INTO ${t.usage} DEFAULT VALUES;
  `;
}

/** Provisioning hook: the tables, as the schema's owner, granted to the storage role. */
export async function createStorageTables(m: TenantSql, names: TenantNames): Promise<void> {
  await m.query(storageDdl(names.schema, names.storageRole));
}
