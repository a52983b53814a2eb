import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Notification templates gain a digest (sends to one subscriber within a window become one email) and triggers
 * (data and auth events that send the template to a user named by the row). Open digests and the sends they
 * hold live beside the messages; one open digest per (project, template, key, address) is enforced by a partial
 * unique index, so concurrent fan-outs join the same one. Plans name a send rate (per project, per minute).
 */
export class NotificationDigestsTriggers1765001200000 implements MigrationInterface {
  name = 'NotificationDigestsTriggers1765001200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE control.notification_templates ADD COLUMN digest jsonb, ADD COLUMN triggers jsonb NOT NULL DEFAULT '[]';
      CREATE TABLE control.notification_digests (
        id uuid PRIMARY KEY,
        project_id uuid NOT NULL REFERENCES control.projects (id) ON DELETE CASCADE,
        template text NOT NULL,
        digest_key text NOT NULL,
        target text NOT NULL,
        user_id uuid,
        topic text,
        status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
        message_id uuid,
        created_at timestamptz NOT NULL,
        closes_at timestamptz NOT NULL
      );
      CREATE UNIQUE INDEX notification_digests_open ON control.notification_digests (project_id, template, digest_key, target) WHERE status = 'open';
      CREATE TABLE control.notification_digest_items (
        digest_id uuid NOT NULL REFERENCES control.notification_digests (id) ON DELETE CASCADE,
        message_id uuid NOT NULL,
        data jsonb NOT NULL,
        title text,
        body text,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (digest_id, message_id)
      );
      UPDATE control.plans SET limits = limits || jsonb_build_object('notification_sends_per_minute',
        CASE id WHEN 'free' THEN 300 WHEN 'pro' THEN 3000 ELSE 30000 END)
       WHERE NOT limits ? 'notification_sends_per_minute';
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      UPDATE control.plans SET limits = limits - 'notification_sends_per_minute';
      DROP TABLE control.notification_digest_items;
      DROP TABLE control.notification_digests;
      ALTER TABLE control.notification_templates DROP COLUMN digest, DROP COLUMN triggers;
    `);
  }
}
