import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Web push: each project's VAPID key pair (the private key sealed, bound to its project) and its end users' push
 * subscriptions (one row per push-service endpoint; removed when the push service answers 404 or 410).
 */
export class NotificationPush1765000900200 implements MigrationInterface {
  name = 'NotificationPush1765000900200';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE control.notification_vapid_keys (
        project_id uuid PRIMARY KEY REFERENCES control.projects (id) ON DELETE CASCADE,
        public_key text NOT NULL,
        private_sealed text NOT NULL,
        created_at timestamptz NOT NULL
      );
      CREATE TABLE control.notification_push_subscriptions (
        id uuid PRIMARY KEY,
        project_id uuid NOT NULL REFERENCES control.projects (id) ON DELETE CASCADE,
        user_id uuid NOT NULL,
        endpoint text NOT NULL,
        p256dh text NOT NULL,
        auth text NOT NULL,
        created_at timestamptz NOT NULL,
        UNIQUE (project_id, endpoint)
      );
      CREATE INDEX notification_push_subscriptions_user ON control.notification_push_subscriptions (project_id, user_id);
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE control.notification_push_subscriptions; DROP TABLE control.notification_vapid_keys`);
  }
}
