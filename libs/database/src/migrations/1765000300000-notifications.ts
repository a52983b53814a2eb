import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The notifications runtime's tables. They live in the control schema (keyed by project) rather than in each
 * tenant schema so that a send, its idempotency record and the outbox job that delivers it commit in one
 * transaction, and a delivery's attempts are written with the outbox job of its next retry.
 *  - notification_messages: one row per accepted send (or event), with the caller's idempotency key;
 *  - notification_inbox: the in-app inbox, one row per message and end user; `seq` orders the live stream;
 *  - webhook_endpoints: the customer's endpoints, with their signing secrets sealed (and the previous one while
 *    a rotation's overlap lasts);
 *  - notification_deliveries / notification_attempts: the delivery log (one delivery per message, channel and
 *    endpoint; every attempt with its status, latency and response excerpt).
 */
export class Notifications1765000300000 implements MigrationInterface {
  name = 'Notifications1765000300000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE control.notification_messages (
        id uuid PRIMARY KEY,
        project_id uuid NOT NULL REFERENCES control.projects (id) ON DELETE CASCADE,
        idempotency_key text,
        event text NOT NULL,
        recipient jsonb NOT NULL,
        content jsonb NOT NULL,
        data jsonb NOT NULL DEFAULT '{}',
        channels text[] NOT NULL,
        created_at timestamptz NOT NULL
      );
      CREATE UNIQUE INDEX notification_messages_idempotency ON control.notification_messages (project_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
      CREATE INDEX notification_messages_project ON control.notification_messages (project_id, created_at);

      CREATE TABLE control.notification_inbox (
        seq bigserial PRIMARY KEY,
        id uuid NOT NULL UNIQUE,
        project_id uuid NOT NULL REFERENCES control.projects (id) ON DELETE CASCADE,
        user_id uuid NOT NULL,
        message_id uuid NOT NULL REFERENCES control.notification_messages (id) ON DELETE CASCADE,
        title text,
        body text,
        data jsonb NOT NULL DEFAULT '{}',
        read_at timestamptz,
        archived_at timestamptz,
        created_at timestamptz NOT NULL,
        UNIQUE (message_id, user_id)
      );
      CREATE INDEX notification_inbox_user ON control.notification_inbox (project_id, user_id, seq DESC);

      CREATE TABLE control.webhook_endpoints (
        id uuid PRIMARY KEY,
        project_id uuid NOT NULL REFERENCES control.projects (id) ON DELETE CASCADE,
        url text NOT NULL,
        events text[] NOT NULL,
        description text NOT NULL DEFAULT '',
        secret_sealed text NOT NULL,
        previous_secret_sealed text,
        previous_expires_at timestamptz,
        max_concurrency int NOT NULL DEFAULT 4,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      );
      CREATE INDEX webhook_endpoints_project ON control.webhook_endpoints (project_id);

      CREATE TABLE control.notification_deliveries (
        id uuid PRIMARY KEY,
        project_id uuid NOT NULL REFERENCES control.projects (id) ON DELETE CASCADE,
        message_id uuid NOT NULL REFERENCES control.notification_messages (id) ON DELETE CASCADE,
        channel text NOT NULL,
        endpoint_id uuid REFERENCES control.webhook_endpoints (id) ON DELETE SET NULL,
        target text NOT NULL,
        event text NOT NULL,
        status text NOT NULL,
        attempts int NOT NULL DEFAULT 0,
        next_attempt_at timestamptz,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        UNIQUE (message_id, channel, target)
      );
      CREATE INDEX notification_deliveries_project ON control.notification_deliveries (project_id, created_at DESC);

      CREATE TABLE control.notification_attempts (
        delivery_id uuid NOT NULL REFERENCES control.notification_deliveries (id) ON DELETE CASCADE,
        attempt int NOT NULL,
        status_code int,
        latency_ms int NOT NULL,
        error text,
        response_excerpt text,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (delivery_id, attempt)
      );
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DROP TABLE control.notification_attempts;
      DROP TABLE control.notification_deliveries;
      DROP TABLE control.webhook_endpoints;
      DROP TABLE control.notification_inbox;
      DROP TABLE control.notification_messages;
    `);
  }
}
