import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Plinth's own emails. A usage alert records when its email went out apart from when the whole alert (email and
 * webhook) was delivered, so a failing webhook's retries don't resend the email. Delinquency notices are recorded
 * once per (org, delinquency episode, state), like usage alerts, and marked when their email went out.
 */
export class PlatformMail1763900550000 implements MigrationInterface {
  name = 'PlatformMail1763900550000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE control.usage_alerts ADD COLUMN emailed_at timestamptz;

      CREATE TABLE control.billing_notices (
        org_id uuid NOT NULL REFERENCES control.orgs(id) ON DELETE CASCADE,
        -- The episode: billing_accounts.delinquent_since when the notice was recorded.
        delinquent_since timestamptz NOT NULL,
        state text NOT NULL CHECK (state IN ('grace', 'read_only', 'suspended')),
        created_at timestamptz NOT NULL,
        notified_at timestamptz,
        PRIMARY KEY (org_id, delinquent_since, state)
      );
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DROP TABLE control.billing_notices;
      ALTER TABLE control.usage_alerts DROP COLUMN emailed_at;
    `);
  }
}
