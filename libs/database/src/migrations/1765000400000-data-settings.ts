import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 19, PostgREST parity: per-project data settings (how a transaction ends, as PostgREST's `db-tx-end`, and
 * whether `select` may aggregate, as `db-aggregates-enabled`), one row per project that changed them (absent row:
 * the defaults, commit without override and aggregates on). Also lets every project's data role use the sequences of
 * its declared identity columns, which `Prefer: missing=default` advances once per row as PostgREST does (tables
 * declared from now on get the grant with their DDL). Only tables the data role may already insert into are touched,
 * so system tables' sequences stay out of reach. Idempotent.
 */
export class DataSettings1765000400000 implements MigrationInterface {
  name = 'DataSettings1765000400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE control.data_settings (
        project_id uuid PRIMARY KEY REFERENCES control.projects(id) ON DELETE CASCADE,
        tx_end text NOT NULL DEFAULT 'commit' CHECK (tx_end IN ('commit', 'commit-allow-override', 'rollback', 'rollback-allow-override')),
        aggregates boolean NOT NULL DEFAULT true,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
    `);
    await q.query(`
      DO $$
      DECLARE
        s record;
      BEGIN
        FOR s IN
          SELECT n.nspname AS schema, seq.relname AS seq, n.nspname || '_data' AS data_role
            FROM control.projects pr
            JOIN pg_namespace n ON n.nspname = 't_' || pr.ref
            JOIN pg_class seq ON seq.relnamespace = n.oid AND seq.relkind = 'S'
            JOIN pg_depend d ON d.objid = seq.oid AND d.classid = 'pg_class'::regclass AND d.deptype = 'i'
            JOIN pg_class tbl ON tbl.oid = d.refobjid
           WHERE pr.ref ~ '^[a-z][a-z0-9]{11}$'
             AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = n.nspname || '_data')
             AND has_table_privilege(n.nspname || '_data', tbl.oid, 'INSERT')
        LOOP
          EXECUTE format('GRANT USAGE ON SEQUENCE %I.%I TO %I', s.schema, s.seq, s.data_role);
        END LOOP;
      END $$;
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE control.data_settings');
  }
}
