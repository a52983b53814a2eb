import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';

export type Channel = 'inapp' | 'webhook' | 'email' | 'push';
export type DeliveryStatus = 'pending' | 'retrying' | 'succeeded' | 'dead';

export interface MessageRow {
  id: string;
  project_id: string;
  idempotency_key: string | null;
  event: string;
  recipient: { user_id?: string; email?: string; topic?: string };
  /** What the send gave, or what its template rendered (`template` names it; `email`/`webhook` are its other parts). */
  content: { title?: string; body?: string; template?: string; email?: { subject: string; text: string; html: string | null }; webhook?: { payload: Record<string, unknown> }; digest?: { window_seconds: number; key: string } };
  data: Record<string, unknown>;
  channels: Channel[];
  created_at: Date;
}

export interface InboxRow {
  seq: string;
  id: string;
  user_id: string;
  message_id: string;
  title: string | null;
  body: string | null;
  data: Record<string, unknown>;
  read_at: Date | null;
  archived_at: Date | null;
  created_at: Date;
}

export interface EndpointRow {
  id: string;
  project_id: string;
  url: string;
  events: string[];
  description: string;
  secret_sealed: string;
  previous_secret_sealed: string | null;
  previous_expires_at: Date | null;
  max_concurrency: number;
  created_at: Date;
  updated_at: Date;
}

export interface DeliveryRow {
  id: string;
  project_id: string;
  message_id: string;
  channel: Channel;
  endpoint_id: string | null;
  target: string;
  event: string;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface AttemptRow {
  attempt: number;
  status_code: number | null;
  latency_ms: number;
  error: string | null;
  response_excerpt: string | null;
  created_at: Date;
}

export interface NewAttempt {
  attempt: number;
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
  excerpt: string | null;
  at: Date;
}

const INBOX = 'seq::text AS seq, id, user_id, message_id, title, body, data, read_at, archived_at, created_at';

/** The notifications runtime's control tables (messages, inbox, webhook endpoints, deliveries and attempts). */
@Injectable()
export class NotificationsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  // ── messages ──

  /** Inserts a message; null when the project already holds a message under this idempotency key. */
  async insertMessage(m: EntityManager, r: MessageRow): Promise<boolean> {
    const rows = (await m.query(
      `INSERT INTO control.notification_messages (id, project_id, idempotency_key, event, recipient, content, data, channels, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (project_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING RETURNING id`,
      [r.id, r.project_id, r.idempotency_key, r.event, JSON.stringify(r.recipient), JSON.stringify(r.content), JSON.stringify(r.data), r.channels, r.created_at],
    )) as unknown[];
    return rows.length === 1;
  }

  /** The message holding `key`, locked for the rest of the transaction. */
  async lockByIdempotencyKey(m: EntityManager, projectId: string, key: string): Promise<MessageRow | null> {
    const rows = (await m.query(`SELECT * FROM control.notification_messages WHERE project_id = $1 AND idempotency_key = $2 FOR UPDATE`, [projectId, key])) as MessageRow[];
    return rows[0] ?? null;
  }

  async messageByIdempotencyKey(projectId: string, key: string): Promise<MessageRow | null> {
    const rows = (await this.db.query(`SELECT * FROM control.notification_messages WHERE project_id = $1 AND idempotency_key = $2`, [projectId, key])) as MessageRow[];
    return rows[0] ?? null;
  }

  /** Frees an expired idempotency key (the message stays, without it). */
  async releaseIdempotencyKey(m: EntityManager, id: string): Promise<void> {
    await m.query(`UPDATE control.notification_messages SET idempotency_key = NULL WHERE id = $1`, [id]);
  }

  async message(id: string): Promise<MessageRow | null> {
    const rows = (await this.db.query(`SELECT * FROM control.notification_messages WHERE id = $1`, [id])) as MessageRow[];
    return rows[0] ?? null;
  }

  // ── inbox ──

  /**
   * A message's entry for one user, in one round trip (the send's hot path): the user's cursor lock, their
   * preferences (no entry when they opted out of `inapp`, or of `topic`), the entry (one per message and user: a
   * re-run adds nothing), its delivery-log row, and the announcement `notice` (a `pg_notify` channel and payload,
   * delivered on commit). True when the entry was added. The cursor lock (held to commit) is taken before the entry
   * draws its `seq`, so one user's entries commit in `seq` order and a stream that has read up to a cursor never meets
   * an older entry committing after it.
   */
  async addInboxEntry(
    m: EntityManager,
    r: { id: string; deliveryId: string; projectId: string; userId: string; messageId: string; event: string; title: string | null; body: string | null; data: unknown; at: Date; topic: string | null },
    notice: [channel: string, payload: string],
  ): Promise<boolean> {
    const rows = (await m.query(
      `WITH cursor_lock AS (SELECT pg_advisory_xact_lock(hashtextextended($9, 0))),
       allowed AS (
         SELECT 1 FROM cursor_lock WHERE NOT EXISTS (
           SELECT 1 FROM control.notification_preferences p WHERE p.project_id = $2 AND p.user_id = $3
              AND (p.channels->>'inapp' = 'false' OR ($10::text IS NOT NULL AND p.topics->>$10::text = 'false')))
       ),
       entry AS (
         INSERT INTO control.notification_inbox (id, project_id, user_id, message_id, title, body, data, created_at)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8 FROM allowed
         ON CONFLICT (message_id, user_id) DO NOTHING RETURNING seq
       ),
       delivery AS (
         INSERT INTO control.notification_deliveries (id, project_id, message_id, channel, endpoint_id, target, event, status, created_at, updated_at)
         SELECT $11, $2, $4, 'inapp', NULL, $3::text, $12, 'succeeded', $8, $8 FROM entry
         ON CONFLICT (message_id, channel, target) DO NOTHING
       )
       SELECT pg_notify($13, $14) FROM entry`,
      [r.id, r.projectId, r.userId, r.messageId, r.title, r.body, JSON.stringify(r.data ?? {}), r.at, `notification_inbox:${r.projectId}:${r.userId}`, r.topic, r.deliveryId, r.event, notice[0], notice[1]],
    )) as unknown[];
    return rows.length === 1;
  }

  /** A user's entries, newest first, before `beforeSeq` when given. */
  async listInbox(projectId: string, userId: string, q: { unread: boolean; archived: boolean; limit: number; beforeSeq: string | null }): Promise<InboxRow[]> {
    return (await this.db.query(
      `SELECT ${INBOX} FROM control.notification_inbox
        WHERE project_id = $1 AND user_id = $2 AND ($3::bigint IS NULL OR seq < $3)
          AND (NOT $4 OR read_at IS NULL) AND ($5 OR archived_at IS NULL)
        ORDER BY seq DESC LIMIT $6`,
      [projectId, userId, q.beforeSeq, q.unread, q.archived, q.limit],
    )) as InboxRow[];
  }

  /** A user's entries after `afterSeq`, oldest first (what a stream missed, or what a notification announced). */
  async inboxAfter(projectId: string, userId: string, afterSeq: string, limit: number): Promise<InboxRow[]> {
    return (await this.db.query(
      `SELECT ${INBOX} FROM control.notification_inbox WHERE project_id = $1 AND user_id = $2 AND seq > $3 ORDER BY seq LIMIT $4`,
      [projectId, userId, afterSeq, limit],
    )) as InboxRow[];
  }

  async latestSeq(projectId: string, userId: string): Promise<string> {
    const rows = (await this.db.query(`SELECT coalesce(max(seq), 0)::text AS seq FROM control.notification_inbox WHERE project_id = $1 AND user_id = $2`, [projectId, userId])) as Array<{ seq: string }>;
    return rows[0].seq;
  }

  async unreadCount(projectId: string, userId: string): Promise<number> {
    const rows = (await this.db.query(
      `SELECT count(*)::int AS n FROM control.notification_inbox WHERE project_id = $1 AND user_id = $2 AND read_at IS NULL AND archived_at IS NULL`,
      [projectId, userId],
    )) as Array<{ n: number }>;
    return rows[0].n;
  }

  /** Sets or clears read/archived on one of the user's entries; null when the user has no such entry. */
  async updateInbox(projectId: string, userId: string, id: string, patch: { read?: boolean; archived?: boolean }, at: Date): Promise<InboxRow | null> {
    const rows = (await this.db.query(
      `UPDATE control.notification_inbox
          SET read_at = CASE WHEN $4::boolean IS NULL THEN read_at WHEN $4 THEN coalesce(read_at, $6) ELSE NULL END,
              archived_at = CASE WHEN $5::boolean IS NULL THEN archived_at WHEN $5 THEN coalesce(archived_at, $6) ELSE NULL END
        WHERE project_id = $1 AND user_id = $2 AND id = $3
        RETURNING ${INBOX}`,
      [projectId, userId, id, patch.read ?? null, patch.archived ?? null, at],
    )) as [InboxRow[], number];
    return rows[0][0] ?? null;
  }

  async readAll(projectId: string, userId: string, at: Date): Promise<number> {
    const [, count] = (await this.db.query(
      `UPDATE control.notification_inbox SET read_at = $3 WHERE project_id = $1 AND user_id = $2 AND read_at IS NULL`,
      [projectId, userId, at],
    )) as [unknown, number];
    return count;
  }

  // ── webhook endpoints ──

  async insertEndpoint(m: EntityManager, r: Omit<EndpointRow, 'previous_secret_sealed' | 'previous_expires_at'>): Promise<void> {
    await m.query(
      `INSERT INTO control.webhook_endpoints (id, project_id, url, events, description, secret_sealed, max_concurrency, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [r.id, r.project_id, r.url, r.events, r.description, r.secret_sealed, r.max_concurrency, r.created_at, r.updated_at],
    );
  }

  async endpoints(projectId: string): Promise<EndpointRow[]> {
    return (await this.db.query(`SELECT * FROM control.webhook_endpoints WHERE project_id = $1 ORDER BY created_at`, [projectId])) as EndpointRow[];
  }

  async endpoint(projectId: string, id: string): Promise<EndpointRow | null> {
    const rows = (await this.db.query(`SELECT * FROM control.webhook_endpoints WHERE project_id = $1 AND id = $2`, [projectId, id])) as EndpointRow[];
    return rows[0] ?? null;
  }

  async endpointById(id: string): Promise<EndpointRow | null> {
    const rows = (await this.db.query(`SELECT * FROM control.webhook_endpoints WHERE id = $1`, [id])) as EndpointRow[];
    return rows[0] ?? null;
  }

  /** Endpoints of a project subscribed to `event` (by name or `*`). */
  async endpointsFor(m: EntityManager, projectId: string, event: string): Promise<EndpointRow[]> {
    return (await m.query(`SELECT * FROM control.webhook_endpoints WHERE project_id = $1 AND ($2 = ANY(events) OR '*' = ANY(events)) ORDER BY created_at`, [
      projectId,
      event,
    ])) as EndpointRow[];
  }

  async updateEndpoint(m: EntityManager, projectId: string, id: string, patch: { url?: string; events?: string[]; description?: string; maxConcurrency?: number }, at: Date): Promise<boolean> {
    const [, count] = (await m.query(
      `UPDATE control.webhook_endpoints SET url = coalesce($3, url), events = coalesce($4, events), description = coalesce($5, description),
              max_concurrency = coalesce($7, max_concurrency), updated_at = $6
        WHERE project_id = $1 AND id = $2`,
      [projectId, id, patch.url ?? null, patch.events ?? null, patch.description ?? null, at, patch.maxConcurrency ?? null],
    )) as [unknown, number];
    return count === 1;
  }

  /** A new secret; the current one stays valid (signing too) until `previousUntil`. */
  async rotateSecret(m: EntityManager, projectId: string, id: string, sealed: string, previousUntil: Date, at: Date): Promise<boolean> {
    const [, count] = (await m.query(
      `UPDATE control.webhook_endpoints SET previous_secret_sealed = secret_sealed, previous_expires_at = $4, secret_sealed = $3, updated_at = $5
        WHERE project_id = $1 AND id = $2`,
      [projectId, id, sealed, previousUntil, at],
    )) as [unknown, number];
    return count === 1;
  }

  async deleteEndpoint(m: EntityManager, projectId: string, id: string): Promise<boolean> {
    const [, count] = (await m.query(`DELETE FROM control.webhook_endpoints WHERE project_id = $1 AND id = $2`, [projectId, id])) as [unknown, number];
    return count === 1;
  }

  // ── deliveries ──

  /** One delivery per (message, channel, target): a re-run of the fan-out adds nothing. Returns it when added. */
  async insertDelivery(m: EntityManager, r: Omit<DeliveryRow, 'attempts' | 'next_attempt_at'>): Promise<boolean> {
    const rows = (await m.query(
      `INSERT INTO control.notification_deliveries (id, project_id, message_id, channel, endpoint_id, target, event, status, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (message_id, channel, target) DO NOTHING RETURNING id`,
      [r.id, r.project_id, r.message_id, r.channel, r.endpoint_id, r.target, r.event, r.status, r.created_at, r.updated_at],
    )) as unknown[];
    return rows.length === 1;
  }

  async delivery(id: string): Promise<DeliveryRow | null> {
    const rows = (await this.db.query(`SELECT * FROM control.notification_deliveries WHERE id = $1`, [id])) as DeliveryRow[];
    return rows[0] ?? null;
  }

  async lockDelivery(m: EntityManager, id: string): Promise<DeliveryRow | null> {
    const rows = (await m.query(`SELECT * FROM control.notification_deliveries WHERE id = $1 FOR UPDATE`, [id])) as DeliveryRow[];
    return rows[0] ?? null;
  }

  /** Records an attempt once (a re-run of the same attempt's job records nothing): true when recorded. */
  async insertAttempt(m: EntityManager, deliveryId: string, a: NewAttempt): Promise<boolean> {
    const rows = (await m.query(
      `INSERT INTO control.notification_attempts (delivery_id, attempt, status_code, latency_ms, error, response_excerpt, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING attempt`,
      [deliveryId, a.attempt, a.statusCode, a.latencyMs, a.error, a.excerpt, a.at],
    )) as unknown[];
    return rows.length === 1;
  }

  async setDeliveryState(m: EntityManager, id: string, s: { status: DeliveryStatus; attempts: number; nextAttemptAt: Date | null; at: Date }): Promise<void> {
    await m.query(`UPDATE control.notification_deliveries SET status = $2, attempts = $3, next_attempt_at = $4, updated_at = $5 WHERE id = $1`, [
      id,
      s.status,
      s.attempts,
      s.nextAttemptAt,
      s.at,
    ]);
  }

  async listDeliveries(projectId: string, q: { status?: string; channel?: string; since?: Date; limit: number }): Promise<DeliveryRow[]> {
    return (await this.db.query(
      `SELECT * FROM control.notification_deliveries
        WHERE project_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR channel = $3) AND ($4::timestamptz IS NULL OR created_at >= $4)
        ORDER BY created_at DESC, id LIMIT $5`,
      [projectId, q.status ?? null, q.channel ?? null, q.since ?? null, q.limit],
    )) as DeliveryRow[];
  }

  async attempts(deliveryIds: string[]): Promise<Array<AttemptRow & { delivery_id: string }>> {
    if (deliveryIds.length === 0) return [];
    return (await this.db.query(
      `SELECT delivery_id, attempt, status_code, latency_ms, error, response_excerpt, created_at FROM control.notification_attempts
        WHERE delivery_id = ANY($1::uuid[]) ORDER BY delivery_id, attempt`,
      [deliveryIds],
    )) as Array<AttemptRow & { delivery_id: string }>;
  }
}
