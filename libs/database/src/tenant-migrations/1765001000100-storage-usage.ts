import type { TenantMigration } from '../tenant-migrator';

/**
 * Issue 15, follow-up: every project with storage tables gets `_storage_usage`, its stored bytes in one row kept by
 * statement-level triggers on `_storage_objects` (see runtime-storage's storage-schema.ts, keep the two in step), so
 * that an upload's reservation no longer sums every object under the project's quota lock. The row starts at the
 * objects' total, summed while a SHARE ROW EXCLUSIVE lock keeps writers out until the triggers are in place (the
 * transaction's end), so no write is counted twice or missed. Unless all three triggers are there, what is missing is
 * made and the total recounted (a schema whose objects table was made again without them is mended too). Run as the
 * project's owner role; the storage role may read and update the row (the triggers run as the writer). Schemas
 * without storage tables are skipped; idempotent.
 */
export const StorageUsage1765001000100: TenantMigration = {
  name: 'StorageUsage1765001000100',
  asOwner: true,
  up: (s) => `
    DO $do$
    BEGIN
      IF to_regclass('"${s.schema}"._storage_objects') IS NULL OR (
        SELECT count(*) FROM pg_trigger WHERE tgrelid = to_regclass('"${s.schema}"._storage_objects')
           AND tgname IN ('storage_usage_insert', 'storage_usage_update', 'storage_usage_delete')) = 3 THEN
        RETURN;
      END IF;
      LOCK TABLE "${s.schema}"._storage_objects IN SHARE ROW EXCLUSIVE MODE;
      CREATE TABLE IF NOT EXISTS "${s.schema}"._storage_usage (
        one boolean PRIMARY KEY DEFAULT true CHECK (one),
        bytes bigint NOT NULL DEFAULT 0
      );
      CREATE OR REPLACE FUNCTION "${s.schema}"._storage_usage_count() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
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
          UPDATE "${s.schema}"._storage_usage SET bytes = bytes + d;
        END IF;
        RETURN NULL;
      END $fn$;
      DROP TRIGGER IF EXISTS storage_usage_insert ON "${s.schema}"._storage_objects;
      DROP TRIGGER IF EXISTS storage_usage_update ON "${s.schema}"._storage_objects;
      DROP TRIGGER IF EXISTS storage_usage_delete ON "${s.schema}"._storage_objects;
      CREATE TRIGGER storage_usage_insert AFTER INSERT ON "${s.schema}"._storage_objects REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "${s.schema}"._storage_usage_count();
      CREATE TRIGGER storage_usage_update AFTER UPDATE ON "${s.schema}"._storage_objects REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "${s.schema}"._storage_usage_count();
      CREATE TRIGGER storage_usage_delete AFTER DELETE ON "${s.schema}"._storage_objects REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION "${s.schema}"._storage_usage_count();
      INSERT INTO "${s.schema}"._storage_usage (bytes) SELECT coalesce(sum(size), 0) FROM "${s.schema}"._storage_objects
        ON CONFLICT (one) DO UPDATE SET bytes = EXCLUDED.bytes;
      GRANT SELECT, UPDATE ON "${s.schema}"._storage_usage TO "${s.storageRole}";
    END $do$`,
};
