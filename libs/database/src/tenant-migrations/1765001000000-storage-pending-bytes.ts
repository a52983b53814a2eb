import type { TenantMigration } from '../tenant-migrator';

/**
 * Issue 15, follow-up: every project with storage tables gets `_storage_pending` (byte keys that may be orphans, and
 * the bytes reserved against the stored-bytes quota by uploads in flight; see runtime-storage's storage-schema.ts,
 * keep the two in step), and resumable uploads may defer their length (`_storage_uploads.length` nullable). Run as
 * the project's owner role, granted (rows only) to its storage role. Schemas without storage tables are skipped;
 * idempotent. A tenant migration, so it reaches projects on every cluster.
 */
export const StoragePendingBytes1765001000000: TenantMigration = {
  name: 'StoragePendingBytes1765001000000',
  asOwner: true,
  up: (s) => `
    DO $do$
    BEGIN
      IF to_regclass('"${s.schema}"._storage_uploads') IS NULL THEN
        RETURN;
      END IF;
      ALTER TABLE "${s.schema}"._storage_uploads ALTER COLUMN length DROP NOT NULL;
      IF to_regclass('"${s.schema}"._storage_pending') IS NULL THEN
        CREATE TABLE "${s.schema}"._storage_pending (
          key text PRIMARY KEY,
          prefix boolean NOT NULL DEFAULT false,
          reserved bigint NOT NULL DEFAULT 0,
          claimed boolean NOT NULL DEFAULT false,
          sweep_after timestamptz NOT NULL,
          created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX ON "${s.schema}"._storage_pending (sweep_after);
        GRANT SELECT, INSERT, UPDATE, DELETE ON "${s.schema}"._storage_pending TO "${s.storageRole}";
      END IF;
    END $do$`,
};
