import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * End users' notification preferences (per channel and per topic opt-outs) and their topic subscriptions. In the
 * control schema beside the messages, so the fan-out reads them in the transaction that writes inbox entries and
 * deliveries; always keyed by (project, user).
 */
export class NotificationPreferences1765000900100 implements MigrationInterface {
  name = 'NotificationPreferences1765000900100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE control.notification_preferences (
        project_id uuid NOT NULL REFERENCES control.projects (id) ON DELETE CASCADE,
        user_id uuid NOT NULL,
        channels jsonb NOT NULL DEFAULT '{}',
        topics jsonb NOT NULL DEFAULT '{}',
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (project_id, user_id)
      );
      CREATE TABLE control.notification_topic_subscriptions (
        project_id uuid NOT NULL REFERENCES control.projects (id) ON DELETE CASCADE,
        topic text NOT NULL,
        user_id uuid NOT NULL,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (project_id, topic, user_id)
      );
      CREATE INDEX notification_topic_subscriptions_user ON control.notification_topic_subscriptions (project_id, user_id);
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE control.notification_topic_subscriptions; DROP TABLE control.notification_preferences`);
  }
}
