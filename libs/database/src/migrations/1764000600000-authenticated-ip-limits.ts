import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A per-IP rate rule for signed-in end users (`rate_limits.authenticated_ip`), so holding several sessions from one
 * address doesn't multiply what that address may send. Seeded plans get five times their anonymous per-IP rule (an
 * office or a school behind one NAT has many signed-in users); plans without the field get the same by default.
 */
export class AuthenticatedIpLimits1764000600000 implements MigrationInterface {
  name = 'AuthenticatedIpLimits1764000600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      UPDATE control.plans
         SET rate_limits = rate_limits || jsonb_build_object('authenticated_ip', jsonb_build_object('limit', v.lim, 'window_s', 1))
        FROM (VALUES ('free', 100), ('pro', 500), ('enterprise', 5000)) AS v(id, lim)
       WHERE plans.id = v.id AND NOT rate_limits ? 'authenticated_ip';
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE control.plans SET rate_limits = rate_limits - 'authenticated_ip' WHERE id IN ('free', 'pro', 'enterprise')`);
  }
}
