import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 3: the data runtime's declared catalog. One row per table a customer declared through the management API:
 * its definition (columns, types, keys, references, indexes) and its CASL rules. The tenant schema holds the real
 * table; this row is what SQL generation, validation and the OpenAPI document read.
 */
export class DataRuntime1763900300000 implements MigrationInterface {
  name = 'DataRuntime1763900300000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE control.data_tables (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        project_id uuid NOT NULL REFERENCES control.projects(id) ON DELETE CASCADE,
        name text NOT NULL,
        definition jsonb NOT NULL,
        rules jsonb NOT NULL DEFAULT '[]',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (project_id, name)
      );
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE control.data_tables');
  }
}
