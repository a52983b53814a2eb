import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Notification templates: per project, named, with one part per channel (email subject/text/html, in-app
 * title/body, webhook payload) rendered with the send's data. Kept in the control schema beside the messages they
 * render, so a send reads its template and commits its message in one transaction.
 */
export class NotificationTemplates1765000900000 implements MigrationInterface {
  name = 'NotificationTemplates1765000900000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE control.notification_templates (
        id uuid PRIMARY KEY,
        project_id uuid NOT NULL REFERENCES control.projects (id) ON DELETE CASCADE,
        name text NOT NULL,
        description text NOT NULL DEFAULT '',
        email jsonb,
        inapp jsonb,
        webhook jsonb,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        UNIQUE (project_id, name)
      );
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE control.notification_templates`);
  }
}
