import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 15, follow-up: every project with storage tables gets `_storage_pending` (byte keys that may be orphans, and
 * the bytes reserved against the stored-bytes quota by uploads in flight; see runtime-storage's storage-schema.ts,
 * keep the two in step), and resumable uploads may defer their length (`_storage_uploads.length` nullable). Run as
 * the project's owner role, granted (rows only) to its storage role. Projects without storage tables are skipped;
 * idempotent.
 */
export class StoragePendingBytes1765001000000 implements MigrationInterface {
  name = 'StoragePendingBytes1765001000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      DO $do$
      DECLARE
        p record;
      BEGIN
        FOR p IN
          SELECT n.nspname AS schema FROM control.projects pr JOIN pg_namespace n ON n.nspname = 't_' || pr.ref
           WHERE pr.ref ~ '^[a-z][a-z0-9]{11}$'
        LOOP
          CONTINUE WHEN to_regclass(format('%I._storage_uploads', p.schema)) IS NULL;
          EXECUTE format('SET LOCAL ROLE %I', p.schema || '_owner');
          EXECUTE format('ALTER TABLE %I._storage_uploads ALTER COLUMN length DROP NOT NULL', p.schema);
          IF to_regclass(format('%I._storage_pending', p.schema)) IS NULL THEN
            EXECUTE format($ddl$
              CREATE TABLE %1$I._storage_pending (
                key text PRIMARY KEY,
                prefix boolean NOT NULL DEFAULT false,
                reserved bigint NOT NULL DEFAULT 0,
                claimed boolean NOT NULL DEFAULT false,
                sweep_after timestamptz NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now()
              );
              CREATE INDEX ON %1$I._storage_pending (sweep_after);
              GRANT SELECT, INSERT, UPDATE, DELETE ON %1$I._storage_pending TO %2$I;
            $ddl$, p.schema, p.schema || '_storage');
          END IF;
          RESET ROLE;
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
          EXECUTE format('DROP TABLE IF EXISTS %I._storage_pending', pr.schema);
        END LOOP;
      END $do$;
    `);
  }
}
