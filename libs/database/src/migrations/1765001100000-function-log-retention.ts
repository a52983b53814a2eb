import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Function logs are kept per plan: `function_log_retention_hours` in each plan's limits (free a day, pro a week,
 * enterprise 30 days). A plan without it falls back to FUNCTION_LOG_RETENTION_HOURS.
 */
export class FunctionLogRetention1765001100000 implements MigrationInterface {
  name = 'FunctionLogRetention1765001100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      UPDATE control.plans SET limits = limits || v.l
        FROM (VALUES ('free', '{"function_log_retention_hours": 24}'::jsonb),
                     ('pro', '{"function_log_retention_hours": 168}'::jsonb),
                     ('enterprise', '{"function_log_retention_hours": 720}'::jsonb)) AS v(id, l)
       WHERE plans.id = v.id;
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE control.plans SET limits = limits - 'function_log_retention_hours'`);
  }
}
